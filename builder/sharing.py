"""Shared weights: a node that calls another node's layer again, with the same weights.

A graph that applies one layer at several places (a decoder unrolled over its steps, the
two towers of a siamese network) gives the second place the param `shares`, the id of the
node that owns the layer. The generated code then builds the layer once and calls it at
each place (`self.gru(...)` twice), so the weights are trained, counted and saved once,
under the owner's name, exactly as a hand-written module that calls `self.gru` in a loop.

Because the call is the owner's layer, the sharer must be the same layer: same type, same
settings and the same input sizes. Its own init is not used and its trainable switch
follows the owner's.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .errors import BuilderError
from .layers import get_spec

if TYPE_CHECKING:
    from .graph import Architecture
    from .shapes import NodeInfo

# Params that are the sharer's own business, not the layer's: they may differ from the owner's.
OWN_PARAMS = {"shares", "weight_init", "bias_init"}


def owner_of(arch: Architecture, node_id: str) -> str:
    """The node whose layer this node calls: its `shares` target, or itself."""
    return arch.params_of(node_id).get("shares") or node_id


def sharers(arch: Architecture) -> set[str]:
    """Nodes that call another node's layer (they own no weights)."""
    return {n for n in arch.node_ids if arch.params_of(n).get("shares")}


def candidates(arch: Architecture, node_id: str) -> list[str]:
    """Nodes whose layer node_id could call: same type, owning their weights, not itself."""
    kind = arch.type_of(node_id)
    return [
        n
        for n in arch.node_ids
        if n != node_id and arch.type_of(n) == kind and not arch.params_of(n).get("shares")
    ]


def share_layer(arch: Architecture, node_id: str, owner: str | None) -> None:
    """Make node_id call owner's layer, taking owner's settings; None: its own weights again."""
    if owner is None:
        arch.set_params(
            node_id, {k: v for k, v in arch.user_params_of(node_id).items() if k != "shares"}
        )
        return
    settings = {k: v for k, v in arch.user_params_of(owner).items() if k not in OWN_PARAMS}
    arch.set_params(node_id, {**settings, "shares": owner})


def follow_copies(arch: Architecture, fresh: dict[str, str]) -> None:
    """After copying nodes (old id -> new id): a copied sharer whose owner was copied too
    calls the copy, so a pasted pair or a reused block keeps its own weights together."""
    for new in fresh.values():
        owner = arch.params_of(new).get("shares")
        if owner in fresh:
            arch.update_params(new, shares=fresh[owner])


def sharing_errors(arch: Architecture, nodes: dict[str, NodeInfo]) -> list[BuilderError]:
    """One error per sharer whose owner is missing, of another kind, or a different layer."""
    errors = []
    for node_id in sorted(sharers(arch), key=arch.node_ids.index):
        problem = _problem(arch, nodes, node_id, arch.params_of(node_id)["shares"])
        if problem:
            errors.append(BuilderError(problem[0], node=node_id, field="shares", hint=problem[1]))
    return errors


def _problem(arch, nodes, node_id: str, owner: str) -> tuple[str, str] | None:
    kind = arch.type_of(node_id)
    if owner == node_id:
        return "shares its weights with itself", "Clear shares, or name another layer."
    if owner not in arch or arch.type_of(owner) != kind:
        close = ", ".join(candidates(arch, node_id)[:5])
        return (
            f"there is no {kind} named {owner!r} to share weights with",
            f"Give the id of another {kind}" + (f": {close}." if close else "."),
        )
    if arch.params_of(owner).get("shares"):
        root = arch.params_of(owner)["shares"]
        return f"{owner} shares {root}'s weights itself", f"Set shares to {root}."
    mine, theirs = arch.params_of(node_id), arch.params_of(owner)
    differ = [k for k in mine if k not in OWN_PARAMS and mine.get(k) != theirs.get(k)]
    if differ:
        name = differ[0]
        return (
            f"it calls {owner}'s layer, so it needs {owner}'s settings: "
            f"{name} is {mine.get(name)!r} here and {theirs.get(name)!r} there",
            f"Set {name} to {theirs.get(name)!r}, or clear shares.",
        )
    return _input_problem(arch, nodes, node_id, owner)


def _input_problem(arch, nodes, node_id: str, owner: str) -> tuple[str, str] | None:
    mine, theirs = nodes.get(node_id), nodes.get(owner)
    if mine is None or theirs is None or not mine.input_shapes or not theirs.input_shapes:
        return None  # an unconnected or broken node already has its own error
    spec = get_spec(arch.type_of(node_id))
    params = arch.params_of(owner)
    built_here = spec.emit_init(mine.input_shapes, params)
    built_there = spec.emit_init(theirs.input_shapes, params)
    if built_here != built_there:
        return (
            f"its input would need {built_here}, but {owner}'s layer is {built_there}",
            f"Feed it inputs of the sizes {owner} gets.",
        )
    return None
