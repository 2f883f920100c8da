"""Convolution, pooling and resampling layers."""

from __future__ import annotations

import math

from .base import LayerSpec, Param, ShapeError, expect_rank, fmt_shape, module_call, numel, pair
from .init import INIT_PARAMS
from .padding import PADDING_SPECS

KERNEL = Param("kernel_size", "int_or_tuple", 3, "Size of the sliding window.", min=1, max=64)
STRIDE = Param("stride", "int_or_tuple", 1, "Step between windows.", min=1, max=64)
PADDING = Param("padding", "int_or_tuple", 0, "Zeros added on each side.", min=0, max=64)
DILATION = Param("dilation", "int_or_tuple", 1, "Spacing between kernel taps.", min=1, max=16)
GROUPS = Param("groups", "int", 1, "Split channels into groups (depthwise when = channels).", min=1)
BIAS = Param("bias", "bool", True, "Learn an additive bias.")
OUT_CHANNELS = Param("out_channels", "int", 16, "Number of filters (output channels).", min=1)
CONV_PADDING = Param(
    "padding",
    "int_or_tuple",
    0,
    'Zeros added on each side; "same" keeps the size (stride 1), "valid" is 0.',
    min=0,
    max=64,
    choices=("same", "valid"),
)
PADDING_MODE = Param(
    "padding_mode",
    "choice",
    "zeros",
    "What the padding is filled with.",
    choices=("zeros", "reflect", "replicate", "circular"),
)
CEIL_MODE = Param("ceil_mode", "bool", False, "Round the output size up (a last partial window).")
DIMS_WHAT = {
    1: "(channels, length)",
    2: "(channels, height, width)",
    3: "(channels, depth, height, width)",
}


def _spatial(shape, n):
    return shape[1:], n


def _conv_out(size, k, s, p, d):
    return math.floor((size + 2 * p - d * (k - 1) - 1) / s + 1)


def _check_window(size_in, k, p, d, axis):
    if d * (k - 1) + 1 > size_in + 2 * p:
        raise ShapeError(
            f"kernel {k} is larger than its {axis} input",
            "Lower kernel_size or add padding.",
        )


def _describe(sizes):
    return "x".join(map(str, sizes))


def _conv_shape(n):
    def rule(shapes, p):
        what = DIMS_WHAT[n]
        shape = expect_rank(shapes, (n + 1,), f"a {what} input", _rank_hint(shapes[0], n))
        channels, sizes = shape[0], shape[1:]
        _check_groups(channels, p)
        k, s, d = (pair(p[name], n) for name in ("kernel_size", "stride", "dilation"))
        if p["padding"] == "same":
            if any(step != 1 for step in s):
                raise ShapeError(
                    'padding "same" needs stride 1 (torch refuses it otherwise)',
                    "Set stride to 1, or give the padding as a number.",
                )
            return (p["out_channels"], *sizes)
        pad = pair(0 if p["padding"] == "valid" else p["padding"], n)
        for i, size in enumerate(sizes):
            _check_window(size, k[i], pad[i], d[i], _describe(sizes))
        return (
            p["out_channels"],
            *(_conv_out(sizes[i], k[i], s[i], pad[i], d[i]) for i in range(n)),
        )

    return rule


def _rank_hint(shape, n):
    if len(shape) == 1 and n == 2:
        return "Insert Unflatten or Reshape to make it (channels, height, width)."
    if len(shape) == n + 2:
        return None
    return None


def _check_groups(channels, p):
    groups = p.get("groups", 1)
    if channels % groups or p["out_channels"] % groups:
        raise ShapeError(
            f"groups={groups} must divide both {channels} input and {p['out_channels']} output channels",
            "Choose groups that divides both.",
        )


def _conv_params(n):
    def count(shapes, p):
        k = numel(pair(p["kernel_size"], n))
        weights = shapes[0][0] // p.get("groups", 1) * p["out_channels"] * k
        return weights + (p["out_channels"] if p["bias"] else 0)

    return count


def _conv_macs(n):
    def count(shapes, out, p):
        k = numel(pair(p["kernel_size"], n))
        return numel(out) * shapes[0][0] // p.get("groups", 1) * k

    return count


def _conv_spec(n):
    cls = f"Conv{n}d"
    params = (
        OUT_CHANNELS,
        KERNEL,
        STRIDE,
        CONV_PADDING,
        DILATION,
        GROUPS,
        BIAS,
        PADDING_MODE,
        *INIT_PARAMS,
    )
    return LayerSpec(
        type=cls,
        category="convolution",
        help=f"{n}-D convolution: slides learned filters over the input.",
        params=params,
        infer_shape=_conv_shape(n),
        emit_init=lambda s, p: module_call(
            cls, [s[0][0], p["out_channels"], _lit(p["kernel_size"])], p, params[2:]
        ),
        count_params=_conv_params(n),
        count_macs=_conv_macs(n),
        id_prefix="conv",
        spatial_dims=n,
    )


def _lit(value):
    return tuple(value) if isinstance(value, list) else value


def _deconv_shape(shapes, p):
    shape = expect_rank(shapes, (3,), "a (channels, height, width) input")
    k, s, pad, d, op = (
        pair(p[n], 2) for n in ("kernel_size", "stride", "padding", "dilation", "output_padding")
    )
    sizes = []
    for i, size in enumerate(shape[1:]):
        if op[i] >= max(s[i], d[i]):
            raise ShapeError(
                f"output_padding {op[i]} must be smaller than stride or dilation",
                "Lower output_padding.",
            )
        out = (size - 1) * s[i] - 2 * pad[i] + d[i] * (k[i] - 1) + op[i] + 1
        if out < 1:
            raise ShapeError(
                f"would produce an empty output from {_describe(shape[1:])}", "Lower padding."
            )
        sizes.append(out)
    return (p["out_channels"], *sizes)


DECONV_PARAMS = (
    OUT_CHANNELS,
    KERNEL,
    STRIDE,
    PADDING,
    Param(
        "output_padding", "int_or_tuple", 0, "Extra size added to one side of the output.", min=0
    ),
    BIAS,
    DILATION,
    *INIT_PARAMS,
)

CONV_TRANSPOSE2D = LayerSpec(
    type="ConvTranspose2d",
    category="convolution",
    help="Transposed convolution: learned upsampling, the mirror of Conv2d.",
    params=DECONV_PARAMS,
    infer_shape=_deconv_shape,
    emit_init=lambda s, p: module_call(
        "ConvTranspose2d",
        [s[0][0], p["out_channels"], _lit(p["kernel_size"])],
        p,
        DECONV_PARAMS[2:],
    ),
    count_params=lambda s, p: (
        s[0][0] * p["out_channels"] * numel(pair(p["kernel_size"]))
        + (p["out_channels"] if p["bias"] else 0)
    ),
    count_macs=lambda s, out, p: numel(s[0]) * p["out_channels"] * numel(pair(p["kernel_size"])),
    id_prefix="deconv",
    spatial_dims=2,
)


def _pool_out(size, k, s, pad, ceil):
    if not ceil:
        return _conv_out(size, k, s, pad, 1)
    out = math.ceil((size + 2 * pad - k) / s) + 1
    # torch's rule: the last window must start inside the input or its left padding.
    return out - 1 if (out - 1) * s >= size + pad else out


def _pool_shape(n):
    def rule(shapes, p):
        shape = expect_rank(shapes, (n + 1,), f"a {DIMS_WHAT[n]} input")
        k = pair(p["kernel_size"], n)
        s = pair(p["stride"] if p["stride"] is not None else p["kernel_size"], n)
        pad = pair(p["padding"], n)
        for i in range(n):
            if pad[i] * 2 > k[i]:
                raise ShapeError(
                    f"padding {pad[i]} must be at most half of kernel_size {k[i]}",
                    "Lower padding.",
                )
            _check_window(shape[1 + i], k[i], pad[i], 1, _describe(shape[1:]))
        ceil = p.get("ceil_mode", False)
        return (shape[0], *(_pool_out(shape[1 + i], k[i], s[i], pad[i], ceil) for i in range(n)))

    return rule


def _pool_spec(cls, n, help_text):
    params = (
        Param("kernel_size", "int_or_tuple", 2, "Size of the pooling window.", min=1, max=64),
        Param(
            "stride",
            "int_or_tuple",
            None,
            "Step between windows (empty: kernel_size).",
            min=1,
            max=64,
            optional=True,
        ),
        Param("padding", "int_or_tuple", 0, "Padding added on each side.", min=0, max=32),
        CEIL_MODE,
    )
    return LayerSpec(
        type=cls,
        category="convolution",
        help=help_text,
        params=params,
        infer_shape=_pool_shape(n),
        emit_init=lambda s, p: module_call(cls, [_lit(p["kernel_size"])], p, params[1:]),
        count_macs=lambda s, out, p: numel(out) * numel(pair(p["kernel_size"], n)),
        id_prefix="pool",
        spatial_dims=n,
    )


def _adaptive_shape(shapes, p):
    shape = expect_rank(shapes, (3,), "a (channels, height, width) input")
    return (shape[0], *pair(p["output_size"], 2))


ADAPTIVE_AVG_POOL2D = LayerSpec(
    type="AdaptiveAvgPool2d",
    category="convolution",
    help="Averages each channel down to a fixed output size (1: global average pooling).",
    params=(
        Param("output_size", "int_or_tuple", 1, "Height and width of the output.", min=1, max=512),
    ),
    infer_shape=_adaptive_shape,
    emit_init=lambda s, p: f"nn.AdaptiveAvgPool2d({_lit(p['output_size'])!r})",
    count_macs=lambda s, out, p: numel(s[0]),
    id_prefix="gap",
    spatial_dims=2,
)


UPSAMPLE_RANKS = {"linear": (2,), "bilinear": (3,), "bicubic": (3,), "trilinear": (4,)}


def _upsample_shape(shapes, p):
    ranks = UPSAMPLE_RANKS.get(p["mode"], (2, 3, 4))
    what = " or ".join(f"a {DIMS_WHAT[r - 1]}" for r in ranks)
    shape = expect_rank(shapes, ranks, f"{what} input")
    if p["align_corners"] is not None and p["mode"] not in UPSAMPLE_RANKS:
        raise ShapeError(
            f"align_corners only applies to linear modes, not {p['mode']}",
            "Leave align_corners empty, or pick mode bilinear.",
        )
    factor = p["scale_factor"]
    return (shape[0], *(math.floor(size * factor) for size in shape[1:]))


def _upsample_init(shapes, p):
    # Double quotes, as ruff format writes them; the mode is a validated choice.
    call = f'nn.Upsample(scale_factor={float(p["scale_factor"])!r}, mode="{p["mode"]}"'
    if p["align_corners"] is not None:
        call += f", align_corners={p['align_corners']!r}"
    return call + ")"


UPSAMPLE = LayerSpec(
    type="Upsample",
    category="convolution",
    help="Enlarges the height and width by a scale factor.",
    params=(
        Param("scale_factor", "float", 2.0, "How much larger the output is.", min=0.1, max=16.0),
        Param(
            "mode",
            "choice",
            "nearest",
            "How new pixels are filled in.",
            choices=("nearest", "bilinear", "bicubic", "linear", "trilinear"),
        ),
        Param(
            "align_corners",
            "bool",
            None,
            "Linear modes: align the corner pixels of input and output (empty: torch's default).",
            optional=True,
        ),
    ),
    infer_shape=_upsample_shape,
    emit_init=_upsample_init,
    id_prefix="upsample",
)


SPECS = (
    _conv_spec(1),
    _conv_spec(2),
    _conv_spec(3),
    CONV_TRANSPOSE2D,
    _pool_spec("MaxPool1d", 1, "Keeps the largest value in each window along the sequence."),
    _pool_spec("MaxPool2d", 2, "Keeps the largest value in each window: downsamples the image."),
    _pool_spec("MaxPool3d", 3, "Keeps the largest value in each 3-D window."),
    _pool_spec("AvgPool1d", 1, "Averages each window along the sequence."),
    _pool_spec("AvgPool2d", 2, "Averages each window: smooth downsampling."),
    _pool_spec("AvgPool3d", 3, "Averages each 3-D window."),
    ADAPTIVE_AVG_POOL2D,
    UPSAMPLE,
    *PADDING_SPECS,
)


__all__ = ["SPECS", "fmt_shape"]
