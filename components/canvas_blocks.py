"""Composite blocks on the canvas: a collapsed block is drawn as one node, an expanded one
as a frame around its layers. Nothing here imports Streamlit.

A collapsed block's node has the group's id; its target handles are the block's entries
(`builder.groups.entries`: in0, in1 ...) and its source handles its exits (`out`, or
`out:<member>` when it has several). Edges keep their real ends in `ends`, so deleting or
dropping onto an edge that touches a block acts on the real layers.
"""

from __future__ import annotations

from typing import Any

from builder import groups
from builder.errors import sentences
from builder.graph import Architecture
from builder.shapes import Analysis, format_count, format_shape

BLOCK_COLOUR = "#495057"


def exit_handle(exits: list[str], member: str) -> str:
    """The source handle an edge leaves a collapsed block from."""
    return "out" if len(exits) == 1 else f"out:{member}"


def block_payload(
    arch: Architecture,
    group: dict[str, Any],
    analysis: Analysis | None,
    entries: list[tuple[str, int]],
    exits: list[str],
) -> dict[str, Any]:
    """The one node a collapsed block shows: its ports (its `entries` and `exits`), total
    parameters and any error."""
    infos = [analysis.nodes.get(n) for n in group["nodes"]] if analysis else []
    total = groups.param_total(group, analysis)
    broken = next((i for i in infos if i is not None and i.error is not None), None)
    last = analysis.nodes.get(exits[0]) if analysis and len(exits) == 1 else None
    pos = groups.anchor(arch, group)
    return {
        "id": group["id"],
        "type": "Block",
        "category": "block",
        "color": BLOCK_COLOUR,
        "params": {},
        "summary": f"{len(group['nodes'])} layers",
        "shape": format_shape(last.output_shape) if last and last.output_shape else None,
        "param_count": format_count(total) if total else None,
        "error": f"{broken.id}: {sentences(broken.error.message, broken.error.hint)}"
        if broken
        else None,
        "fix": None,
        "ports": [
            {
                "id": f"in{k}",
                "label": member if port == 0 else f"{member}·{port + 1}",
                "spare": False,
            }
            for k, (member, port) in enumerate(entries)
        ],
        "has_output": bool(exits),
        "out_ports": []
        if len(exits) < 2
        else [{"id": exit_handle(exits, m), "label": m, "shape": ""} for m in exits],
        "pos": list(pos) if pos is not None else None,
        "tint": None,
        "stat": None,
        "block": {"name": group["name"], "layers": len(group["nodes"])},
        "clip": block_clip(arch, group),
    }


def block_clip(arch: Architecture, group: dict[str, Any]) -> dict[str, Any]:
    """What Ctrl/Cmd+C copies for a folded block: its layers and the edges among them."""
    inside = set(group["nodes"])
    nodes = []
    edges = []
    for member in groups.members_in_order(arch, group):
        pos = arch.pos_of(member)
        nodes.append(
            {
                "id": member,
                "type": arch.type_of(member),
                "params": arch.user_params_of(member),
                "pos": list(pos) if pos is not None else None,
            }
        )
        pairs = zip(arch.inputs_of(member), arch.input_ports_of(member), strict=True)
        for port, (src, source_port) in enumerate(pairs):
            if src in inside:
                edge = {"source": src, "target": member, "port": port}
                if source_port is not None:
                    edge["source_port"] = source_port
                edges.append(edge)
    return {"nodes": nodes, "edges": edges}


def group_summaries(arch: Architecture, analysis: Analysis | None) -> list[dict[str, Any]]:
    """Every block for the canvas's frames and buttons: id, name, members, collapsed."""
    return [
        {
            "id": group["id"],
            "name": group["name"],
            "nodes": list(group["nodes"]),
            "collapsed": group["collapsed"],
            "param_count": format_count(groups.param_total(group, analysis)),
        }
        for group in arch.groups
    ]


def fold_collapsed(
    arch: Architecture,
    analysis: Analysis | None,
    nodes: list[dict[str, Any]],
    edges: list[dict[str, Any]],
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Nodes and edges as the canvas shows them: each collapsed block folded into one node,
    the edges inside it hidden and the edges crossing its border moved onto its ports."""
    folded = [g for g in arch.groups if g["collapsed"]]
    for edge in edges:
        edge["ends"] = {
            "source": edge["source"],
            "target": edge["target"],
            "port": edge["target_port"],
            "source_port": edge["source_port"],
        }
    if not folded:
        return nodes, edges
    owner = {n: g for g in folded for n in g["nodes"]}
    entries = {g["id"]: groups.entries(arch, g) for g in folded}
    exits = {g["id"]: groups.exits(arch, g) for g in folded}
    shown = [n for n in nodes if n["id"] not in owner]
    shown += [block_payload(arch, g, analysis, entries[g["id"]], exits[g["id"]]) for g in folded]
    kept = []
    for edge in edges:
        src_group, dst_group = owner.get(edge["source"]), owner.get(edge["target"])
        if src_group is not None and src_group is dst_group:
            continue  # inside one collapsed block
        if src_group is not None:
            edge["source_handle"] = exit_handle(exits[src_group["id"]], edge["source"])
            edge["source"] = src_group["id"]
        if dst_group is not None:
            slot = (edge["target"], edge["target_port"])
            edge["target_port"] = entries[dst_group["id"]].index(slot)
            edge["target"] = dst_group["id"]
        kept.append(edge)
    return shown, kept
