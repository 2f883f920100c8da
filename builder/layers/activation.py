"""Element-wise activations and the softmax family."""

from __future__ import annotations

from .base import LayerSpec, Param, ShapeError, module_call


def _same(shapes, p):
    return shapes[0]


def _check_dim(shapes, p):
    rank = len(shapes[0]) + 1  # torch counts the batch
    if not -rank <= p["dim"] < rank:
        raise ShapeError(
            f"dim {p['dim']} is out of range for a {rank}-D tensor (batch included)",
            "Use dim -1 for the last dimension.",
        )
    if p["dim"] in (0, -rank):
        raise ShapeError("would mix samples across the batch (dim 0)", "Use dim 1 or -1.")
    return shapes[0]


def _activation(cls, help_text, params=(), prefix=None, rule=_same, **extra):
    return LayerSpec(
        type=cls,
        category="activation",
        help=help_text,
        params=params,
        infer_shape=rule,
        emit_init=lambda s, p: _emit(cls, p, params),
        id_prefix=prefix or cls.lower(),
        **{"min_rank": 0 if rule is _same else 1, **extra},
    )


def _prelu_shape(shapes, p):
    n = p["num_parameters"]
    if n != 1 and (not shapes[0] or shapes[0][0] != n):
        channels = shapes[0][0] if shapes[0] else 1
        raise ShapeError(
            f"num_parameters {n} must be 1 or the channel count {channels}",
            f"Set num_parameters to 1 (one slope) or {channels} (one per channel).",
        )
    return shapes[0]


def _glu_shape(shapes, p):
    shape = list(_check_dim(shapes, p))
    axis = p["dim"] % (len(shape) + 1) - 1
    if shape[axis] % 2:
        raise ShapeError(
            f"halves dim {p['dim']}, but its size {shape[axis]} is odd",
            "Give it an even size there (the first half is gated by the second).",
        )
    shape[axis] //= 2
    return tuple(shape)


def _emit(cls, p, params):
    # torch's own default for dim is None (implicit, deprecated), so dim is always written.
    if "dim" in p:
        return f"nn.{cls}(dim={p['dim']})"
    return module_call(cls, [], p, params)


DIM = Param(
    "dim", "int", -1, "Dimension the probabilities sum over (batch is 0; -1: last).", min=-8, max=8
)

SPECS = (
    _activation("ReLU", "max(0, x): the default choice for hidden layers."),
    _activation(
        "LeakyReLU",
        "Like ReLU but lets a small slope through for negative inputs.",
        (Param("negative_slope", "float", 0.01, "Slope for negative inputs.", min=0.0, max=1.0),),
        "lrelu",
    ),
    _activation(
        "ELU",
        "Smooth ReLU that saturates to -alpha for negative inputs.",
        (
            Param(
                "alpha",
                "float",
                1.0,
                "Value approached for very negative inputs.",
                min=0.0,
                max=10.0,
            ),
        ),
    ),
    _activation(
        "GELU",
        "Smooth ReLU used in Transformers.",
        (
            Param(
                "approximate",
                "choice",
                "none",
                "tanh: a faster approximation.",
                choices=("none", "tanh"),
            ),
        ),
    ),
    _activation("SiLU", "x * sigmoid(x), also called swish."),
    _activation("Sigmoid", "Squashes to (0, 1)."),
    _activation("Tanh", "Squashes to (-1, 1)."),
    _activation(
        "Softmax", "Turns scores into probabilities that sum to 1.", (DIM,), rule=_check_dim
    ),
    _activation("LogSoftmax", "Log of Softmax; pairs with NLL loss.", (DIM,), rule=_check_dim),
    _activation(
        "PReLU",
        "LeakyReLU whose negative slope is learned (one, or one per channel).",
        (
            Param("num_parameters", "int", 1, "1, or the number of channels.", min=1),
            Param("init", "float", 0.25, "Starting slope.", min=-10.0, max=10.0),
        ),
        rule=_prelu_shape,
        count_params=lambda s, p: p["num_parameters"],
        min_rank=0,
    ),
    _activation(
        "Softplus",
        "Smooth ReLU: log(1 + exp(beta * x)) / beta.",
        (
            Param("beta", "float", 1.0, "Sharpness.", min=0.001, max=100.0),
            Param("threshold", "float", 20.0, "Above this, it is linear.", min=0.0, max=100.0),
        ),
    ),
    _activation("Mish", "x * tanh(softplus(x)), a smooth ReLU."),
    _activation("Hardswish", "A cheap piecewise SiLU (MobileNetV3)."),
    _activation("Hardsigmoid", "A cheap piecewise Sigmoid."),
    _activation("ReLU6", "min(max(0, x), 6): ReLU capped at 6 (MobileNet)."),
    _activation(
        "GLU",
        "Gated linear unit: halves a dim, a * sigmoid(b) of its two halves.",
        (Param("dim", "int", -1, "Dimension to halve (batch is 0; -1: last).", min=-8, max=8),),
        rule=_glu_shape,
    ),
)
