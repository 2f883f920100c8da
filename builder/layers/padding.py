"""Borders and resolution shuffles: pad layers, PixelShuffle/Unshuffle, and PadToMatch for skips."""

from __future__ import annotations

from .base import LayerSpec, Param, ShapeError, expect_rank, fmt_shape

DIMS_WHAT = {1: "(channels, length)", 2: "(channels, height, width)"}


def _lit(value):
    return tuple(value) if isinstance(value, list) else value


def _pad_width(p, n) -> tuple[int, ...]:
    """(left, right, top, bottom ...) as torch reads a pad layer's padding."""
    value = p["padding"]
    return (value,) * (2 * n) if isinstance(value, int) else tuple(value)


def _pad_shape(n, reflect):
    def rule(shapes, p):
        shape = expect_rank(shapes, (n + 1, n), f"a {DIMS_WHAT[n]} input")
        widths = _pad_width(p, n)
        sizes = list(shape)
        for i in range(n):  # padding pairs run from the last dim backwards
            axis = len(shape) - 1 - i
            before, after = widths[2 * i], widths[2 * i + 1]
            if reflect and max(before, after) >= shape[axis]:
                raise ShapeError(
                    f"reflection padding {max(before, after)} must be smaller than the size "
                    f"{shape[axis]} it reflects",
                    "Lower padding, or use ReplicationPad2d / ZeroPad2d.",
                )
            sizes[axis] += before + after
        return tuple(sizes)

    return rule


def _pad_spec(cls, n, help_text, *, value=False, reflect=False):
    params = (
        Param(
            "padding",
            "int_or_tuple",
            1,
            "Width added on every side, or (left, right, top, bottom); negative crops.",
            min=0 if reflect else -64,
            max=64,
        ),
    )
    if value:
        params += (Param("value", "float", 0.0, "The value padded in.", min=-1e9, max=1e9),)

    def emit(shapes, p):
        padding = repr(_lit(p["padding"]))
        return f"nn.{cls}({padding}, {float(p['value'])!r})" if value else f"nn.{cls}({padding})"

    return LayerSpec(
        type=cls,
        category="convolution",
        help=help_text,
        params=params,
        infer_shape=_pad_shape(n, reflect),
        emit_init=emit,
        id_prefix="pad",
        spatial_dims=2 * n,  # a list gives both sides of each dim
    )


def _pixel_shuffle_shape(shapes, p):
    c, h, w = expect_rank(shapes, (3,), "a (channels, height, width) input")
    r = p["upscale_factor"]
    if c % (r * r):
        raise ShapeError(
            f"{c} channels cannot be shuffled by {r}: they must be a multiple of {r * r}",
            f"Give the layer before it {r * r}x as many output channels.",
        )
    return (c // (r * r), h * r, w * r)


def _pixel_unshuffle_shape(shapes, p):
    c, h, w = expect_rank(shapes, (3,), "a (channels, height, width) input")
    r = p["downscale_factor"]
    if h % r or w % r:
        raise ShapeError(
            f"{h}x{w} cannot be unshuffled by {r}: both sides must be multiples of {r}",
            "Pad or crop the image first.",
        )
    return (c * r * r, h // r, w // r)


PIXEL_SHUFFLE = LayerSpec(
    type="PixelShuffle",
    category="convolution",
    help="Turns channels into resolution: (C*r*r, H, W) to (C, H*r, W*r) (sub-pixel upsampling).",
    params=(Param("upscale_factor", "int", 2, "How much larger each side gets.", min=1, max=16),),
    infer_shape=_pixel_shuffle_shape,
    emit_init=lambda s, p: f"nn.PixelShuffle({p['upscale_factor']})",
    input_dtype="any",
    id_prefix="shuffle",
)

PIXEL_UNSHUFFLE = LayerSpec(
    type="PixelUnshuffle",
    category="convolution",
    help="Turns resolution into channels: (C, H*r, W*r) to (C*r*r, H, W).",
    params=(
        Param("downscale_factor", "int", 2, "How much smaller each side gets.", min=1, max=16),
    ),
    infer_shape=_pixel_unshuffle_shape,
    emit_init=lambda s, p: f"nn.PixelUnshuffle({p['downscale_factor']})",
    input_dtype="any",
    id_prefix="unshuffle",
)


def _pad_to_match_shape(shapes, p):
    x, like = shapes
    if len(x) != len(like) or len(x) < 2:
        raise ShapeError(
            f"pads {fmt_shape(x)} to the size of {fmt_shape(like)}, but their ranks differ",
            "Connect a (channels, height, width) map first and the skip it must match second.",
        )
    return (x[0], *like[1:])


def _pad_to_match_forward(attr, xs, p, read, shapes):
    x, like = shapes
    widths = []
    for axis in range(len(x) - 1, 0, -1):  # F.pad lists the last dim first
        diff = like[axis] - x[axis]
        widths += [diff // 2, diff - diff // 2]  # an odd one goes after, as in U-Net
    return f"nn.functional.pad({xs[0]}, {widths!r})"


PAD_TO_MATCH = LayerSpec(
    type="PadToMatch",
    category="convolution",
    help="Pads (or crops) its first input to the spatial size of its second, e.g. an upsampled "
    "U-Net map to its skip connection; the channels stay.",
    min_inputs=2,
    max_inputs=2,
    infer_shape=_pad_to_match_shape,
    emit_forward_ports=_pad_to_match_forward,
    input_dtype="any",
    id_prefix="padmatch",
    input_names=("input", "like"),
)


PADDING_SPECS = (
    _pad_spec("ZeroPad2d", 2, "Adds a border of zeros around the image."),
    _pad_spec("ConstantPad2d", 2, "Adds a border of one value around the image.", value=True),
    _pad_spec("ReflectionPad2d", 2, "Adds a border that mirrors the image's edge.", reflect=True),
    _pad_spec("ReplicationPad2d", 2, "Adds a border that repeats the image's edge pixels."),
    _pad_spec("ReflectionPad1d", 1, "Mirrors the sequence's ends outwards.", reflect=True),
    PIXEL_SHUFFLE,
    PIXEL_UNSHUFFLE,
    PAD_TO_MATCH,
)
