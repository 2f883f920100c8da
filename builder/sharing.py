"""Shared weights: a node that calls another node's layer again, with the same weights.

A graph that applies one layer at several places (a decoder unrolled over its steps, the
two towers of a siamese network) gives the second place the param `shares`, the id of the
node that owns the layer. The generated code then builds the layer once and calls it at
each place (`self.gru(...)` twice), so the weights are trained, counted and saved once,
under the owner's name, exactly as a hand-written module that calls `self.gru` in a loop.

Because the call is the owner's layer, the sharer must be the same layer: same type, the
settings that build it and inputs of the same sizes (options of the call itself, such as a
recurrent layer's `return`, may differ). Its own init is not used and its trainable switch
follows the owner's.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .errors import BuilderError
from .layers import get_spec

if TYPE_CHECKING:
    from .graph import Architecture
    from .shapes import NodeInfo

# Params a sharer keeps out of the layer it calls: the owner's init is the one that runs.
OWN_PARAMS = {"shares", "weight_init", "bias_init"}


def owner_of(arch: Architecture, node_id: str) -> str:
    """The node whose layer this node calls: its `shares` target, or itself."""
    return arch.params_of(node_id).get("shares") or node_id


def sharers(arch: Architecture) -> list[str]:
    """Nodes that call another node's layer (they own no weights), in graph order."""
    return [n for n in arch.node_ids if arch.params_of(n).get("shares")]


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


def follow_copies(arch: Architecture, fresh: dict[str, str], *, outside: bool = True) -> None:
    """After copying nodes (old id -> new id): a copied sharer whose owner was copied too
    calls the copy, so a pasted pair or a reused block keeps its own weights together.

    outside=False (a saved block brought into another graph): a sharer whose owner was not
    among the copies gets its own weights, rather than binding to whatever has that id here.
    """
    for new in fresh.values():
        owner = arch.params_of(new).get("shares")
        if owner in fresh:
            arch.update_params(new, shares=fresh[owner])
        elif owner and not outside:
            share_layer(arch, new, None)


def sharing_errors(arch: Architecture, nodes: dict[str, NodeInfo]) -> list[BuilderError]:
    """One error per sharer whose owner is missing, of another kind, or a different layer."""
    errors = []
    for node_id in sharers(arch):
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
    root = arch.params_of(owner).get("shares")
    if root == node_id:
        return (
            f"it and {owner} each share the other's weights",
            "Clear shares on one of the two; the other then owns the layer.",
        )
    if root:
        return f"{owner} shares {root}'s weights itself", f"Set shares to {root}."
    return _layer_problem(arch, nodes, node_id, owner)


def analysed(info: NodeInfo | None) -> bool:
    """The node's shapes are known and sound, so its layer can be built from them."""
    return info is not None and info.error is None and info.output_shape is not None


def _layer_problem(arch, nodes, node_id: str, owner: str) -> tuple[str, str] | None:
    """Would this node's settings and inputs build the very layer the owner has?

    Only what builds the layer must match; options of the call itself (a recurrent layer's
    `return`, attention's `is_causal`) may differ from place to place.
    """
    mine, theirs = nodes.get(node_id), nodes.get(owner)
    if not (analysed(mine) and analysed(theirs)):
        return None  # an unconnected or broken node already has its own error
    spec = get_spec(arch.type_of(node_id))
    own, owners = arch.params_of(node_id), arch.params_of(owner)
    layer = spec.emit_init(theirs.input_shapes, owners)
    for name, value in own.items():
        changed = {**owners, name: value}
        if name not in OWN_PARAMS and spec.emit_init(theirs.input_shapes, changed) != layer:
            return (
                f"it calls {owner}'s layer, so it needs {owner}'s settings: "
                f"{name} is {value!r} here and {owners.get(name)!r} there",
                f"Set {name} to {owners.get(name)!r}, or clear shares.",
            )
    built_here = spec.emit_init(mine.input_shapes, owners)
    if built_here != layer:
        return (
            f"its input would need {built_here}, but {owner}'s layer is {layer}",
            f"Feed it inputs of the sizes {owner} gets.",
        )
    return None
