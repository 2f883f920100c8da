"""Composite blocks: named groups of nodes that the canvas can collapse into one node.

A group is a view of the graph, not part of the model. The model stays flat (one submodule
per layer, named by its node id), so grouping, collapsing or ungrouping never changes the
generated code, the weight names or a trained checkpoint. Groups do not nest: a node
belongs to at most one. Graph JSON keeps them in the optional `groups` list:
`{"id": "block1", "name": "Residual block", "nodes": ["conv1", ...], "collapsed": false}`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import networkx as nx

from .errors import BuilderError, raise_all
from .graph_file import ID_PATTERN
from .layers import get_spec

if TYPE_CHECKING:
    from .graph import Architecture
    from .shapes import Analysis

GROUP_KEYS = {"id", "name", "nodes", "collapsed"}
MAX_NAME = 64
MAX_GROUPS = 200


# ---- reading ------------------------------------------------------------------------------


def find(arch: Architecture, group_id: Any) -> dict[str, Any] | None:
    """The group with this id, or None."""
    return next((g for g in arch.groups if g["id"] == group_id), None)


def get(arch: Architecture, group_id: Any) -> dict[str, Any]:
    """The group with this id; a BuilderError naming it when there is none."""
    group = find(arch, group_id)
    if group is None:
        raise BuilderError(f"there is no block named {str(group_id)[:64]!r}", field="group")
    return group


def group_of(arch: Architecture, node_id: str) -> dict[str, Any] | None:
    """The group a node belongs to, or None."""
    return next((g for g in arch.groups if node_id in g["nodes"]), None)


def selected_block(arch: Architecture, selection: list[str]) -> str | None:
    """The block a selection stands for: a collapsed block's node, or all of a block's layers."""
    if len(selection) == 1 and find(arch, selection[0]) is not None:
        return selection[0]
    picked = set(selection)
    return next((g["id"] for g in arch.groups if picked and set(g["nodes"]) == picked), None)


def selectable(arch: Architecture, ident: Any) -> bool:
    """True for a node or a block of the graph: what the canvas can select."""
    return ident in arch or find(arch, ident) is not None


def param_total(group: dict[str, Any], analysis: Analysis | None) -> int:
    """The trainable parameters of the block's layers, as the analysis counted them."""
    if analysis is None:
        return 0
    return sum(info.params for n in group["nodes"] if (info := analysis.nodes.get(n)))


def members_in_order(arch: Architecture, group: dict[str, Any]) -> list[str]:
    """The group's nodes in the graph's topological order (inputs first)."""
    inside = set(group["nodes"])
    return [n for n in arch.topological_order() if n in inside]


def entries(arch: Architecture, group: dict[str, Any]) -> list[tuple[str, int]]:
    """Where the block takes input: (member, port) for each edge coming in from outside,
    plus the next port of each member still short of inputs (an open entry: the first
    layer of a fresh block, or the Add of a residual block whose skip is not wired yet)."""
    inside = set(group["nodes"])
    slots = []
    for member in members_in_order(arch, group):
        inputs = arch.inputs_of(member)
        slots += [(member, port) for port, src in enumerate(inputs) if src not in inside]
        spec = get_spec(arch.type_of(member))
        if spec.max_inputs != 0 and len(inputs) < max(spec.min_inputs, 1):
            slots.append((member, len(inputs)))
    return slots


def open_entries(arch: Architecture, group: dict[str, Any]) -> list[tuple[str, int]]:
    """The entries nothing feeds yet."""
    return [(m, port) for m, port in entries(arch, group) if port >= len(arch.inputs_of(m))]


def exits(arch: Architecture, group: dict[str, Any]) -> list[str]:
    """The members whose output leaves the block (or goes nowhere: a block's last layer)."""
    inside = set(group["nodes"])
    return [
        m
        for m in members_in_order(arch, group)
        if not arch.outputs_of(m) or any(s not in inside for s in arch.outputs_of(m))
    ]


def anchor(arch: Architecture, group: dict[str, Any]) -> tuple[float, float] | None:
    """The top-left corner of the members' positions: where the collapsed block sits."""
    return corner(arch, group["nodes"])


def corner(arch: Architecture, node_ids: list[str]) -> tuple[float, float] | None:
    """The top-left corner of the nodes' positions (None: none has a position)."""
    spots = [p for n in node_ids if (p := arch.pos_of(n)) is not None]
    if not spots:
        return None
    return (min(x for x, _ in spots), min(y for _, y in spots))


def to_json(arch: Architecture) -> list[dict[str, Any]]:
    """The `groups` section (members in graph order, so a file diff stays small)."""
    order = {n: i for i, n in enumerate(arch.node_ids)}
    return [
        {
            "id": g["id"],
            "name": g["name"],
            "nodes": sorted(g["nodes"], key=order.__getitem__),
            "collapsed": g["collapsed"],
        }
        for g in arch.groups
    ]


# ---- editing ------------------------------------------------------------------------------


def create(arch: Architecture, nodes: list[str], name: str | None = None) -> str:
    """Group the nodes into a new block; returns its id."""
    members = list(dict.fromkeys(nodes))
    if not members:
        raise BuilderError("select the layers to group first", field="group")
    for node_id in members:
        if node_id not in arch:
            raise BuilderError(f"there is no node named {str(node_id)[:64]!r}", field="group")
        owner = group_of(arch, node_id)
        if owner is not None:
            raise BuilderError(
                f"{node_id} is already in the block {owner['name']!r}",
                node=node_id,
                hint="Ungroup that block first: blocks do not nest.",
            )
    if len(arch.groups) >= MAX_GROUPS:
        raise BuilderError(f"a graph may hold at most {MAX_GROUPS} blocks", field="group")
    check_one_piece(arch, members)
    group_id = fresh_group_id(arch)
    label = check_name(name if name is not None else f"Block {group_id[len('block') :]}")
    arch.groups.append({"id": group_id, "name": label, "nodes": members, "collapsed": False})
    return group_id


def check_one_piece(arch: Architecture, members: list[str]) -> None:
    """Refuse a block that a path leaves and re-enters: collapsed, it would feed itself."""
    inside = set(members)
    below = set().union(*(nx.descendants(arch.graph, m) for m in members)) - inside
    above = set().union(*(nx.ancestors(arch.graph, m) for m in members)) - inside
    between = sorted(below & above, key=arch.node_ids.index)
    if between:
        raise BuilderError(
            f"{between[0]} lies between layers of the block but is not in it",
            node=between[0],
            hint=f"Select {between[0]} too, or leave out the layers on one side of it.",
        )


def fresh_group_id(arch: Architecture) -> str:
    """block1, block2, ...: the first id no group or node uses."""
    n = 1
    while f"block{n}" in arch or find(arch, f"block{n}") is not None:
        n += 1
    return f"block{n}"


def check_name(name: Any) -> str:
    """A block's display name: text of 1 to 64 characters (shown as text, never as code)."""
    if not isinstance(name, str) or not name.strip() or len(name.strip()) > MAX_NAME:
        raise BuilderError(
            f"a block name is text of 1 to {MAX_NAME} characters", field="group.name"
        )
    return name.strip()


def ungroup(arch: Architecture, group_id: str) -> None:
    """Dissolve the block; its layers stay where they are."""
    arch.groups.remove(get(arch, group_id))


def set_collapsed(arch: Architecture, group_id: str, collapsed: bool) -> None:
    """Show the block as one node (True) or as its layers (False)."""
    get(arch, group_id)["collapsed"] = bool(collapsed)


def rename(arch: Architecture, group_id: str, name: Any) -> None:
    """Give the block a new display name."""
    get(arch, group_id)["name"] = check_name(name)


def shift(arch: Architecture, group_id: str, to: tuple[float, float]) -> None:
    """Move the block so its top-left corner is at `to`, its layers keeping their layout."""
    group = get(arch, group_id)
    corner = anchor(arch, group)
    if corner is None:
        return
    dx, dy = to[0] - corner[0], to[1] - corner[1]
    for node_id in group["nodes"]:
        pos = arch.pos_of(node_id)
        if pos is not None:
            arch.set_pos(node_id, (pos[0] + dx, pos[1] + dy))


def forget_node(arch: Architecture, node_id: str) -> None:
    """A deleted node leaves its block; a block left empty goes too."""
    group = group_of(arch, node_id)
    if group is not None:
        group["nodes"].remove(node_id)
        if not group["nodes"]:
            arch.groups.remove(group)


def rename_member(arch: Architecture, old: str, new: str) -> None:
    group = group_of(arch, old)
    if group is not None:
        group["nodes"] = [new if n == old else n for n in group["nodes"]]


# ---- loading ------------------------------------------------------------------------------


def load_groups(arch: Architecture, raw: Any) -> list[dict[str, Any]]:
    """The checked `groups` section of a graph file; every bad group is reported at once."""
    if not isinstance(raw, list):
        raise BuilderError('"groups" must be a list', field="groups")
    if len(raw) > MAX_GROUPS:
        raise BuilderError(f"{len(raw)} blocks is more than the limit of {MAX_GROUPS}")
    groups: list[dict[str, Any]] = []
    problems = []
    owner: dict[str, str] = {}
    for item in raw:
        try:
            group = _load_group(arch, item, groups)
            for node_id in group["nodes"]:
                if node_id in owner:
                    raise BuilderError(
                        f"{node_id} is in both {owner[node_id]} and {group['id']}",
                        node=node_id,
                        hint="A layer belongs to at most one block.",
                    )
                owner[node_id] = group["id"]
            groups.append(group)
        except BuilderError as err:
            problems.append(err)
    raise_all(problems)
    return groups


def _load_group(arch: Architecture, item: Any, earlier: list[dict]) -> dict[str, Any]:
    if not isinstance(item, dict):
        raise BuilderError("each group must be a JSON object", field="groups")
    group_id = item.get("id")
    if not isinstance(group_id, str) or not ID_PATTERN.fullmatch(group_id):
        raise BuilderError(
            f"group id {str(group_id)[:64]!r} is not a valid name",
            field="groups",
            hint="Use letters, digits and _ (not first a digit), at most 64 characters.",
        )
    where = f"groups.{group_id}"
    unknown = sorted(str(k)[:40] for k in item if k not in GROUP_KEYS)
    if unknown:
        raise BuilderError(f"{where}: unknown key {unknown[0]!r}", field=where)
    if group_id in arch or any(g["id"] == group_id for g in earlier):
        raise BuilderError(f"{where}: the id is already taken by a node or a block", field=where)
    nodes = item.get("nodes")
    if not isinstance(nodes, list) or not nodes or not all(isinstance(n, str) for n in nodes):
        raise BuilderError(f"{where}: nodes must be a list of node ids", field=where)
    missing = [n for n in nodes if n not in arch]
    if missing:
        raise BuilderError(f"{where}: there is no node named {missing[0][:64]!r}", field=where)
    collapsed = item.get("collapsed", False)
    if not isinstance(collapsed, bool):
        raise BuilderError(f"{where}: collapsed must be true or false", field=where)
    try:
        name = check_name(item.get("name", group_id))
    except BuilderError as err:
        err.field = where
        raise
    return {
        "id": group_id,
        "name": name,
        "nodes": list(dict.fromkeys(nodes)),
        "collapsed": collapsed,
    }
