"""Architecture: a network as a networkx graph of layer nodes, with graph JSON v1 in and out.

Loading is strict because graph files are untrusted: every key, type and value is
checked, and each problem is a BuilderError naming the node, edge or field.
"""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any

import networkx as nx

from .errors import BuilderError, raise_all
from .layers import REGISTRY, get_spec, unknown_type_error
from .params import MAX_INT, check_value, finite, is_number, validate_params  # noqa: F401  (re-exported)

FORMAT = "layercraft"
VERSION = 1
MAX_NODES = 1000
MAX_FILE_BYTES = 5_000_000
ID_PATTERN = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")
TOP_KEYS = {"format", "version", "name", "nodes", "edges", "search", "layout"}
LAYOUT_DIRECTIONS = ("DOWN", "RIGHT")  # the canvas's optional layout section
NODE_KEYS = {"id", "type", "params", "pos", "trainable"}
EDGE_KEYS = {"source", "target", "target_port", "source_port"}
PORT_PATTERN = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,31}")
# Canvas coordinates beyond this are a broken or hostile file, not a layout.
MAX_POS = 1e7


class Architecture:
    """A network under construction: typed layer nodes and ordered edges between them."""

    def __init__(self, name: str = "Untitled") -> None:
        self.name = name
        self.graph = nx.DiGraph()
        # The optional AutoML search section (builder.search.space), kept as plain JSON data.
        self.search: dict[str, Any] | None = None
        self.layout: dict[str, str] = {}  # {"direction": "DOWN" | "RIGHT"}; empty: default

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
        _check_id(node_id)
        if node_id in self.graph:
            raise BuilderError(
                f"a node named {node_id!r} already exists", node=node_id, hint="Pick another name."
            )
        clean = validate_params(type_name, params or {}, node_id)
        self.graph.add_node(
            node_id,
            type=type_name,
            params=clean,
            inputs=[],
            input_ports=[],
            pos=_check_pos(pos, node_id),
        )
        return node_id

    def fresh_id(self, prefix: str) -> str:
        """The first unused id of the form prefix1, prefix2, ..."""
        n = 1
        while f"{prefix}{n}" in self.graph:
            n += 1
        return f"{prefix}{n}"

    def remove_node(self, node_id: str) -> None:
        """Delete a node and every edge touching it."""
        self._node(node_id)
        for succ in self.outputs_of(node_id):
            self._drop_inputs_from(succ, node_id)
        self.graph.remove_node(node_id)
        self._forget_in_search(node_id)

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
        _check_source_port(source_port, (src, dst))
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
        self._node(node_id)["pos"] = _check_pos(pos, node_id)

    def rename_node(self, old: str, new: str) -> None:
        """Give a node a new id, keeping its edges and input order."""
        self._node(old)
        if new == old:
            return
        _check_id(new)
        if new in self.graph:
            raise BuilderError(
                f"a node named {new!r} already exists", node=old, hint="Pick another name."
            )
        # relabel_nodes(copy=True) keeps node order, which decides forward's argument order.
        self.graph = nx.relabel_nodes(self.graph, {old: new}, copy=True)
        for succ in self.outputs_of(new):
            self.graph.nodes[succ]["inputs"] = [
                new if s == old else s for s in self.inputs_of(succ)
            ]
        if self.search:
            from .search.edit import rename_in_section

            self.search = rename_in_section(self.search, old, new)

    def _forget_in_search(self, node_id: str) -> None:
        # A deleted node leaves the search section too, so the saved file still loads.
        if self.search:
            from .search.edit import drop_node_from_section

            self.search = drop_node_from_section(self.search, node_id)

    def insert_after(self, node_id: str | None, type_name: str, params: dict | None = None) -> str:
        """Add a layer after node_id and move node_id's outgoing edges onto it."""
        if node_id is None:
            return self.add_node(type_name, params)
        successors = self.outputs_of(node_id)
        pos = self.pos_of(node_id)
        new_pos = None if pos is None else (pos[0], pos[1] + 100)
        new_id = self.add_node(type_name, params, pos=new_pos)
        try:
            for succ in successors:
                pairs = list(zip(self.inputs_of(succ), self.input_ports_of(succ), strict=True))
                if (node_id, None) not in pairs:
                    continue  # it reads another output port of node_id: leave it
                port = pairs.index((node_id, None))
                self.disconnect(node_id, succ)
                self.connect(new_id, succ, port)
                for place, (src, source_port) in enumerate(pairs):
                    if src == node_id and source_port is not None:  # restore other ports
                        self.connect(node_id, succ, place, source_port=source_port)
            self.connect(node_id, new_id)
        except BuilderError:
            self.remove_node(new_id)
            raise
        return new_id

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
        self.layout = {"direction": _check_direction(direction)}

    def copy(self) -> Architecture:
        """An independent deep copy."""
        return copy.deepcopy(self)

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
        return _load(cls, data)

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


# ---- loading helpers ----------------------------------------------------------------------


def _load(cls, data: Any) -> Architecture:
    if not isinstance(data, dict):
        raise BuilderError(
            "a graph file must hold a JSON object", hint="Open a graph saved by LayerCraft."
        )
    _check_keys(data, TOP_KEYS, "the graph")
    if data.get("format") != FORMAT:
        raise BuilderError('not a LayerCraft graph: "format" must be "layercraft"', field="format")
    if data.get("version") != VERSION or isinstance(data.get("version"), bool):
        raise BuilderError(
            f"unsupported version {str(data.get('version'))[:20]!r}; this LayerCraft reads version 1",
            field="version",
        )
    name = data.get("name", "Untitled")
    if not isinstance(name, str) or len(name) > 200:
        raise BuilderError("name must be text of at most 200 characters", field="name")
    nodes, edges = data.get("nodes"), data.get("edges", [])
    if not isinstance(nodes, list) or not isinstance(edges, list):
        raise BuilderError('"nodes" and "edges" must be lists', field="nodes")
    if len(nodes) > MAX_NODES:
        raise BuilderError(
            f"{len(nodes)} nodes is more than the limit of {MAX_NODES}", field="nodes"
        )
    arch = cls(name)
    # Every bad node and edge is reported in one pass (a BuilderErrors), not just the first.
    problems: list[BuilderError] = []
    failed: set[str] = set()
    arch.layout = _load_layout(data.get("layout"))
    for node in nodes:
        try:
            _load_node(arch, node)
        except BuilderError as err:
            problems.append(err)
            if isinstance(node, dict) and isinstance(node.get("id"), str):
                failed.add(node["id"])
    ordered = _ordered_edges(arch, edges, failed, problems)
    for src, dst, source_port in ordered:
        taken = zip(arch.inputs_of(dst), arch.input_ports_of(dst), strict=True)
        try:
            if (src, source_port) in taken:
                raise BuilderError("duplicate edge", edge=(src, dst))
            arch.connect(src, dst, source_port=source_port, check_cycle=False)
        except BuilderError as err:
            problems.append(err)
    raise_all(problems)
    _check_acyclic(arch, ordered)
    if data.get("search") is not None:
        from .search.space import parse_space

        parse_space(arch, data["search"])
        arch.search = copy.deepcopy(data["search"])
    return arch


def _load_layout(layout: Any) -> dict[str, str]:
    if layout is None:
        return {}
    if not isinstance(layout, dict):
        raise BuilderError('"layout" must be a JSON object', field="layout")
    _check_keys(layout, {"direction"}, "layout")
    return {"direction": _check_direction(layout["direction"])} if "direction" in layout else {}


def _check_direction(direction: Any) -> str:
    if direction not in LAYOUT_DIRECTIONS:
        raise BuilderError(
            f"unknown layout direction {str(direction)[:20]!r}",
            field="layout.direction",
            hint='Use "DOWN" (top to bottom) or "RIGHT" (left to right).',
        )
    return direction


def _check_acyclic(arch: Architecture, ordered: list[tuple[str, str, int | None]]) -> None:
    # One check for the whole file instead of a path search per edge (quadratic).
    if nx.is_directed_acyclic_graph(arch.graph):
        return
    cycle = {(src, dst) for src, dst, *_ in nx.find_cycle(arch.graph)}
    src, dst = next(edge for edge in reversed([(s, d) for s, d, _ in ordered]) if edge in cycle)
    raise BuilderError(
        "this edge makes a cycle", edge=(src, dst), hint="Networks must flow one way."
    )


def _load_node(arch: Architecture, node: Any) -> None:
    if not isinstance(node, dict):
        raise BuilderError("each node must be a JSON object", field="nodes")
    node_id = node.get("id")
    if not isinstance(node_id, str):
        raise BuilderError('each node needs an "id" string', field="nodes")
    _check_id(node_id)
    _check_keys(node, NODE_KEYS, node_id)
    if node_id in arch.graph:
        raise BuilderError("duplicate node id", node=node_id, hint="Give every node its own id.")
    type_name = node.get("type")
    if not isinstance(type_name, str) or type_name not in REGISTRY:
        raise unknown_type_error(type_name, node_id)
    params = node.get("params", {})
    if not isinstance(params, dict):
        raise BuilderError("params must be a JSON object", node=node_id, field="params")
    arch.add_node(type_name, params, id=node_id, pos=node.get("pos"))
    if "trainable" in node:
        arch.set_trainable(node_id, node["trainable"])


def _ordered_edges(
    arch: Architecture, edges: list[Any], failed: set[str], problems: list[BuilderError]
) -> list[tuple[str, str, Any]]:
    """Edges sorted so each target gets its inputs by target_port, then file order.

    Bad edges go to problems; edges touching a node that failed to load are skipped.
    """
    rows = []
    for i, edge in enumerate(edges):
        try:
            row = _edge_row(arch, edge, i, failed)
        except BuilderError as err:
            problems.append(err)
            continue
        if row is not None:
            rows.append(row)
    rows.sort(key=lambda row: row[:2])
    return [(src, dst, source_port) for _, _, src, dst, source_port in rows]


def _edge_row(arch: Architecture, edge: Any, i: int, failed: set[str]) -> tuple | None:
    if not isinstance(edge, dict):
        raise BuilderError("each edge must be a JSON object", field="edges")
    src, dst = edge.get("source"), edge.get("target")
    if not isinstance(src, str) or not isinstance(dst, str):
        raise BuilderError('each edge needs "source" and "target" strings', field="edges")
    label = (src[:64], dst[:64])
    unknown = set(edge) - EDGE_KEYS
    if unknown:
        raise BuilderError(f"unknown key {sorted(unknown)[0][:40]!r}", edge=label)
    if src in failed or dst in failed:
        return None  # that node's own error says what is wrong
    for end in (src, dst):
        if end not in arch.graph:
            raise BuilderError(
                f"edge points to a missing node {end[:64]!r}",
                edge=label,
                hint="Remove the edge or add the node.",
            )
    port = edge.get("target_port")
    if port is not None and (
        not isinstance(port, int) or isinstance(port, bool) or not 0 <= port < MAX_NODES
    ):
        raise BuilderError("target_port must be a whole number of 0 or more", edge=label)
    source_port = edge.get("source_port")
    _check_source_port(source_port, label)
    return (port if port is not None else MAX_NODES + i, i, src, dst, source_port)


def _check_source_port(port: Any, edge: tuple[str, str]) -> None:
    if port is None:
        return
    if isinstance(port, int) and not isinstance(port, bool) and 0 <= port < MAX_NODES:
        return
    if isinstance(port, str) and PORT_PATTERN.fullmatch(port):
        return
    raise BuilderError(
        'source_port must be an output name such as "h_n" or an index of 0 or more',
        edge=(edge[0][:64], edge[1][:64]),
    )


def _check_keys(obj: dict, allowed: set[str], where: str) -> None:
    unknown = sorted(str(k)[:40] for k in obj if k not in allowed)
    if unknown:
        raise BuilderError(
            f"{where}: unknown key {unknown[0]!r}",
            hint=f"Allowed keys: {', '.join(sorted(allowed))}.",
        )


def _check_id(node_id: Any) -> None:
    if not isinstance(node_id, str) or not ID_PATTERN.fullmatch(node_id):
        raise BuilderError(
            f"node id {str(node_id)[:64]!r} is not a valid name",
            field="id",
            hint="Use letters, digits and _ (not first a digit), at most 64 characters.",
        )


def _check_pos(pos: Any, node_id: str) -> tuple[float, float] | None:
    if pos is None:
        return None
    if (
        not isinstance(pos, list | tuple)
        or len(pos) != 2
        or not all(is_number(v) and finite(v) for v in pos)
    ):
        raise BuilderError("pos must be two numbers [x, y]", node=node_id, field="pos")
    if any(abs(v) > MAX_POS for v in pos):
        raise BuilderError(
            f"pos must lie within ±{MAX_POS:,.0f}",
            node=node_id,
            field="pos",
            hint="Use Auto-layout to place the nodes again.",
        )
    return (float(pos[0]), float(pos[1]))
