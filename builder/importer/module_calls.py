"""Calls of torch.nn building blocks: one node per call, with its inputs, ports and weights."""

from __future__ import annotations

from ..layers import REGISTRY
from .mapped import is_tensor, shape_of
from .modules import layer_type_of, module_params
from .nodes import (
    Pending,
    causal_attention,
    cell_outputs,
    close_types,
    flat_args,
    getitem,
    is_last_step,
    is_zeros,
    sanitise,
    swaps_batch,
    used_outside,
)
from .problems import Problem, Unsupported

RECURRENT = ("RNN", "LSTM", "GRU")


class ModuleCalls:
    """Converter part: a group of ops run inside one torch.nn module call -> one node."""

    def _module_call(self, key: tuple[str, str], nodes: list) -> None:
        call_key, path = key
        module = self.model.get_submodule(path)
        type_name = layer_type_of(module)
        where = f"{path} (nn.{type(module).__name__})"
        if type_name is None:
            raise Unsupported(
                f"LayerCraft has no {type(module).__name__} layer type yet",
                close_types(type(module).__name__),
            )
        node_id = self._module_id(call_key, path)
        members = set(nodes)
        params = module_params(type_name, module)
        # A module called again (a decoder's loop, siamese towers) calls the first node's
        # layer: one set of weights, kept under the first call's node (builder/sharing.py).
        shared = node_id != sanitise(path) and any(True for _ in module.parameters())
        if shared:
            params["shares"] = sanitise(path)
        # self-attention reads one value three times: one input
        inputs = list(dict.fromkeys(self._external_inputs(nodes, members, path)))
        inputs = self._take_mask(inputs, type_name, params, nodes)
        outputs = [n for n in nodes if used_outside(n, members)]
        ports: dict = {}
        if type_name == "LSTMCell":
            outputs, ports = cell_outputs(outputs)
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
        if type_name == "Linear" and len(shape_of(inputs[0])) > 3:  # (N, H, W, C) and up
            params = {**params, "per_position": True}
        pending = Pending(node_id, type_name, params, values, where)
        pending.module_path = None if shared else path  # the owner alone takes the weights
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
        if type_name in RECURRENT or type_name.endswith("Cell"):
            # torch.zeros(layers, N, hidden) as the initial state is what torch does anyway
            zeros = [v for v in inputs if v in self.constant and is_zeros(v)]
            if len(zeros) == len(inputs) - 1:
                inputs = inputs[:1]
        masks = [v for v in inputs if v in self.constant]
        spec = REGISTRY[type_name]
        option = next((p for p in ("is_causal", "tgt_is_causal") if spec.param(p)), None)
        if option is not None and any(causal_attention(n) for n in nodes):
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
        indexed = {n.args[1]: n for n in outputs if n.target is getitem()}
        if len(indexed) != len(outputs):
            raise Unsupported("its outputs are used in a way the importer cannot follow")
        ports = {}
        for index, name in ((1, "h_n"), (2, "c_n")):
            if index not in indexed:
                continue
            users = list(indexed[index].users)
            if len(users) != 1 or not swaps_batch(users[0]):
                raise Unsupported(
                    f"its final state {name} is used in torch's (layers, N, hidden) layout",
                    f"Read it batch-first: {name}.transpose(0, 1).",
                )
            ports[users[0]] = name
        sequence = indexed.get(0)
        users = list(sequence.users) if sequence is not None else []
        if len(users) == 1 and is_last_step(users[0]):
            ports[users[0]] = None
        else:
            params["return"] = "sequence"
        if sequence is None:
            raise Unsupported("only its final state is used", "Use its outputs as well.")
        return [sequence], ports

    def _external_inputs(self, nodes, members, path: str) -> list:
        inputs = []
        for node in nodes:
            for arg in flat_args(node):
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
