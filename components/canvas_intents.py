"""Edit intents from the canvas, applied to a copy of the Architecture.

The browser is not trusted: every intent is checked here (kind, ids, numbers), and the
graph's own checks refuse bad edits with a BuilderError. Nothing here imports Streamlit.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from builder import blocks, groups, sharing
from builder.errors import BuilderError
from builder.graph import Architecture
from builder.layers import get_spec
from builder.layout import place_inserted
from builder.shapes import analyse

MAX_PASTE_NODES = 200
# Kinds the view handles itself, because they act on history, not on the graph.
HISTORY_KINDS = ("undo", "redo")


@dataclass
class IntentResult:
    """A graph after one intent, and what the page should do about it."""

    arch: Architecture
    selected: list[str] = field(default_factory=list)
    record: bool = True  # an undo step
    redraw: bool = True  # send the canvas a new revision
    relayout: bool = False  # ask the canvas to run ELK
    refusal: BuilderError | None = None  # shown at `at` on the canvas
    at: tuple[float, float] = (0.0, 0.0)


MAX_BATCH = 500


def unseen_intents(message: Any, ack: dict | None) -> tuple[list[dict], dict | None]:
    """The intents of one canvas trigger not applied yet, and the receipt after them.

    The canvas resends every intent until the receipt (`ack`: its mount's `client` and the
    last `seq` applied) covers it, so a trigger that replaced an unread one loses nothing,
    and a resent intent is applied once. A plain intent dict (no batch) is taken as it is.
    """
    if not isinstance(message, dict) or not isinstance(message.get("intents"), list):
        return [message], ack
    client = message.get("client")
    if not isinstance(client, str):
        return [], ack
    done = ack["seq"] if ack and ack.get("client") == client else 0
    fresh = []
    for intent in message["intents"][:MAX_BATCH]:
        seq = intent.get("seq") if isinstance(intent, dict) else None
        if isinstance(seq, int) and not isinstance(seq, bool) and seq > done:
            fresh.append(intent)
            done = seq
    return fresh, {"client": client, "seq": done}


def apply_intent(arch: Architecture, intent: Any, selected: list[str]) -> IntentResult:
    """Apply one intent to a copy of arch. A refused edit leaves the graph as it was."""
    if not isinstance(intent, dict) or intent.get("kind") not in HANDLERS:
        raise BuilderError(
            "the canvas sent an edit LayerCraft does not know", field="intent", hint="Reload."
        )
    new = arch.copy()
    result = IntentResult(new, [n for n in selected if groups.selectable(new, n)])
    try:
        HANDLERS[intent["kind"]](new, intent, result)
    except BuilderError as err:
        return IntentResult(
            arch,
            result.selected,
            record=False,
            redraw=True,
            refusal=err,
            at=_point(intent, default=(0.0, 0.0)),
        )
    result.selected = [n for n in result.selected if groups.selectable(result.arch, n)]
    return result


# ---- checking what the browser sent --------------------------------------------------------


def _text(intent: dict, key: str) -> str:
    value = intent.get(key)
    if not isinstance(value, str) or not value or len(value) > 100:
        raise BuilderError(f"expected a name for {key!r}", field=key)
    return value


def _number(value: Any, key: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise BuilderError("expected a number", field=key)
    return float(value)


def _point(intent: dict, default: tuple[float, float] | None = None) -> tuple[float, float]:
    try:
        return (_number(intent.get("x"), "x"), _number(intent.get("y"), "y"))
    except BuilderError:
        if default is not None:
            return default
        raise


def _ids(value: Any, key: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise BuilderError("expected a list of node ids", field=key)
    return value


def _port(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 1000:
        raise BuilderError("expected a port number", field="port")
    return value


# ---- the intents ---------------------------------------------------------------------------


def _add(arch: Architecture, intent: dict, result: IntentResult) -> None:
    node_id = arch.add_node(_text(intent, "type"), pos=_point(intent))
    result.selected = [node_id]


def _add_on_edge(arch: Architecture, intent: dict, result: IntentResult) -> None:
    """Insert a new layer into the edge source -> target, keeping the target's port."""
    src, dst = _text(intent, "source"), _text(intent, "target")
    type_name = _text(intent, "type")
    if src not in arch or dst not in arch or not arch.graph.has_edge(src, dst):
        raise BuilderError("there is no such edge", edge=(src[:64], dst[:64]))
    spec = get_spec(type_name)
    if spec.max_inputs == 0:
        raise BuilderError(f"{type_name} takes no input, so it cannot go inside an edge")
    port = arch.inputs_of(dst).index(src)
    new_id = arch.add_node(type_name, pos=_point(intent))
    arch.disconnect(src, dst)
    arch.connect(src, new_id)
    arch.connect(new_id, dst, port)
    place_inserted(arch, src, new_id)
    result.selected = [new_id]


def _insert_after(arch: Architecture, intent: dict, result: IntentResult) -> None:
    after = result.selected[0] if result.selected else None
    new_id = arch.insert_after(after, _text(intent, "type"))
    if after is not None:
        place_inserted(arch, after, new_id)
    result.selected = [new_id]


def _source_port(value: Any) -> str | None:
    """The named output an edge reads (h_n, part1 ...); None for the node's plain output."""
    if value is None:
        return None
    if not isinstance(value, str) or not value.isidentifier() or len(value) > 64:
        raise BuilderError("expected the name of an output port", field="source_port")
    return value


def _connect(arch: Architecture, intent: dict, result: IntentResult) -> None:
    """Connect to a port; refused when the target then cannot work out its shape."""
    src, dst = _text(intent, "source"), _text(intent, "target")
    source_port = _source_port(intent.get("source_port"))
    port = _port(intent.get("port", 0))
    if groups.find(arch, src):
        src, source_port = _block_exit(arch, groups.get(arch, src), source_port), None
    if groups.find(arch, dst):
        dst, port = _block_entry(arch, groups.get(arch, dst), port)
    arch.connect(src, dst, port, source_port=source_port)
    refuse_if_target_breaks(arch, dst)


def _block_exit(arch: Architecture, group: dict, member: str | None) -> str:
    """The layer an edge from a collapsed block's handle leaves from."""
    exits = groups.exits(arch, group)
    if member in exits or (member is None and len(exits) == 1):
        return member or exits[0]
    raise BuilderError(f"{group['name']} has no such output", field="source_port")


def _block_entry(arch: Architecture, group: dict, port: int) -> tuple[str, int]:
    """The layer and port an edge into a collapsed block's handle goes to."""
    slots = groups.entries(arch, group)
    if port >= len(slots):
        raise BuilderError(
            f"{group['name']} has no free input there", hint="Expand the block to wire inside it."
        )
    return slots[port]


def refuse_if_target_breaks(arch: Architecture, dst: str) -> None:
    """A BuilderError when dst has all its inputs with known shapes and still fails."""
    analysis = analyse(arch)
    info = analysis.nodes.get(dst)
    spec = get_spec(arch.type_of(dst))
    if info is None or info.error is None or len(arch.inputs_of(dst)) < spec.min_inputs:
        return
    err = info.error
    raise BuilderError(
        f"{dst} would not work with this input: {err.message}", node=dst, hint=err.hint
    )


def _delete(arch: Architecture, intent: dict, result: IntentResult) -> None:
    nodes = _ids(intent.get("nodes", []), "nodes")
    edges = intent.get("edges", [])
    if not isinstance(edges, list):
        raise BuilderError("expected a list of edges", field="edges")
    for edge in edges:
        if not isinstance(edge, dict):
            raise BuilderError("expected an edge", field="edges")
        src, dst = _text(edge, "source"), _text(edge, "target")
        if src in arch and dst in arch and arch.graph.has_edge(src, dst):
            arch.disconnect(src, dst)
    for ident in nodes:
        if groups.find(arch, ident):  # a collapsed block: its layers go with it
            for member in list(groups.get(arch, ident)["nodes"]):
                arch.remove_node(member)
        elif ident in arch:
            arch.remove_node(ident)
    result.selected = []


def _move(arch: Architecture, intent: dict, result: IntentResult) -> None:
    """Store positions; a drag is no undo step and needs no redraw, a layout is both."""
    positions = intent.get("positions")
    if not isinstance(positions, dict):
        raise BuilderError("expected positions", field="positions")
    for node_id, pos in positions.items():
        if not isinstance(pos, list) or len(pos) != 2:
            continue
        point = (_number(pos[0], "x"), _number(pos[1], "y"))
        if node_id in arch:
            arch.set_pos(node_id, point)
        elif groups.find(arch, node_id):
            groups.shift(arch, node_id, point)
    is_layout = intent.get("layout") is True
    result.record = is_layout
    result.redraw = False


def _select(arch: Architecture, intent: dict, result: IntentResult) -> None:
    result.selected = [n for n in _ids(intent.get("ids"), "ids") if groups.selectable(arch, n)]
    result.record = False
    result.redraw = False


def _paste(arch: Architecture, intent: dict, result: IntentResult) -> None:
    """Copies of the clipboard's nodes under fresh ids, wired as they were among themselves."""
    nodes = intent.get("nodes")
    if not isinstance(nodes, list) or not 0 < len(nodes) <= MAX_PASTE_NODES:
        raise BuilderError(f"paste takes 1 to {MAX_PASTE_NODES} nodes", field="nodes")
    fresh: dict[str, str] = {}
    for node in nodes:
        if not isinstance(node, dict):
            raise BuilderError("expected a node", field="nodes")
        old = _text(node, "id")
        spec = get_spec(_text(node, "type"))
        pos = node.get("pos")
        point = (_number(pos[0], "x"), _number(pos[1], "y")) if isinstance(pos, list) else None
        params = node.get("params") or {}
        if old in fresh:
            raise BuilderError("duplicate node in the clipboard", node=old[:64])
        fresh[old] = arch.add_node(
            spec.type, params, id=arch.fresh_id(spec.id_prefix or spec.type.lower()), pos=point
        )
    sharing.follow_copies(arch, fresh)
    edges = intent.get("edges") or []
    if not isinstance(edges, list):
        raise BuilderError("expected a list of edges", field="edges")
    wired = []
    for edge in edges:
        if isinstance(edge, dict) and edge.get("source") in fresh and edge.get("target") in fresh:
            port, source_port = _port(edge.get("port", 0)), _source_port(edge.get("source_port"))
            wired.append((port, fresh[edge["source"]], fresh[edge["target"]], source_port or ""))
    for _, src, dst, source_port in sorted(wired):
        arch.connect(src, dst, source_port=source_port or None)
    result.selected = list(fresh.values())
    _paste_groups(arch, intent.get("groups") or [], fresh, result)


def _paste_groups(arch: Architecture, pasted: Any, fresh: dict[str, str], result) -> None:
    """Copied blocks come back as blocks of the fresh layers, folded as they were."""
    if not isinstance(pasted, list):
        raise BuilderError("expected a list of blocks", field="groups")
    for item in pasted[: groups.MAX_GROUPS]:
        if not isinstance(item, dict):
            raise BuilderError("expected a block", field="groups")
        members = [fresh[n] for n in _ids(item.get("nodes"), "groups") if n in fresh]
        if not members:
            continue
        gid = groups.create(arch, members, item.get("name"))
        if item.get("collapsed") is True:
            groups.set_collapsed(arch, gid, True)
            result.selected = [n for n in result.selected if n not in members] + [gid]


def _group(arch: Architecture, intent: dict, result: IntentResult) -> None:
    """Group the nodes into a new block; its layers stay selected, so the inspector shows
    the block (to name it) and the canvas shows the same selection."""
    name = intent.get("name")
    gid = groups.create(arch, _ids(intent.get("nodes"), "nodes"), None if name is None else name)
    result.selected = list(groups.get(arch, gid)["nodes"])


def _ungroup(arch: Architecture, intent: dict, result: IntentResult) -> None:
    gid = _text(intent, "group")
    members = list(groups.get(arch, gid)["nodes"])
    groups.ungroup(arch, gid)
    result.selected = members
    result.relayout = True


def _collapse(arch: Architecture, intent: dict, result: IntentResult) -> None:
    """Fold a block into one node or open it again; the layout makes room either way."""
    gid = _text(intent, "group")
    folded = intent.get("collapsed") is True
    groups.set_collapsed(arch, gid, folded)
    result.selected = [gid] if folded else []
    result.relayout = True


def _add_block(arch: Architecture, intent: dict, result: IntentResult) -> None:
    """A saved block from My blocks, dropped at a point of the canvas."""
    block = blocks.load_block(_text(intent, "block"))
    result.selected = [blocks.insert_block(arch, block, at=_point(intent))]


def _direction(arch: Architecture, intent: dict, result: IntentResult) -> None:
    arch.set_layout_direction(intent.get("direction"))
    result.relayout = True


def _set_param(arch: Architecture, intent: dict, result: IntentResult) -> None:
    node_id, name = _text(intent, "node"), _text(intent, "name")
    arch.update_params(node_id, **{name: intent.get("value")})


HANDLERS = {
    "add": _add,
    "add_on_edge": _add_on_edge,
    "insert_after": _insert_after,
    "connect": _connect,
    "delete": _delete,
    "move": _move,
    "select": _select,
    "paste": _paste,
    "direction": _direction,
    "group": _group,
    "ungroup": _ungroup,
    "collapse": _collapse,
    "add_block": _add_block,
    "set_param": _set_param,
}
