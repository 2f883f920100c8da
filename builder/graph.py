"""Architecture: a network as a networkx graph of layer nodes, with graph JSON v1 in and out.

Loading is strict because graph files are untrusted: every key, type and value is
checked, and each problem is a BuilderError naming the node, edge or field.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import networkx as nx

from . import groups
from .errors import BuilderError
from .graph_file import (  # noqa: F401  (constants re-exported: importers read them here)
    FORMAT,
    ID_PATTERN,
    LAYOUT_DIRECTIONS,
    MAX_FILE_BYTES,
    MAX_NODES,
    VERSION,
    check_direction,
    check_id,
    check_pos,
    check_source_port,
    load_graph,
)
from .layers import get_spec
from .params import MAX_INT, check_value, validate_params  # noqa: F401  (re-exported)


class Architecture:
    """A network under construction: typed layer nodes and ordered edges between them."""

    def __init__(self, name: str = "Untitled") -> None:
        self.name = name
        self.graph = nx.DiGraph()
        # The optional AutoML search section (builder.search.space), kept as plain JSON data.
        self.search: dict[str, Any] | None = None
        self.layout: dict[str, str] = {}  # {"direction": "DOWN" | "RIGHT"}; empty: default
        # Composite blocks (builder.groups): [{"id", "name", "nodes", "collapsed"}], view only.
        self.groups: list[dict[str, Any]] = []

    # ---- reading ----------------------------------------------------------------------

    @property
    def node_ids(self) -> list[str]:
        """Node ids in insertion order."""
        return list(self.graph.nodes)

    @property
    def edges(self) -> list[tuple[str, str]]:
        """Every edge, grouped by target in input order."""
        return [(src, dst) for dst in self.graph.nodes for src in self.inputs_of(dst)]

    def input_ports_of(self, node_id: str) -> list[str | int | None]:
        """For each input of the node (in port order), the source's output port; None: default."""
        node = self._node(node_id)
        return list(node.get("input_ports") or [None] * len(node["inputs"]))

    def type_of(self, node_id: str) -> str:
        """The layer type of a node ("Conv2d")."""
        return self._node(node_id)["type"]

    def params_of(self, node_id: str) -> dict[str, Any]:
        """The node's params with the spec's defaults filled in."""
        node = self._node(node_id)
        return {**get_spec(node["type"]).defaults(), **node["params"]}

    def user_params_of(self, node_id: str) -> dict[str, Any]:
        """Only the params the user set (what graph JSON stores)."""
        return dict(self._node(node_id)["params"])

    def pos_of(self, node_id: str) -> tuple[float, float] | None:
        """The node's canvas position, or None."""
        return self._node(node_id).get("pos")

    def trainable_of(self, node_id: str) -> bool:
        """False when the node's weights are frozen (graph JSON `"trainable": false`)."""
        return self._node(node_id).get("trainable", True)

    def set_trainable(self, node_id: str, trainable: bool) -> None:
        """Freeze (False) or unfreeze (True) a node's weights in training and train.py."""
        if not isinstance(trainable, bool):
            raise BuilderError("trainable must be true or false", node=node_id, field="trainable")
        self._node(node_id)["trainable"] = trainable

    def inputs_of(self, node_id: str) -> list[str]:
        """The nodes feeding this one, in input (port) order."""
        return list(self._node(node_id)["inputs"])

    def outputs_of(self, node_id: str) -> list[str]:
        """The nodes this one feeds."""
        return list(self.graph.successors(node_id))

    def input_nodes(self) -> list[str]:
        """Input nodes in insertion order: the order of forward()'s arguments."""
        return [n for n in self.graph.nodes if self.type_of(n) == "Input"]

    def output_nodes(self) -> list[str]:
        """The network's outputs in return order: the Output nodes where the graph has any,
        else the nodes nothing reads from, in insertion order."""
        named = [n for n in self.graph.nodes if self.type_of(n) == "Output"]
        if named:
            return named
        return [n for n in self.graph.nodes if self.graph.out_degree(n) == 0]

    def live_nodes(self) -> set[str]:
        """Nodes the outputs depend on; with Output nodes, the others are left out of forward."""
        live = set(self.output_nodes())
        for node_id in list(live):
            live |= nx.ancestors(self.graph, node_id)
        return live

    def topological_order(self) -> list[str]:
        """Nodes so every node comes after its inputs; ties keep insertion order."""
        order = {n: i for i, n in enumerate(self.graph.nodes)}
        return list(nx.lexicographical_topological_sort(self.graph, key=order.__getitem__))

    def __contains__(self, node_id: object) -> bool:
        return node_id in self.graph

    def __len__(self) -> int:
        return self.graph.number_of_nodes()

    # ---- editing ----------------------------------------------------------------------

    def add_node(
        self,
        type_name: str,
        params: dict[str, Any] | None = None,
        *,
        id: str | None = None,
        pos: tuple[float, float] | list[float] | None = None,
    ) -> str:
        """Add a layer node; returns its id (made from the type when not given)."""
        spec = get_spec(type_name)
        if len(self) >= MAX_NODES:
            raise BuilderError(
                f"a graph may hold at most {MAX_NODES} nodes", hint="Remove some layers first."
            )
        node_id = self.fresh_id(spec.id_prefix or type_name.lower()) if id is None else id
        self._check_free_id(node_id)
        clean = validate_params(type_name, params or {}, node_id)
        self.graph.add_node(
            node_id,
            type=type_name,
            params=clean,
            inputs=[],
            input_ports=[],
            pos=check_pos(pos, node_id),
        )
        return node_id

    def fresh_id(self, prefix: str) -> str:
        """The first unused id of the form prefix1, prefix2, ..."""
        n = 1
        while f"{prefix}{n}" in self.graph or groups.find(self, f"{prefix}{n}"):
            n += 1
        return f"{prefix}{n}"

    def remove_node(self, node_id: str) -> None:
        """Delete a node and every edge touching it."""
        self._node(node_id)
        for succ in self.outputs_of(node_id):
            self._drop_inputs_from(succ, node_id)
        self.graph.remove_node(node_id)
        self._forget_in_search(node_id)
        groups.forget_node(self, node_id)

    def _drop_inputs_from(self, dst: str, src: str) -> None:
        pairs = zip(self.inputs_of(dst), self.input_ports_of(dst), strict=True)
        kept = [(s, p) for s, p in pairs if s != src]
        self.graph.nodes[dst]["inputs"] = [s for s, _ in kept]
        self.graph.nodes[dst]["input_ports"] = [p for _, p in kept]

    def connect(
        self,
        src: str,
        dst: str,
        port: int | None = None,
        *,
        source_port: str | int | None = None,
        check_cycle: bool = True,
    ) -> None:
        """Add an edge src -> dst; port is its place among dst's inputs (None: last).

        source_port picks one output of a multi-output node (a name such as "h_n", or an
        index); None reads its default output. Two edges between the same nodes must read
        different source ports.
        """
        self._node(src)
        node = self._node(dst)
        check_source_port(source_port, (src, dst))
        if src == dst:
            raise BuilderError("a node cannot feed itself", edge=(src, dst))
        if (src, source_port) in zip(self.inputs_of(dst), self.input_ports_of(dst), strict=True):
            raise BuilderError("these nodes are already connected", edge=(src, dst))
        spec = get_spec(node["type"])
        if spec.max_inputs is not None and len(node["inputs"]) >= spec.max_inputs:
            what = "no inputs" if spec.max_inputs == 0 else f"{spec.max_inputs} input"
            raise BuilderError(
                f"{dst} ({node['type']}) takes {what}",
                edge=(src, dst),
                hint="Remove its current input first, or use Add/Concat to merge branches."
                if spec.max_inputs
                else None,
            )
        if check_cycle and nx.has_path(self.graph, dst, src):
            raise BuilderError(
                "this edge would make a cycle", edge=(src, dst), hint="Networks must flow one way."
            )
        self.graph.add_edge(src, dst)
        inputs = node["inputs"]
        ports = node.setdefault("input_ports", [None] * len(inputs))
        place = len(inputs) if port is None else max(0, min(port, len(inputs)))
        inputs.insert(place, src)
        ports.insert(place, source_port)

    def disconnect(self, src: str, dst: str) -> None:
        """Remove the edge src -> dst."""
        if not self.graph.has_edge(src, dst):
            raise BuilderError("there is no such edge", edge=(src, dst))
        self.graph.remove_edge(src, dst)
        self._drop_inputs_from(dst, src)

    def reorder_inputs(self, node_id: str, ordered: list[str]) -> None:
        """Set the order of a merge node's inputs (same sources, new order)."""
        if sorted(ordered) != sorted(self.inputs_of(node_id)):
            raise BuilderError("the new order must list exactly the current inputs", node=node_id)
        remaining = list(zip(self.inputs_of(node_id), self.input_ports_of(node_id), strict=True))
        pairs = [remaining.pop([s for s, _ in remaining].index(src)) for src in ordered]
        self.graph.nodes[node_id]["inputs"] = [s for s, _ in pairs]
        self.graph.nodes[node_id]["input_ports"] = [p for _, p in pairs]

    def set_params(self, node_id: str, params: dict[str, Any]) -> None:
        """Replace the node's user-set params (validated first; nothing changes on error)."""
        node = self._node(node_id)
        node["params"] = validate_params(node["type"], params, node_id)

    def update_params(self, node_id: str, **changes: Any) -> None:
        """Change some params, keeping the others."""
        self.set_params(node_id, {**self.user_params_of(node_id), **changes})

    def set_pos(self, node_id: str, pos: tuple[float, float] | list[float] | None) -> None:
        """Move a node on the canvas (None: no position)."""
        self._node(node_id)["pos"] = check_pos(pos, node_id)

    def rename_node(self, old: str, new: str) -> None:
        """Give a node a new id, keeping its edges and input order."""
        self._node(old)
        if new == old:
            return
        self._check_free_id(new, node=old)
        # relabel_nodes(copy=True) keeps node order, which decides forward's argument order.
        self.graph = nx.relabel_nodes(self.graph, {old: new}, copy=True)
        for succ in self.outputs_of(new):
            self.graph.nodes[succ]["inputs"] = [
                new if s == old else s for s in self.inputs_of(succ)
            ]
        for node_id in self.node_ids:  # layers that use its weights follow the new name
            params = self.graph.nodes[node_id]["params"]
            for key in ("shares", "tie_weight_to"):
                if params.get(key) == old:
                    params[key] = new
        if self.search:
            from .search.edit import rename_in_section

            self.search = rename_in_section(self.search, old, new)
        groups.rename_member(self, old, new)

    def _check_free_id(self, node_id: str, node: str | None = None) -> None:
        check_id(node_id)
        if node_id in self.graph or groups.find(self, node_id):
            what = "node" if node_id in self.graph else "block"
            raise BuilderError(
                f"a {what} named {node_id!r} already exists",
                node=node or node_id,
                hint="Pick another name.",
            )

    def _forget_in_search(self, node_id: str) -> None:
        # A deleted node leaves the search section too, so the saved file still loads.
        if self.search:
            from .search.edit import drop_node_from_section

            self.search = drop_node_from_section(self.search, node_id)

    def insert_after(self, node_id: str | None, type_name: str, params: dict | None = None) -> str:
        """Add a layer after node_id and move node_id's outgoing edges onto it."""
        if node_id is None:
            return self.add_node(type_name, params)
        pos = self.pos_of(node_id)
        new_pos = None if pos is None else (pos[0], pos[1] + 100)
        new_id = self.add_node(type_name, params, pos=new_pos)
        try:
            self.move_outputs(node_id, new_id)
            self.connect(node_id, new_id)
        except BuilderError:
            self.remove_node(new_id)
            raise
        return new_id

    def move_outputs(self, node_id: str, new_source: str) -> None:
        """Every edge reading node_id's plain output reads new_source instead, same port."""
        for succ in self.outputs_of(node_id):
            pairs = list(zip(self.inputs_of(succ), self.input_ports_of(succ), strict=True))
            if (node_id, None) not in pairs:
                continue  # it reads another output port of node_id: leave it
            port = pairs.index((node_id, None))
            self.disconnect(node_id, succ)
            self.connect(new_source, succ, port)
            for place, (src, source_port) in enumerate(pairs):
                if src == node_id and source_port is not None:  # restore other ports
                    self.connect(node_id, succ, place, source_port=source_port)

    def duplicate_node(self, node_id: str) -> str:
        """A copy of the node (same type and params), unconnected, placed beside it."""
        pos = self.pos_of(node_id)
        return self.add_node(
            self.type_of(node_id),
            self.user_params_of(node_id),
            pos=None if pos is None else (pos[0] + 60, pos[1] + 60),
        )

    def set_layout_direction(self, direction: str) -> None:
        """Lay the canvas out top-down ("DOWN") or left-to-right ("RIGHT")."""
        self.layout = {"direction": check_direction(direction)}

    def copy(self) -> Architecture:
        """An independent deep copy.

        Made field by field: `copy.deepcopy` of a 200-node graph took ~2 ms, and one canvas
        edit copies the graph several times (the edit itself, then each checked fix).
        """
        twin = Architecture.__new__(Architecture)
        for key, value in self.__dict__.items():
            if key != "graph":
                twin.__dict__[key] = copy.deepcopy(value)
        twin.graph = self.graph.copy()  # new attribute dicts, values still shared ...
        for _, data in twin.graph.nodes(data=True):
            for key, value in data.items():
                data[key] = _plain_copy(value)  # ... so params, inputs and pos are copied
        return twin

    def _node(self, node_id: str) -> dict[str, Any]:
        try:
            return self.graph.nodes[node_id]
        except (KeyError, TypeError):
            raise BuilderError(f"there is no node named {str(node_id)[:64]!r}") from None

    # ---- JSON v1 ----------------------------------------------------------------------

    def to_json(self) -> dict[str, Any]:
        """The graph as graph JSON v1 (a dict ready for json.dumps)."""
        nodes = []
        for n in self.graph.nodes:
            node = {"id": n, "type": self.type_of(n), "params": self.user_params_of(n)}
            if self.pos_of(n) is not None:
                node["pos"] = list(self.pos_of(n))
            if not self.trainable_of(n):
                node["trainable"] = False  # written only when set, so old files stay unchanged
            nodes.append(node)
        edges = []
        for dst in self.graph.nodes:
            inputs = self.inputs_of(dst)
            for port, (src, source_port) in enumerate(
                zip(inputs, self.input_ports_of(dst), strict=True)
            ):
                edge = {"source": src, "target": dst}
                if source_port is not None:
                    edge["source_port"] = source_port
                if len(inputs) > 1:
                    edge["target_port"] = port
                edges.append(edge)
        data = {
            "format": FORMAT,
            "version": VERSION,
            "name": self.name,
            "nodes": nodes,
            "edges": edges,
        }
        if self.search:
            data["search"] = copy.deepcopy(self.search)
        if self.layout:
            data["layout"] = dict(self.layout)
        if self.groups:
            data["groups"] = groups.to_json(self)
        return data

    def to_json_string(self) -> str:
        """Graph JSON v1 as indented text."""
        return json.dumps(self.to_json(), indent=2)

    def save(self, path: str | Path) -> None:
        """Write graph JSON v1 to a file."""
        Path(path).write_text(self.to_json_string() + "\n", encoding="utf-8")

    @classmethod
    def from_json(cls, data: dict[str, Any] | str | bytes) -> Architecture:
        """Build from graph JSON v1 (a dict or its text); strict, see the module docstring."""
        if isinstance(data, str | bytes):
            if len(data) > MAX_FILE_BYTES:
                raise BuilderError(
                    f"the graph file is larger than {MAX_FILE_BYTES // 1_000_000} MB"
                )
            try:
                data = json.loads(data)
            except (ValueError, RecursionError) as exc:
                raise BuilderError(
                    f"not valid JSON ({exc})", hint="Open a graph saved by LayerCraft."
                ) from None
        return load_graph(cls, data)

    @classmethod
    def load(cls, path: str | Path) -> Architecture:
        """Read graph JSON v1 from a file; BuilderError(file=...) when it cannot."""
        path = Path(path)
        try:
            if path.stat().st_size > MAX_FILE_BYTES:
                raise BuilderError(f"larger than {MAX_FILE_BYTES // 1_000_000} MB", file=str(path))
            text = path.read_bytes()
        except OSError as exc:
            raise BuilderError(f"cannot read the file ({exc.strerror})", file=str(path)) from None
        try:
            return cls.from_json(text)
        except BuilderError as err:
            if err.node is None and err.edge is None and err.file is None:
                err.file = str(path)
            raise


def _plain_copy(value: Any) -> Any:
    """A copy of JSON-like data (dicts, lists, tuples of scalars), much faster than deepcopy."""
    if isinstance(value, dict):
        return {k: _plain_copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain_copy(v) for v in value]
    if isinstance(value, tuple):
        return tuple(_plain_copy(v) for v in value)
    return value
