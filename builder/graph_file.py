"""Reading graph JSON v1: the strict checks every file passes before it becomes a graph.

Graph files are untrusted, so every key, type and value is checked, and each problem is a
BuilderError naming the node, edge or field. `load_graph` reports every bad node and edge
of a file at once.
"""

from __future__ import annotations

import copy
import re
from typing import TYPE_CHECKING, Any

import networkx as nx

from .errors import BuilderError, raise_all
from .layers import REGISTRY, unknown_type_error
from .params import finite, is_number

if TYPE_CHECKING:
    from .graph import Architecture

FORMAT = "layercraft"
VERSION = 1
MAX_NODES = 1000
MAX_FILE_BYTES = 5_000_000
ID_PATTERN = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")
TOP_KEYS = {"format", "version", "name", "nodes", "edges", "search", "layout", "groups"}
LAYOUT_DIRECTIONS = ("DOWN", "RIGHT")  # the canvas's optional layout section
NODE_KEYS = {"id", "type", "params", "pos", "trainable"}
EDGE_KEYS = {"source", "target", "target_port", "source_port"}
PORT_PATTERN = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,31}")
# Canvas coordinates beyond this are a broken or hostile file, not a layout.
MAX_POS = 1e7


def load_graph(cls: type[Architecture], data: Any) -> Architecture:
    """A graph from parsed graph JSON v1; a BuilderError (or BuilderErrors) when it is bad."""
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
    if data.get("groups") is not None:
        from .groups import load_groups  # groups reads this module's id pattern

        arch.groups = load_groups(arch, data["groups"])
    return arch


def _load_layout(layout: Any) -> dict[str, str]:
    if layout is None:
        return {}
    if not isinstance(layout, dict):
        raise BuilderError('"layout" must be a JSON object', field="layout")
    _check_keys(layout, {"direction"}, "layout")
    return {"direction": check_direction(layout["direction"])} if "direction" in layout else {}


def check_direction(direction: Any) -> str:
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
    check_id(node_id)
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
    check_source_port(source_port, label)
    return (port if port is not None else MAX_NODES + i, i, src, dst, source_port)


def check_source_port(port: Any, edge: tuple[str, str]) -> None:
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


def check_id(node_id: Any) -> None:
    if not isinstance(node_id, str) or not ID_PATTERN.fullmatch(node_id):
        raise BuilderError(
            f"node id {str(node_id)[:64]!r} is not a valid name",
            field="id",
            hint="Use letters, digits and _ (not first a digit), at most 64 characters.",
        )


def check_pos(pos: Any, node_id: str) -> tuple[float, float] | None:
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
