"""Normalisation and regularisation layers."""

from __future__ import annotations

from .base import LayerSpec, Param, ShapeError, expect_rank, fmt_shape, module_call, numel
from .init import INIT_PARAMS

EPS = Param(
    "eps", "float", 1e-5, "Added to the variance for numerical stability.", min=0.0, max=1.0
)
MOMENTUM = Param(
    "momentum", "float", 0.1, "Weight of each batch in the running statistics.", min=0.0, max=1.0
)
AFFINE = Param("affine", "bool", True, "Learn a per-channel scale and shift.")


def _batchnorm_spec(n, ranks, what):
    cls = f"BatchNorm{n}d"
    params = (EPS, MOMENTUM, AFFINE, *INIT_PARAMS)
    return LayerSpec(
        type=cls,
        category="normalisation",
        help="Normalises each channel over the batch; speeds up and steadies training.",
        params=params,
        infer_shape=lambda s, p: expect_rank(s, ranks, what),
        emit_init=lambda s, p: module_call(cls, [s[0][0]], p, params),
        count_params=lambda s, p: 2 * s[0][0] if p["affine"] else 0,
        count_macs=lambda s, out, p: numel(s[0]),
        id_prefix="bn",
    )


LAYER_NORM_PARAMS = (
    EPS,
    Param("elementwise_affine", "bool", True, "Learn a per-feature scale and shift."),
    *INIT_PARAMS,
)

LAYER_NORM = LayerSpec(
    type="LayerNorm",
    category="normalisation",
    help="Normalises each sample over its last dimension (as in Transformers).",
    params=LAYER_NORM_PARAMS,
    infer_shape=lambda s, p: s[0],
    emit_init=lambda s, p: module_call("LayerNorm", [s[0][-1]], p, LAYER_NORM_PARAMS),
    count_params=lambda s, p: 2 * s[0][-1] if p["elementwise_affine"] else 0,
    count_macs=lambda s, out, p: numel(s[0]),
    id_prefix="ln",
)


def _instancenorm_shape(shapes, ranks, what):
    shape = expect_rank(shapes, ranks, what)
    if numel(shape[1:]) < 2:  # torch refuses it when training: no spread to normalise
        raise ShapeError(
            f"normalises each channel over its values, but {fmt_shape(shape)} has one per channel",
            "Use it where the input has a length or an image size above 1, or use LayerNorm.",
        )
    return shape


def _instancenorm_spec(n, ranks, what):
    cls = f"InstanceNorm{n}d"
    params = (
        EPS,
        MOMENTUM,
        Param("affine", "bool", False, "Learn a per-channel scale and shift."),
        Param(
            "track_running_stats",
            "bool",
            False,
            "Keep running statistics for eval mode (off: always the sample's own).",
        ),
        *INIT_PARAMS,
    )
    return LayerSpec(
        type=cls,
        category="normalisation",
        help="Normalises each channel of each sample on its own (style transfer, GAN generators).",
        params=params,
        infer_shape=lambda s, p: _instancenorm_shape(s, ranks, what),
        emit_init=lambda s, p: module_call(cls, [s[0][0]], p, params),
        count_params=lambda s, p: 2 * s[0][0] if p["affine"] else 0,
        count_macs=lambda s, out, p: numel(s[0]),
        id_prefix="inorm",
    )


def _groupnorm_shape(shapes, p):
    channels = shapes[0][0]
    if channels % p["num_groups"]:
        raise ShapeError(
            f"{p['num_groups']} groups do not divide {channels} channels",
            "Choose num_groups that divides the channel count.",
        )
    return shapes[0]


GROUP_NORM_PARAMS = (
    Param("num_groups", "int", 8, "Channel groups, each normalised together.", min=1),
    EPS,
    AFFINE,
    *INIT_PARAMS,
)

GROUP_NORM = LayerSpec(
    type="GroupNorm",
    category="normalisation",
    help="Normalises groups of channels within each sample; works at any batch size.",
    params=GROUP_NORM_PARAMS,
    infer_shape=_groupnorm_shape,
    emit_init=lambda s, p: module_call(
        "GroupNorm", [p["num_groups"], s[0][0]], p, GROUP_NORM_PARAMS[1:]
    ),
    count_params=lambda s, p: 2 * s[0][0] if p["affine"] else 0,
    count_macs=lambda s, out, p: numel(s[0]),
    id_prefix="gnorm",
)


def _channel_dropout(cls, ranks, what):
    params = (Param("p", "float", 0.5, "Probability of zeroing each channel.", min=0.0, max=1.0),)
    return LayerSpec(
        type=cls,
        category="normalisation",
        help="Zeroes whole channels at random while training.",
        params=params,
        infer_shape=lambda s, p: expect_rank(s, ranks, what),
        # p is always written: a bare Dropout2d() hides how much it drops.
        emit_init=lambda s, p: f"nn.{cls}(p={float(p['p'])!r})",
        id_prefix="dropout",
    )


def _layer_scale_shape(shapes, p):
    shape = shapes[0]
    if not shape:
        raise ShapeError("scales per channel, but its input has no dimensions", None)
    return shape


def scale_size(shape, channels: str) -> tuple[int, ...]:
    """LayerScale's learned scale: (C, 1, 1) for channels "first", (D,) for the "last" dim."""
    if channels == "first":
        return (shape[0], *([1] * (len(shape) - 1)))
    return (shape[-1],)


LAYER_SCALE = LayerSpec(
    type="LayerScale",
    category="normalisation",
    help="Multiplies each channel by a learned scale that starts small (ConvNeXt, CaiT): a "
    "residual branch begins near zero and grows as it learns.",
    params=(
        Param("init", "float", 1e-6, "The scale's starting value.", min=0.0, max=1e6),
        Param(
            "channels",
            "choice",
            "first",
            "first: (C, H, W) feature maps; last: the last dimension, as in (L, D) sequences.",
            choices=("first", "last"),
        ),
    ),
    infer_shape=_layer_scale_shape,
    emit_init=lambda shapes, p: (
        f"nn.Parameter(torch.full({scale_size(shapes[0], p['channels'])}, {p['init']!r}))"
    ),
    emit_forward=lambda attr, xs, p: f"self.{attr} * {xs[0]}",
    count_params=lambda s, p: numel(scale_size(s[0], p["channels"])),
    count_macs=lambda s, out, p: numel(out),
    id_prefix="scale",
    min_rank=1,
)

SPECS = (
    _batchnorm_spec(1, (1, 2), "a (features) or (channels, length) input"),
    _batchnorm_spec(2, (3,), "a (channels, height, width) input"),
    _batchnorm_spec(3, (4,), "a (channels, depth, height, width) input"),
    LAYER_NORM,
    GROUP_NORM,
    LAYER_SCALE,
    _instancenorm_spec(1, (2,), "a (channels, length) input"),
    _instancenorm_spec(2, (3,), "a (channels, height, width) input"),
    _instancenorm_spec(3, (4,), "a (channels, depth, height, width) input"),
    _channel_dropout("Dropout1d", (2,), "a (channels, length) input"),
    # torch also takes (N, C) here, as plain dropout: accepted as it is.
    _channel_dropout("Dropout2d", (1, 3), "a (channels) or (channels, height, width) input"),
    _channel_dropout("Dropout3d", (4,), "a (channels, depth, height, width) input"),
)
