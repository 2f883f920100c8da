"""Handlers for image ops in forward(): functional pooling, resizing, padding, pixel shuffle."""

from __future__ import annotations

from ..layers import REGISTRY
from .mapped import Alias, Mapped, arg, shape_of, single, without_defaults
from .problems import Unsupported


def pool(type_name: str):
    def handle(node):
        kernel = single(arg(node, 1, "kernel_size"))
        stride = single(arg(node, 2, "stride", [])) or None
        padding = single(arg(node, 3, "padding", 0))
        if type_name.startswith("Max"):
            extra = {
                "dilation": (arg(node, 4, "dilation", 1), 1),
                "ceil_mode": (arg(node, 5, "ceil_mode", False), False),
            }
        else:
            extra = {
                "ceil_mode": (arg(node, 4, "ceil_mode", False), False),
                "count_include_pad": (arg(node, 5, "count_include_pad", True), True),
                "divisor_override": (arg(node, 6, "divisor_override", None), None),
            }
        for name, (value, default) in extra.items():
            if single(value) != default:
                raise Unsupported(
                    f"{name}={value!r} is not offered by {type_name}", f"Use {name}={default!r}."
                )
        stride = None if stride == kernel else stride
        params = {"kernel_size": kernel, "stride": stride, "padding": padding}
        return Mapped(type_name, without_defaults(type_name, params), [node.args[0]])

    return handle


def adaptive_pool(node):
    return Mapped(
        "AdaptiveAvgPool2d",
        without_defaults("AdaptiveAvgPool2d", {"output_size": single(node.args[1])}),
        [node.args[0]],
    )


def upsample(mode: str):
    def handle(node):
        align = node.args[2] if mode == "bilinear" else None
        if align and REGISTRY["Upsample"].param("align_corners") is None:
            raise Unsupported("align_corners=True is not offered by Upsample")
        factors = scale_factors(node)
        if len(set(factors)) != 1:
            raise Unsupported(
                "resizes by different or non-whole factors per axis",
                "Upsample takes one scale_factor for both axes.",
            )
        params = {"scale_factor": float(factors[0]), "mode": mode, "align_corners": align or None}
        return Mapped("Upsample", without_defaults("Upsample", params), [node.args[0]])

    return handle


def scale_factors(node) -> list[float]:
    """The scale per axis: given, or (F.interpolate(size=...)) a whole ratio of the sizes."""
    scales = node.args[-1]
    if scales:
        return list(scales)
    source, out = shape_of(node.args[0])[2:], shape_of(node)[2:]
    ratios = [o / i for o, i in zip(out, source, strict=True)]
    return ratios if all(r == int(r) for r in ratios) else [None, 0]


PAD_MODES = {
    "constant": "ConstantPad2d",
    "reflect": "ReflectionPad2d",
    "replicate": "ReplicationPad2d",
}


def pad(node):
    widths = list(node.args[1])
    mode = arg(node, 2, "mode", "constant") if node.target._opname == "pad" else "constant"
    value = arg(node, 3 if node.target._opname == "pad" else 2, "value", None) or 0.0
    if not any(widths) and mode == "constant":
        return Alias(node.args[0])  # padding by nothing: F.pad when the sizes already fit
    like = skip_it_matches(node, widths) if mode == "constant" and not value else None
    if like is not None:
        return Mapped("PadToMatch", {}, [node.args[0], like])
    if len(widths) != 4 or len(shape_of(node)) != 4 or mode not in PAD_MODES:
        raise Unsupported(f"pads by {widths} in mode {mode!r}", "Pad an image by 4 widths.")
    if mode == "constant" and not value:
        return Mapped("ZeroPad2d", {"padding": single(widths)}, [node.args[0]])
    params = {"padding": single(widths)}
    if mode == "constant":
        params["value"] = float(value)
    return Mapped(PAD_MODES[mode], params, [node.args[0]])


def skip_it_matches(node, widths):
    """The tensor this padding matches in size (U-Net's skip), if PadToMatch pads the same."""
    if "PadToMatch" not in REGISTRY:
        return None
    x, out = shape_of(node.args[0]), shape_of(node)
    expected = []
    for axis in range(len(x) - 1, 1, -1):  # F.pad lists the last dim first
        diff = out[axis] - x[axis]
        expected += [diff // 2, diff - diff // 2]
    if widths != expected:
        return None
    for user in node.users:
        if getattr(user.target, "_opname", None) in ("cat", "concat"):
            others = [t for t in user.args[0] if t is not node and shape_of(t)[2:] == out[2:]]
            if others:
                return others[0]
    return None


def shuffle(type_name: str, factor: str):
    def handle(node):
        return Mapped(type_name, {factor: node.args[1]}, [node.args[0]])

    return handle


# aten op packet name -> handler
