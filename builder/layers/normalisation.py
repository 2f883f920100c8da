"""Normalisation and regularisation layers."""

from __future__ import annotations

from .base import LayerSpec, Param, expect_rank, module_call, numel

EPS = Param(
    "eps", "float", 1e-5, "Added to the variance for numerical stability.", min=0.0, max=1.0
)
MOMENTUM = Param(
    "momentum", "float", 0.1, "Weight of each batch in the running statistics.", min=0.0, max=1.0
)
AFFINE = Param("affine", "bool", True, "Learn a per-channel scale and shift.")


def _batchnorm_spec(n, ranks, what):
    cls = f"BatchNorm{n}d"
    params = (EPS, MOMENTUM, AFFINE)
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

DROPOUT2D = LayerSpec(
    type="Dropout2d",
    category="normalisation",
    help="Zeroes whole channels at random while training.",
    params=(Param("p", "float", 0.5, "Probability of zeroing each channel.", min=0.0, max=1.0),),
    infer_shape=lambda s, p: expect_rank(s, (3,), "a (channels, height, width) input"),
    emit_init=lambda s, p: module_call("Dropout2d", [], p, DROPOUT2D.params),
    id_prefix="dropout",
)

SPECS = (
    _batchnorm_spec(1, (1, 2), "a (features) or (channels, length) input"),
    _batchnorm_spec(2, (3,), "a (channels, height, width) input"),
    LAYER_NORM,
    DROPOUT2D,
)
