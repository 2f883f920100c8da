"""Positions for a graph drawn top to bottom: each node one row below its deepest input."""

from __future__ import annotations

import networkx as nx

from .graph import Architecture

ROW_HEIGHT = 110
COLUMN_WIDTH = 230
# One step along the flow: the canvas draws a node about 200 x 84 px, plus room for the edge.
FLOW_STEP = {"DOWN": (0.0, 110.0), "RIGHT": (260.0, 0.0)}


def layered_positions(arch: Architecture) -> dict[str, tuple[float, float]]:
    """Node id -> (x, y): rows by longest path from an input, branches side by side."""
    depth: dict[str, int] = {}
    for node_id in arch.topological_order():
        inputs = arch.inputs_of(node_id)
        depth[node_id] = 1 + max((depth[s] for s in inputs), default=-1)
    rows: dict[int, list[str]] = {}
    for node_id in arch.topological_order():
        rows.setdefault(depth[node_id], []).append(node_id)
    positions = {}
    for row, members in rows.items():
        offset = (len(members) - 1) * COLUMN_WIDTH / 2
        for col, node_id in enumerate(members):
            positions[node_id] = (col * COLUMN_WIDTH - offset, row * ROW_HEIGHT)
    return positions


def apply_layout(arch: Architecture) -> None:
    """Store layered positions on every node."""
    for node_id, pos in layered_positions(arch).items():
        arch.set_pos(node_id, pos)


def place_inserted(arch: Architecture, source: str, new: str) -> None:
    """Put a layer just inserted after `source` one step further along the flow, and push
    what follows it along so nothing overlaps (one edit, one undo step; no full re-layout)."""
    pos = arch.pos_of(source)
    if pos is None:
        return
    step = FLOW_STEP[arch.layout.get("direction", "DOWN")]
    arch.set_pos(new, (pos[0] + step[0], pos[1] + step[1]))
    make_room_after(arch, new)


def make_room_after(arch: Architecture, node_id: str) -> None:
    """Shift node_id's descendants along the flow until its successors sit a step beyond it."""
    pos = arch.pos_of(node_id)
    if pos is None:
        return
    step = FLOW_STEP[arch.layout.get("direction", "DOWN")]
    axis = 0 if step[0] else 1
    wanted = pos[axis] + step[axis]
    gaps = [p[axis] - wanted for s in arch.outputs_of(node_id) if (p := arch.pos_of(s))]
    shift = -min(gaps, default=0.0)
    if shift <= 0:
        return
    for later in nx.descendants(arch.graph, node_id):
        p = arch.pos_of(later)
        if p is not None:
            arch.set_pos(later, (p[0] + shift, p[1]) if axis == 0 else (p[0], p[1] + shift))
