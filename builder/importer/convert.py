"""A torch.export program -> an Architecture, collecting every part that cannot be mapped.

Ops run inside a torch.nn building block (Conv2d, LSTM, TransformerEncoderLayer ...) are
grouped by the module call that ran them (torch.export's nn_module_stack) and become one
node of that module's type, named after the module so its weights can be copied. Ops in
the user's own forward() become nodes through functions.HANDLERS.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.export import ExportedProgram
from torch.export.graph_signature import InputKind
from torch.fx.node import map_arg

from ..codegen import CHAIN_NAMES, RESERVED
from ..errors import BuilderError
from ..graph import ID_PATTERN, Architecture
from ..layers import REGISTRY
from .functions import Alias, Mapped, is_tensor, map_function, shape_of
from .modules import is_torch_leaf, layer_type_of, module_params
from .positional import positional_node
from .problems import Problem, Unsupported
from .reparameterize import reparameterize_node
from .source_lines import assigned_name, describe, user_frame

RECURRENT = ("RNN", "LSTM", "GRU")


@dataclass
class Pending:
    """A node about to be added: type, params, input node ids and where its weights come from."""

    id: str
    type: str
    params: dict[str, Any]
    inputs: list[tuple[str, str | None]]  # (node id, output port or None)
    where: str
    module_path: str | None = None  # the original submodule whose state it takes
    param_target: str | None = None  # or the original parameter / buffer (PositionalEmbedding)
    fx_nodes: list = field(default_factory=list)


@dataclass
class Conversion:
    """The imported graph and, per node, the original weights it stands for."""

    arch: Architecture
    sources: dict[str, str]  # node id -> original module path or parameter name


def sanitise(name: str) -> str:
    """A module path as a node id: "layer1.0.conv1" -> "layer1_0_conv1"."""
    ident = re.sub(r"\W", "_", name).strip("_") or "node"
    if ident[0].isdigit():
        ident = "n" + ident
    return ident[:60]


class Converter:
    """One pass over the exported graph; problems are collected, not raised one by one."""

    def __init__(self, program: ExportedProgram, model: nn.Module, source: Path | None):
        self.program = program
        self.model = model
        self.source = source
        self.kinds = {
            spec.arg.name: (spec.kind, spec.target)
            for spec in program.graph_signature.input_specs
            if hasattr(spec.arg, "name")
        }
        self.env: dict[Any, str] = {}  # fx node -> id of the node whose output it is
        self.nodes: dict[str, Pending] = {}
        self.problems: list[Problem] = []
        self.taken: set[str] = set()
        self.constant: set[Any] = set()  # fx nodes computed without any input
        self.skip: set[Any] = set()  # ops already folded into a module's node
        self.swapped: dict[Any, Any] = {}  # x.transpose(0, 1) -> x (recurrent states)
        self.ties: list[tuple[str, str]] = []  # module paths sharing one weight
        self.failed: set[Any] = set()  # ops that could not be mapped (their readers stay quiet)

    # ---- the pass -----------------------------------------------------------------------

    def convert(self, name: str) -> Conversion:
        graph = self.program.graph_module.graph
        items = self._items(graph)
        self._reserve_module_ids(items)
        last_on_line = self._last_node_per_line(items)
        for node in graph.nodes:
            if node.op == "placeholder":
                self._placeholder(node)
        for key, nodes in items:
            if key is None and nodes[0] in self.skip:
                continue
            try:
                if key is None:
                    self._function(nodes[0], nodes[0] in last_on_line)
                else:
                    self._module_call(key, nodes)
            except _Downstream:
                self.failed.update(nodes)
            except Unsupported as exc:
                self.failed.update(nodes)
                where = describe(nodes[0], self.source)
                if key is not None:
                    module = type(self.model.get_submodule(key[1])).__name__
                    where = f"{key[1]} (nn.{module}) at {where}"
                self.problems.append(Problem(where, str(exc), exc.hint))
        outputs = self._outputs(graph)
        if self.problems:
            return Conversion(Architecture(name), {})
        return self._build(name, outputs)

    def _items(self, graph) -> list[tuple[Any, list]]:
        """call_function nodes grouped: (module call key, its nodes) or (None, [one node])."""
        items: list[tuple[Any, list]] = []
        index: dict[Any, int] = {}
        for node in graph.nodes:
            if node.op != "call_function":
                continue
            key = self._leaf_call(node)
            if key is None:
                items.append((None, [node]))
            elif key in index:
                items[index[key]][1].append(node)
            else:
                index[key] = len(items)
                items.append((key, [node]))
        return items

    def _leaf_call(self, node) -> tuple[str, str] | None:
        """(call key, module path) of the outermost torch.nn block the op ran in, if any."""
        for key, (path, _) in (node.meta.get("nn_module_stack") or {}).items():
            if not path:
                continue
            try:
                module = self.model.get_submodule(path)
            except AttributeError:
                continue
            if is_torch_leaf(module):
                return key, path
        return None

    def _reserve_module_ids(self, items) -> None:
        for key, _ in items:
            if key is not None:
                self.taken.add(self._module_id(*key))

    def _module_id(self, key: str, path: str) -> str:
        call = int(key.rsplit("@", 1)[1]) if "@" in key else 0
        base = sanitise(path)
        return base if call == 0 else f"{base}_{call + 1}"

    def _last_node_per_line(self, items) -> set:
        """The last op of each source line: the one whose value the line's name holds."""
        last = {}
        for key, nodes in items:
            if key is None:
                frame = user_frame(nodes[0], self.source)
                last[frame or nodes[0]] = nodes[0]
        return set(last.values())

    # ---- node kinds ---------------------------------------------------------------------

    def _placeholder(self, node) -> None:
        kind, _ = self.kinds.get(node.name, (None, None))
        if kind != InputKind.USER_INPUT:
            return
        value = node.meta.get("val")
        dtype = {torch.float32: "float32", torch.int64: "int64"}.get(getattr(value, "dtype", None))
        if dtype is None:
            self.problems.append(
                Problem(
                    node.name,
                    f"input dtype {getattr(value, 'dtype', None)} is not float32 or int64",
                )
            )
            return
        node_id = self._fresh(sanitise(node.name))
        params = {"shape": list(value.shape[1:])}
        if dtype == "int64":
            params["dtype"] = "int64"
        self._add(Pending(node_id, "Input", params, [], node.name), [node])

    def _function(self, node, names_line: bool) -> None:
        values = [a for a in _flat_args(node) if hasattr(a, "op")]
        if all(v in self.constant or self._is_weight(v) for v in values):
            self.constant.add(node)  # e.g. a slice of a position table: its user decides
            return
        if node.target is _getitem():
            self.env[node] = self._part(node)
            return
        if _swaps_batch(node):
            self.swapped[node] = node.args[0]  # only a recurrent state may do this
            return
        sampled = reparameterize_node(node) if "Reparameterize" in REGISTRY else None
        if sampled is not None:
            mapped, covered = sampled
            self.skip.update(covered)
            node, names_line = covered[-1], True  # z's own line names the node
        else:
            mapped = positional_node(self, node) or map_function(node)
        if isinstance(mapped, Alias) and mapped.source in self.swapped:
            self.swapped[node] = self.swapped[mapped.source]
            return
        if isinstance(mapped, Alias):
            self.env[node] = self._value(mapped.source, node)
            return
        mapped = self._merge_chain(node, mapped)
        if mapped is None:
            return
        frame = user_frame(node, self.source)
        name = assigned_name(frame[1]) if frame and names_line else None
        prefix = mapped.extra.get("id") or REGISTRY[mapped.type].id_prefix or mapped.type.lower()
        node_id = self._pick_id(name, prefix, explicit="id" in mapped.extra)
        inputs = [self._value(a, node) for a in mapped.inputs]
        pending = Pending(node_id, mapped.type, mapped.params, inputs, describe(node, self.source))
        pending.param_target = mapped.extra.get("param_target")
        self._add(pending, [node])

    def _merge_chain(self, node, mapped: Mapped) -> Mapped | None:
        """`a + b + c` is one Add of three inputs (what codegen writes for it), not two."""
        if mapped.type not in ("Add", "Multiply"):
            return mapped
        first = mapped.inputs[0]
        inner_id, port = self.env.get(first, (None, None))
        inner = self.nodes.get(inner_id) if port is None else None
        if (
            inner is not None
            and inner.type == mapped.type
            and len(first.users) == 1
            and inner.fx_nodes[-1] is first
            and user_frame(first, self.source) == user_frame(node, self.source)
        ):
            inner.inputs.append(self._value(mapped.inputs[1], node))
            inner.fx_nodes.append(node)
            self.env[node] = (inner.id, None)
            return None
        return mapped

    def _module_call(self, key: tuple[str, str], nodes: list) -> None:
        call_key, path = key
        module = self.model.get_submodule(path)
        type_name = layer_type_of(module)
        where = f"{path} (nn.{type(module).__name__})"
        if type_name is None:
            raise Unsupported(
                f"LayerCraft has no {type(module).__name__} layer type yet",
                _close_types(type(module).__name__),
            )
        node_id = self._module_id(call_key, path)
        if node_id != sanitise(path) and any(True for _ in module.parameters()):
            raise Unsupported(
                f"module {path!r} is called more than once, sharing its weights",
                "Give each call its own module (shared weights are not supported yet).",
            )
        members = set(nodes)
        params = module_params(type_name, module)
        # self-attention reads one value three times: one input
        inputs = list(dict.fromkeys(self._external_inputs(nodes, members, path)))
        inputs = self._take_mask(inputs, type_name, params, nodes)
        outputs = [n for n in nodes if _used_outside(n, members)]
        ports: dict = {}
        if type_name == "LSTMCell":
            outputs, ports = _cell_outputs(outputs)
        if type_name in RECURRENT:
            outputs, ports = self._recurrent_outputs(outputs, params)
            values = [self._value(inputs[0], nodes[0]), *map(self._state_value, inputs[1:])]
        else:
            values = [self._value(v, nodes[0]) for v in inputs]
        spec = REGISTRY[type_name]
        if not spec.min_inputs <= len(values) <= (spec.max_inputs or len(values)):
            raise Unsupported(
                f"takes {len(values)} tensor inputs (a mask, a state or a second sequence?)",
                f"LayerCraft's {type_name} takes {spec.min_inputs} to {spec.max_inputs}.",
            )
        if len(outputs) != 1:
            raise Unsupported(
                f"{len(outputs)} of its outputs are used (e.g. attention weights)",
                "Only its main output can be used.",
            )
        pending = Pending(node_id, type_name, params, values, where)
        pending.module_path = path
        self._add(pending, nodes)
        self.env[outputs[0]] = (node_id, None)
        for fx_node, port in ports.items():
            self.env[fx_node] = (node_id, port)
            self.skip.add(fx_node)

    def _take_mask(self, inputs: list, type_name: str, params: dict, nodes: list) -> list:
        """A constant tensor fed to an attention layer is its mask: the layer's causal option.

        Whether it really is the causal mask is proven by the output comparison at the end.
        (Given is_causal=True, torch may drop the mask and ask attention to be causal itself.)
        """
        masks = [v for v in inputs if v in self.constant]
        spec = REGISTRY[type_name]
        option = next((p for p in ("is_causal", "tgt_is_causal") if spec.param(p)), None)
        if option is not None and any(_causal_attention(n) for n in nodes):
            params[option] = True
        if not masks:
            return inputs
        if option is None or len(masks) > 1:
            raise Unsupported(
                "takes a tensor computed without the input (a mask or a constant)",
                "Only a causal mask on attention layers is supported.",
            )
        params[option] = True
        return [v for v in inputs if v not in masks]

    def _state_value(self, value) -> tuple[str, str | None]:
        """An initial state passed as h.transpose(0, 1): the batch-first h it came from."""
        if value not in self.swapped:
            raise Unsupported(
                "gets an initial state in torch's (layers, N, hidden) layout",
                "Keep states batch-first and pass h.transpose(0, 1).contiguous().",
            )
        return self._value(self.swapped[value], value)

    def _recurrent_outputs(self, outputs, params):
        """outputs[0] flows on (x[:, -1] right after it folds into return="last"); a final
        state is read through its port once transposed back to batch-first."""
        indexed = {n.args[1]: n for n in outputs if n.target is _getitem()}
        if len(indexed) != len(outputs):
            raise Unsupported("its outputs are used in a way the importer cannot follow")
        ports = {}
        for index, name in ((1, "h_n"), (2, "c_n")):
            if index not in indexed:
                continue
            users = list(indexed[index].users)
            if len(users) != 1 or not _swaps_batch(users[0]):
                raise Unsupported(
                    f"its final state {name} is used in torch's (layers, N, hidden) layout",
                    f"Read it batch-first: {name}.transpose(0, 1).",
                )
            ports[users[0]] = name
        sequence = indexed.get(0)
        users = list(sequence.users) if sequence is not None else []
        if len(users) == 1 and _is_last_step(users[0]):
            ports[users[0]] = None
        else:
            params["return"] = "sequence"
        if sequence is None:
            raise Unsupported("only its final state is used", "Use its outputs as well.")
        return [sequence], ports

    # ---- values -------------------------------------------------------------------------

    def _external_inputs(self, nodes, members, path: str) -> list:
        inputs = []
        for node in nodes:
            for arg in _flat_args(node):
                if not hasattr(arg, "op") or arg in members:
                    continue
                if self._is_weight(arg):
                    target = self.kinds[arg.name][1]
                    if not target.startswith(path + ".") and not self._tie(path, target):
                        raise Unsupported(
                            f"uses the weight {target!r} of another module",
                            "Shared (tied) weights are not supported yet.",
                        )
                    continue
                if is_tensor(arg):
                    inputs.append(arg)
        return inputs

    def _tie(self, path: str, target: str) -> bool:
        """Is `target` this module's own weight under another module's name (weight tying)?"""
        other_path, _, attr = target.rpartition(".")
        module = self.model.get_submodule(path)
        try:
            other = self.model.get_submodule(other_path)
        except AttributeError:
            return False
        if attr != "weight" or getattr(module, "weight", None) is not getattr(other, "weight", 0):
            return False
        self.ties.append((path, other_path))
        return True

    def _apply_ties(self) -> None:
        """Each tied pair: the node that can follow another's weight (tie_weight_to) does."""
        ids = {p.module_path: p.id for p in self.nodes.values() if p.module_path}
        for a, b in self.ties:
            for follower, leader in ((a, b), (b, a)):
                node = self.nodes.get(ids.get(follower))
                if (
                    node is not None
                    and leader in ids
                    and REGISTRY[node.type].param("tie_weight_to")
                ):
                    node.params["tie_weight_to"] = ids[leader]
                    break
            else:
                self.problems.append(
                    Problem(
                        f"{a} and {b}",
                        "share one weight, and neither layer can follow the other's",
                        "LayerCraft ties a Linear's weight to an Embedding's (tie_weight_to).",
                    )
                )

    def _is_weight(self, node) -> bool:
        kind = self.kinds.get(getattr(node, "name", None), (None,))[0]
        return node.op == "placeholder" and kind in (
            InputKind.PARAMETER,
            InputKind.BUFFER,
            InputKind.CONSTANT_TENSOR,
        )

    def _part(self, node) -> tuple[str, str]:
        """`parts[i]` of a split or chunk: that node's output port "part<i>"."""
        source_id, port = self._value(node.args[0], node)
        if port is None and self.nodes[source_id].type in ("split", "chunk"):
            return source_id, f"part{node.args[1]}"
        raise Unsupported("takes one part of a multi-output op that has no output ports")

    def _value(self, arg, user) -> tuple[str, str | None]:
        if arg in self.env:
            return self.env[arg]
        if arg in self.failed:
            raise _Downstream  # already reported where it failed
        if arg in self.swapped:
            raise Unsupported(
                "moves the batch dimension (transpose(0, 1))",
                "Keep the batch first; only recurrent states may be passed this way.",
            )
        if arg in self.constant or self._is_weight(arg):
            raise Unsupported(
                "uses a tensor computed without the input (a constant, a mask or a raw weight)",
                "Masks, constants and raw parameters have no layer type yet.",
            )
        raise Unsupported(f"reads {getattr(arg, 'name', arg)}, which could not be imported")

    def _outputs(self, graph) -> list[tuple[str, str | None]]:
        output = next(n for n in graph.nodes if n.op == "output")
        ids = []
        for value in output.args[0]:
            if value is None or not hasattr(value, "op"):
                self.problems.append(Problem("return", f"returns {value!r}, which is not a tensor"))
            elif value in self.env:
                ids.append(self.env[value])
            elif value not in self.failed:
                self.problems.append(Problem("return", f"returns {value.name}, which has no layer"))
        return ids

    # ---- building -----------------------------------------------------------------------

    def _add(self, pending: Pending, fx_nodes: list) -> None:
        pending.fx_nodes = list(fx_nodes)
        self.nodes[pending.id] = pending
        self.taken.add(pending.id)
        for node in fx_nodes:
            self.env.setdefault(node, (pending.id, None))

    def _fresh(self, base: str) -> str:
        name, n = base, 2
        while name in self.taken:
            name, n = f"{base}_{n}", n + 1
        self.taken.add(name)
        return name

    def _pick_id(self, name: str | None, prefix: str, explicit: bool = False) -> str:
        if explicit and prefix not in self.taken:
            self.taken.add(prefix)
            return prefix
        usable = (
            name is not None
            and ID_PATTERN.fullmatch(name)
            and name not in CHAIN_NAMES
            and name not in RESERVED
            and name not in self.taken
        )
        if usable:
            self.taken.add(name)
            return name
        n = 1
        while f"{prefix}{n}" in self.taken:
            n += 1
        self.taken.add(f"{prefix}{n}")
        return f"{prefix}{n}"

    def _build(self, name: str, outputs: list[tuple[str, str | None]]) -> Conversion:
        outputs = self._output_nodes(outputs)
        self._apply_ties()
        if self.problems:
            return Conversion(Architecture(name), {})
        out_ids = [node_id for node_id, _ in outputs]
        needed = _ancestors(self.nodes, out_ids)
        order = [
            n
            for n in self.nodes
            if n in needed and (n not in out_ids or self.nodes[n].type == "Input")
        ]
        order += [n for n in out_ids if n not in order]
        arch = Architecture(name)
        for node_id in order:
            pending = self.nodes[node_id]
            try:
                arch.add_node(pending.type, pending.params, id=node_id)
            except BuilderError as err:
                self.problems.append(Problem(pending.where, err.message, err.hint))
        if self.problems:
            return Conversion(arch, {})
        for node_id in order:
            for src, port in self.nodes[node_id].inputs:
                if port is None:
                    arch.connect(src, node_id, check_cycle=False)
                else:
                    arch.connect(src, node_id, source_port=port, check_cycle=False)
        sources = {
            n: self.nodes[n].module_path or self.nodes[n].param_target
            for n in order
            if self.nodes[n].module_path or self.nodes[n].param_target
        }
        return Conversion(arch, sources)

    def _output_nodes(self, outputs: list[tuple[str, str | None]]) -> list[tuple[str, None]]:
        """The returned values as sink nodes; Output nodes where a plain sink cannot say it
        (a value also used inside, returned twice, an input, or one port of a split)."""
        fed = {src for pending in self.nodes.values() for src, _ in pending.inputs}
        plain = all(
            port is None
            and node_id not in fed
            and outputs.count((node_id, port)) == 1
            and self.nodes[node_id].type != "Input"
            for node_id, port in outputs
        )
        if plain:
            return outputs
        if "Output" not in REGISTRY:
            self.problems.append(
                Problem(
                    "return",
                    "returns a value that is also used inside the model",
                    "Named Output nodes come with the layers branch.",
                )
            )
            return outputs
        nodes = []
        for value in outputs:
            node_id = self._pick_id(None, "output")
            self.nodes[node_id] = Pending(node_id, "Output", {}, [value], "return")
            nodes.append((node_id, None))
        return nodes


class _Downstream(Exception):
    """Reads a value whose op was already reported: one problem, not a cascade."""


def _getitem():
    import operator

    return operator.getitem


def _cell_outputs(outputs) -> tuple[list, dict]:
    """LSTMCell returns (h, c): h flows on, c is read through its port."""
    indexed = {n.args[1]: n for n in outputs if n.target is _getitem()}
    if len(indexed) != len(outputs) or 0 not in indexed:
        raise Unsupported("its outputs are used in a way the importer cannot follow")
    ports = {indexed[1]: "c"} if 1 in indexed else {}
    return [indexed[0]], ports


def _causal_attention(node) -> bool:
    if getattr(node.target, "_opname", None) != "scaled_dot_product_attention":
        return False
    return bool(node.args[5] if len(node.args) > 5 else node.kwargs.get("is_causal", False))


def _swaps_batch(node) -> bool:
    if getattr(node.target, "_opname", None) != "transpose":
        return False
    rank = len(shape_of(node))
    return {node.args[1] % rank, node.args[2] % rank} == {0, 1}


def _is_last_step(node) -> bool:
    return (
        getattr(node.target, "_opname", None) == "select"
        and node.args[1] in (1, -2)
        and node.args[2] == -1
        and len(shape_of(node.args[0])) == 3
    )


def _flat_args(node) -> list:
    found = []
    map_arg((node.args, node.kwargs), found.append)
    return found


def _used_outside(node, members) -> bool:
    return any(user not in members for user in node.users)


def _ancestors(nodes: dict[str, Pending], outputs: list[str]) -> set[str]:
    seen, stack = set(), list(outputs)
    while stack:
        node_id = stack.pop()
        if node_id in seen:
            continue
        seen.add(node_id)
        stack.extend(src for src, _ in nodes[node_id].inputs)
    inputs = {n for n, p in nodes.items() if p.type == "Input"}
    return seen | inputs


def _close_types(name: str) -> str:
    import difflib

    close = difflib.get_close_matches(name, list(REGISTRY), n=3, cutoff=0.6)
    if close:
        return f"Close layer types: {', '.join(close)}."
    return "The layers branch is adding more layer types; until then build this part differently."
