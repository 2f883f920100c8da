"""`z = mu + torch.randn_like(std) * std` with `std = exp(0.5 * logvar)` -> a Reparameterize node."""

from __future__ import annotations

from .mapped import Mapped


def _op(node) -> str | None:
    return getattr(getattr(node, "target", None), "_opname", None)


def _only_user(node):
    users = list(node.users)
    return users[0] if len(users) == 1 else None


def _logvar_of(std):
    """logvar when std is exp(0.5 * logvar) (or exp(logvar * 0.5), exp(logvar / 2))."""
    if _op(std) != "exp":
        return None
    half = std.args[0]
    scale = {"mul": 0.5, "div": 2}.get(_op(half))
    if scale is None or half.args[1] != scale or not hasattr(half.args[0], "op"):
        return None
    return half.args[0]


def reparameterize_node(noise) -> tuple[Mapped, list] | None:
    """The Reparameterize node for a randn_like(std), and the ops it stands for; else None."""
    if _op(noise) not in ("randn_like", "normal") or not noise.args:
        return None
    std = noise.args[0]
    logvar = _logvar_of(std)
    scaled = _only_user(noise)
    if logvar is None or _op(scaled) != "mul" or set(scaled.args[:2]) != {noise, std}:
        return None
    total = _only_user(scaled)
    if _op(total) != "add" or scaled not in total.args[:2]:
        return None
    mu = total.args[1] if total.args[0] is scaled else total.args[0]
    # The original samples even in eval (that is how it was captured): so does the node.
    return Mapped("Reparameterize", {"sample_in_eval": True}, [mu, logvar]), [scaled, total]
