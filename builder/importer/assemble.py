"""The converter's last step: outputs, ties and the Architecture itself."""

from __future__ import annotations

from ..errors import BuilderError
from ..graph import Architecture
from ..layers import REGISTRY
from .nodes import Conversion, Pending, ancestors
from .problems import Problem


class Assembly:
    """Converter part: the pending nodes -> an Architecture (pruned to what outputs need)."""

    def _build(self, name: str, outputs: list[tuple[str, str | None]]) -> Conversion:
        outputs = self._output_nodes(outputs)
        self._apply_ties()
        if self.problems:
            return Conversion(Architecture(name), {})
        out_ids = [node_id for node_id, _ in outputs]
        needed = ancestors(self.nodes, out_ids)
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
