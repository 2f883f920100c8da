"""The converter's records (a node about to be added, the result) and small fx helpers."""

from __future__ import annotations

import difflib
import operator
import re
from dataclasses import dataclass, field
from typing import Any

from torch.fx.node import map_arg

from ..graph import Architecture
from ..layers import REGISTRY
from .mapped import shape_of
from .problems import Unsupported


@dataclass
class Pending:
    """A node about to be added: type, params, input node ids and where its weights come from."""

    id: str
    type: str
    params: dict[str, Any]
    inputs: list[tuple[str, str | None]]  # (node id, output port or None)
    where: str
    module_path: str | None = None  # the original submodule whose state it takes
    param_target: str | None = None  # or the original parameter / buffer (PositionalEmbedding)
    fx_nodes: list = field(default_factory=list)


@dataclass
class Conversion:
    """The imported graph and, per node, the original weights it stands for."""

    arch: Architecture
    sources: dict[str, str]  # node id -> original module path or parameter name


def sanitise(name: str) -> str:
    """A module path as a node id: "layer1.0.conv1" -> "layer1_0_conv1"."""
    ident = re.sub(r"\W", "_", name).strip("_") or "node"
    if ident[0].isdigit():
        ident = "n" + ident
    return ident[:60]


class Downstream(Exception):
    """Reads a value whose op was already reported: one problem, not a cascade."""


def getitem():
    return operator.getitem


def cell_outputs(outputs) -> tuple[list, dict]:
    """LSTMCell returns (h, c): h flows on, c is read through its port."""
    indexed = {n.args[1]: n for n in outputs if n.target is getitem()}
    if len(indexed) != len(outputs) or 0 not in indexed:
        raise Unsupported("its outputs are used in a way the importer cannot follow")
    ports = {indexed[1]: "c"} if 1 in indexed else {}
    return [indexed[0]], ports


def causal_attention(node) -> bool:
    if getattr(node.target, "_opname", None) != "scaled_dot_product_attention":
        return False
    return bool(node.args[5] if len(node.args) > 5 else node.kwargs.get("is_causal", False))


def swaps_batch(node) -> bool:
    if getattr(node.target, "_opname", None) != "transpose":
        return False
    rank = len(shape_of(node))
    return {node.args[1] % rank, node.args[2] % rank} == {0, 1}


def is_last_step(node) -> bool:
    return (
        getattr(node.target, "_opname", None) == "select"
        and node.args[1] in (1, -2)
        and node.args[2] == -1
        and len(shape_of(node.args[0])) == 3
    )


def flat_args(node) -> list:
    found = []
    map_arg((node.args, node.kwargs), found.append)
    return found


def used_outside(node, members) -> bool:
    return any(user not in members for user in node.users)


def ancestors(nodes: dict[str, Pending], outputs: list[str]) -> set[str]:
    seen, stack = set(), list(outputs)
    while stack:
        node_id = stack.pop()
        if node_id in seen:
            continue
        seen.add(node_id)
        stack.extend(src for src, _ in nodes[node_id].inputs)
    inputs = {n for n, p in nodes.items() if p.type == "Input"}
    return seen | inputs


def close_types(name: str) -> str:
    close = difflib.get_close_matches(name, list(REGISTRY), n=3, cutoff=0.6)
    if close:
        return f"Close layer types: {', '.join(close)}."
    return "The layers branch is adding more layer types; until then build this part differently."


ZERO_MAKERS = {"zeros", "zeros_like", "new_zeros"}
PASSING = {"to", "_to_copy", "alias", "clone", "contiguous", "detach", "lift_fresh_copy"}


def is_zeros(node) -> bool:
    """A tensor made by torch.zeros (possibly moved with .to(device)): a default state."""
    while getattr(node.target, "_opname", None) in PASSING:
        node = node.args[0]
    return getattr(node.target, "_opname", None) in ZERO_MAKERS
