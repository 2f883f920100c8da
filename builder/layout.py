"""Positions for a graph drawn top to bottom: each node one row below its deepest input."""

from __future__ import annotations

from .graph import Architecture

ROW_HEIGHT = 110
COLUMN_WIDTH = 230


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
