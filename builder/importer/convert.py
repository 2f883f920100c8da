"""A torch.export program -> an Architecture, collecting every part that cannot be mapped.

Ops run inside a torch.nn building block (Conv2d, LSTM, TransformerEncoderLayer ...) are
grouped by the module call that ran them (torch.export's nn_module_stack) and become one
node of that module's type, named after the module so its weights can be copied. Ops in
the user's own forward() become nodes through functions.HANDLERS.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.export import ExportedProgram
from torch.export.graph_signature import InputKind

from ..codegen import CHAIN_NAMES, RESERVED
from ..graph import ID_PATTERN, Architecture
from ..layers import REGISTRY
from .assemble import Assembly
from .functions import full_node, map_function
from .mapped import Alias, Mapped, OneOfTwo
from .module_calls import ModuleCalls
from .modules import is_torch_leaf
from .nodes import Conversion, Downstream, Pending, flat_args, getitem, sanitise, swaps_batch
from .positional import class_token_node, layer_norm_node, layer_scale_node, positional_node
from .problems import Problem, Unsupported
from .reparameterize import reparameterize_node
from .source_lines import assigned_name, describe, user_frame


class Converter(ModuleCalls, Assembly):
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
        # torch.max(x, dim) and x.topk(1) nodes: which item of (values, indices) each is
        self.one_of_two: dict[str, OneOfTwo] = {}
        self.first_input = None  # the fx node of forward's first argument
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
            except Downstream:
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
        self.first_input = self.first_input or node
        params = {"shape": list(value.shape[1:])}
        if dtype == "int64":
            params["dtype"] = "int64"
        self._add(Pending(node_id, "Input", params, [], node.name), [node])

    def _function(self, node, names_line: bool) -> None:
        values = [a for a in flat_args(node) if hasattr(a, "op")]
        filled = full_node(node, self.first_input)
        if filled is None and all(v in self.constant or self._is_weight(v) for v in values):
            self.constant.add(node)  # e.g. a slice of a position table: its user decides
            return
        if node.target is getitem():
            self.env[node] = self._part(node)
            return
        if swaps_batch(node):
            self.swapped[node] = node.args[0]  # only a recurrent state may do this
            return
        sampled = reparameterize_node(node) if "Reparameterize" in REGISTRY else None
        if sampled is not None:
            mapped, covered = sampled
            self.skip.update(covered)
            node, names_line = covered[-1], True  # z's own line names the node
        else:
            mapped = (
                filled
                or positional_node(self, node)
                or class_token_node(self, node)
                or layer_norm_node(self, node)
                or layer_scale_node(self, node)
                or map_function(node)
            )
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
        if "one_of_two" in mapped.extra:
            self.one_of_two[node_id] = mapped.extra["one_of_two"]
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

    # ---- values -------------------------------------------------------------------------

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
        pair = self.one_of_two.get(source_id) if port is None else None
        if pair is not None:
            if node.args[1] == pair.kept:
                return source_id, None
            if not node.users:  # torch.export unpacks both items; the unread one is fine
                return source_id, pair.dropped
            raise Unsupported(pair.message, pair.hint)
        raise Unsupported("takes one part of a multi-output op that has no output ports")

    def _value(self, arg, user) -> tuple[str, str | None]:
        if arg in self.env:
            return self.env[arg]
        if arg in self.failed:
            raise Downstream  # already reported where it failed
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
