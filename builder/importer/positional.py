"""Ops on a module's own tensors, mapped to the layer that owns them:
`x + self.pos[:, : x.shape[1]]` -> a PositionalEmbedding node that owns that table,
`torch.cat([self.cls.expand(N, -1, -1), x], dim=1)` -> a ClassToken node that owns that vector,
`F.layer_norm(x, (C,), self.weight, self.bias)` -> a LayerNorm node that owns them,
`self.gamma * x` with a (C, 1, 1) or (D,) parameter -> a LayerScale node that owns it."""

from __future__ import annotations

import torch
from torch.export.graph_signature import InputKind

from ..layers.normalisation import scale_size
from ..layers.sequence import SINUSOIDAL_POSITIONS
from .mapped import Mapped, arg, is_tensor, shape_of
from .problems import Unsupported

SLICING = {"slice", "alias", "detach", "narrow"}
BROADCASTING = {"expand", "alias", "detach"}


def positional_node(converter, node) -> Mapped | None:
    """A PositionalEmbedding when node adds a slice of a (1, max_len, dim) table to x."""
    if getattr(node.target, "_opname", None) not in ("add", "add_") or len(node.args) < 2:
        return None
    x, table = node.args[0], node.args[1]

    def fixed(value) -> bool:  # a table itself (`x + self.pos`) or a slice of one
        return value in converter.constant or converter._is_weight(value)

    if not fixed(table):
        x, table = table, x
    if not fixed(table) or fixed(x):
        return None
    placeholder = _table_placeholder(converter, table)
    if placeholder is None:
        return None
    kind, target = converter.kinds[placeholder.name]
    full = converter.program.state_dict.get(target)
    if full is None:
        full = converter.program.constants.get(target)
    if (
        full is None
        or full.dim() != 3
        or full.shape[0] != 1
        or shape_of(table) != (1, *shape_of(x)[1:])
    ):
        return None
    max_len, dim = full.shape[1], full.shape[2]
    encoding = "learned" if kind == InputKind.PARAMETER else "sinusoidal"
    if encoding == "sinusoidal" and not torch.allclose(
        full, sinusoidal_table(max_len, dim), atol=1e-3
    ):
        raise Unsupported(
            f"adds the fixed table {target!r}, which is not the sine/cosine table of "
            "PositionalEmbedding",
            "Use PositionalEmbedding's sinusoidal table or a learned nn.Parameter.",
        )
    params = {"max_len": int(max_len)}
    if encoding != "learned":
        params["encoding"] = encoding
    return Mapped("PositionalEmbedding", params, [x], {"id": _id(target), "param_target": target})


def class_token_node(converter, node) -> Mapped | None:
    """A ClassToken when node puts a broadcast (1, 1, dim) parameter before x's sequence."""
    if getattr(node.target, "_opname", None) not in ("cat", "concat") or len(node.args[0]) != 2:
        return None
    token, x = node.args[0]
    dim = node.args[1] if len(node.args) > 1 else node.kwargs.get("dim", 0)
    if len(shape_of(x)) != 3 or dim not in (1, -2) or x in converter.constant:
        return None
    source = token
    while getattr(source, "op", None) == "call_function":
        if getattr(source.target, "_opname", None) not in BROADCASTING:
            return None
        source = source.args[0]
    if not converter._is_weight(source):
        return None
    kind, target = converter.kinds[source.name]
    vector = converter.program.state_dict.get(target)
    if (
        kind != InputKind.PARAMETER
        or vector is None
        or tuple(vector.shape) != (1, 1, shape_of(x)[2])
    ):
        return None
    return Mapped("ClassToken", {}, [x], {"id": _id(target), "param_target": target})


def _table_placeholder(converter, node):
    while getattr(node, "op", None) == "call_function":
        if getattr(node.target, "_opname", None) not in SLICING:
            return None
        if node.target._opname == "slice" and (
            node.args[1] != 1 or (len(node.args) > 2 and node.args[2] not in (0, None))
        ):
            return None
        node = node.args[0]
    return node if converter._is_weight(node) else None


def _id(target: str) -> str:
    from .nodes import sanitise

    return sanitise(target)


def sinusoidal_table(length: int, dim: int) -> torch.Tensor:
    """The table PositionalEmbedding(encoding="sinusoidal") builds, from the same source."""
    namespace = {"torch": torch}
    exec(SINUSOIDAL_POSITIONS, namespace)  # our own helper's source, not user input
    return namespace["sinusoidal_positions"](length, dim)


def layer_norm_node(converter, node) -> Mapped | None:
    """`F.layer_norm(x, (C,), self.weight, self.bias, eps)` over the last dim -> a LayerNorm
    node that owns that module's weight and bias (ConvNeXt's channels-first LayerNorm2d
    permutes, then calls it with its own parameters)."""
    if getattr(node.target, "_opname", None) != "layer_norm":
        return None
    x = node.args[0]
    shape = list(arg(node, 1, "normalized_shape", []))
    weight, bias = arg(node, 2, "weight"), arg(node, 3, "bias")
    eps = arg(node, 4, "eps", 1e-5)
    if shape != list(shape_of(x)[-1:]):
        raise Unsupported(
            f"layer_norm over {shape} (more than the last dimension) has no layer type",
            "LayerNorm normalises over the last dimension; flatten the others into it.",
        )
    params = {} if float(eps) == 1e-5 else {"eps": float(eps)}
    if weight is None and bias is None:
        return Mapped("LayerNorm", {**params, "elementwise_affine": False}, [x])
    owner = _owner_of(converter, weight, bias)
    if owner is None:
        raise Unsupported(
            "layer_norm with a weight and bias that are not one module's own `weight` and "
            "`bias` has no layer type",
            "Use nn.LayerNorm, or call F.layer_norm with a module's self.weight and self.bias.",
        )
    return Mapped("LayerNorm", params, [x], {"id": _id(owner), "param_target": owner})


def _owner_of(converter, weight, bias) -> str | None:
    """The module path whose state is exactly this `weight` and `bias`, else None."""
    if (
        weight is None
        or bias is None
        or not (converter._is_weight(weight) and converter._is_weight(bias))
    ):
        return None
    (_, weight_target), (_, bias_target) = (converter.kinds[v.name] for v in (weight, bias))
    owner, _, name = weight_target.rpartition(".")
    if name != "weight" or bias_target != f"{owner}.bias":
        return None
    prefix = f"{owner}."
    state = [k for k in converter.program.state_dict if k.startswith(prefix)]
    return owner if sorted(state) == [bias_target, weight_target] else None


def layer_scale_node(converter, node) -> Mapped | None:
    """`self.gamma * x` with a learned (C, 1, 1) or (D,) parameter -> a LayerScale node that
    owns it (ConvNeXt's and CaiT's layer scale)."""
    if getattr(node.target, "_opname", None) not in ("mul", "mul_") or len(node.args) < 2:
        return None
    x, scale = node.args[0], node.args[1]
    if not (is_tensor(x) and is_tensor(scale)):
        return None  # a constant factor: the scalar `mul` layer
    if converter._is_weight(x):
        x, scale = scale, x
    if not converter._is_weight(scale) or converter._is_weight(x):
        return None
    kind, target = converter.kinds[scale.name]
    value = converter.program.state_dict.get(target)
    if kind != InputKind.PARAMETER or value is None:
        return None
    sample = shape_of(x)[1:]
    layouts = [
        c for c in ("first", "last") if sample and tuple(value.shape) == scale_size(sample, c)
    ]
    if not layouts:
        return None
    params = {} if layouts[0] == "first" else {"channels": "last"}
    value = value.detach()
    first = float(value.flatten()[0])
    start = float(f"{first:.6g}")  # 1e-6 as the file wrote it, not float32's 9.99999997e-07
    if bool((value == first).all()) and start != 1e-6:
        params["init"] = start  # the starting value, when the file set one for all channels
    return Mapped("LayerScale", params, [x], {"id": _id(target), "param_target": target})
