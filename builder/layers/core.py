"""Core layers: the input, fully connected layers and reshaping glue."""

from __future__ import annotations

from .base import LayerSpec, Param, ShapeError, batch_dim, fmt_shape, module_call, numel
from .init import INIT_PARAMS

NODE_ID = r"[A-Za-z_][A-Za-z0-9_]{0,63}"


def _input_shape(shapes, p):
    return tuple(p["shape"])


def _linear_shape(shapes, p):
    shape = shapes[0]
    # Past (length, features), a Linear is nearly always a missing Flatten; per_position
    # says it is meant (ConvNeXt's channels-last (H, W, C) maps).
    if len(shape) > 2 and not p.get("per_position"):
        raise ShapeError(
            f"expects a flat input but gets ({', '.join(map(str, shape))})",
            "Insert Flatten before {node}.",
        )
    return (*shape[:-1], p["out_features"])


def _linear_params(shapes, p):
    in_features = shapes[0][-1]
    # A tied weight is the Embedding's Parameter: counted there, once.
    weight = 0 if p.get("tie_weight_to") else in_features * p["out_features"]
    return weight + (p["out_features"] if p["bias"] else 0)


def _linear_macs(shapes, out, p):
    return numel(shapes[0]) * p["out_features"]


def _flatten_dims(shape, p):
    # torch counts the batch as dim 0; our shapes leave it out.
    start = batch_dim(p["start_dim"], shape, "start_dim")
    end = batch_dim(p["end_dim"], shape, "end_dim")
    if start == 0 or end < start:
        raise ShapeError(
            f"cannot flatten dims {p['start_dim']}..{p['end_dim']} of a {len(shape)}-D input",
            "Keep start_dim at 1 or more so the batch dimension stays.",
        )
    return start - 1, end - 1


def _flatten_shape(shapes, p):
    shape = shapes[0]
    start, end = _flatten_dims(shape, p)
    return (*shape[:start], numel(shape[start : end + 1]), *shape[end + 1 :])


def _unflatten_shape(shapes, p):
    shape = shapes[0]
    dim = batch_dim(p["dim"], shape)
    if dim == 0:
        raise ShapeError("cannot unflatten the batch dimension", "Use dim 1 or more.")
    size = tuple(p["unflattened_size"])
    if numel(size) != shape[dim - 1]:
        raise ShapeError(
            f"cannot split a dimension of {shape[dim - 1]} into {fmt_shape(size)}",
            f"Choose sizes whose product is {shape[dim - 1]}.",
        )
    return (*shape[: dim - 1], *size, *shape[dim:])


def _reshape_shape(shapes, p):
    shape, target = shapes[0], tuple(p["shape"])
    if 0 in target or target.count(-1) > 1:
        raise ShapeError(
            f'shape {list(target)} may hold one -1 ("the rest") and no 0',
            "Give every size but at most one, which may be -1.",
        )
    if -1 in target:
        known = numel([d for d in target if d != -1])
        if numel(shape) % known:
            raise ShapeError(
                f"cannot reshape {fmt_shape(shape)} ({numel(shape)} values) into {list(target)}: "
                f"{numel(shape)} is not a multiple of {known}",
                f"Choose sizes whose product divides {numel(shape)}.",
            )
        target = tuple(numel(shape) // known if d == -1 else d for d in target)
    if numel(target) != numel(shape):
        raise ShapeError(
            f"cannot reshape {fmt_shape(shape)} ({numel(shape)} values) into {fmt_shape(target)} "
            f"({numel(target)} values)",
            f"Choose a shape with {numel(shape)} values in all.",
        )
    return target


def _same_shape(shapes, p):
    return shapes[0]


def _reshape_forward(attr, xs, p):
    sizes = p["shape"]
    if -1 not in sizes:
        return f"{xs[0]}.reshape(-1{''.join(f', {d}' for d in sizes)})"
    # The batch is named, so the one -1 can stand for "the rest" of each sample.
    return f"{xs[0]}.reshape({xs[0]}.shape[0], {', '.join(map(str, sizes))})"


INPUT = LayerSpec(
    type="Input",
    category="core",
    help="Where data enters the network. Shape excludes the batch dimension.",
    params=(
        Param("shape", "shape", [1, 28, 28], "Shape of one sample, without the batch dimension."),
        Param(
            "dtype",
            "choice",
            "float32",
            "float32 for features and images, int64 for token ids (feed an Embedding).",
            choices=("float32", "int64"),
        ),
    ),
    min_inputs=0,
    max_inputs=0,
    infer_shape=_input_shape,
    emit_forward=lambda attr, xs, p: xs[0],
    input_dtype="any",
    id_prefix="input",
)

LINEAR = LayerSpec(
    type="Linear",
    category="core",
    help="Fully connected layer: every output is a weighted sum of all inputs.",
    params=(
        Param("out_features", "int", 10, "Number of output units.", min=1, max=1_000_000),
        Param("bias", "bool", True, "Learn an additive bias."),
        Param(
            "tie_weight_to",
            "text",
            None,
            "Id of an Embedding whose weight this layer shares (a language model's tied "
            "decoder); empty: its own weight.",
            optional=True,
            pattern=NODE_ID,
            in_ctor=False,
        ),
        Param(
            "per_position",
            "bool",
            False,
            "Apply to the last dimension at every position of a (..., features) input with "
            "more than two dimensions (off: such an input is refused as a missing Flatten).",
            in_ctor=False,
        ),
        *INIT_PARAMS,
    ),
    infer_shape=_linear_shape,
    emit_init=lambda s, p: module_call(
        "Linear", [s[0][-1], p["out_features"]], p, LINEAR.params[1:]
    ),
    count_params=_linear_params,
    count_macs=_linear_macs,
    id_prefix="fc",
)

FLATTEN = LayerSpec(
    type="Flatten",
    category="core",
    help="Flattens dimensions into one, e.g. (16, 5, 5) into (400).",
    params=(
        Param("start_dim", "int", 1, "First dim to flatten (the batch is dim 0).", min=1, max=8),
        Param("end_dim", "int", -1, "Last dim to flatten (-1: the last).", min=-8, max=8),
    ),
    infer_shape=_flatten_shape,
    emit_init=lambda s, p: module_call("Flatten", [], p, FLATTEN.params),
    input_dtype="any",
    id_prefix="flatten",
)

UNFLATTEN = LayerSpec(
    type="Unflatten",
    category="core",
    help="Splits one dimension into several, e.g. (64) into (1, 8, 8).",
    params=(
        Param("dim", "int", 1, "Dim to split (the batch is dim 0).", min=1, max=8),
        Param("unflattened_size", "shape", [1, 8, 8], "Sizes the dim is split into."),
    ),
    infer_shape=_unflatten_shape,
    emit_init=lambda s, p: f"nn.Unflatten({p['dim']}, {tuple(p['unflattened_size'])!r})",
    input_dtype="any",
    id_prefix="unflatten",
)

RESHAPE = LayerSpec(
    type="Reshape",
    category="core",
    help="Reshapes each sample to a new shape with the same number of values.",
    params=(
        Param(
            "shape",
            "ints",
            [1, 8, 8],
            "New shape without the batch dimension; one size may be -1 (the rest); "
            "empty: one value per sample.",
            min=-1,
            max=10**9,
        ),
    ),
    infer_shape=_reshape_shape,
    emit_forward=_reshape_forward,
    input_dtype="any",
    id_prefix="reshape",
    min_rank=0,
)

IDENTITY = LayerSpec(
    type="Identity",
    category="core",
    help="Passes its input through unchanged; handy as a placeholder.",
    infer_shape=_same_shape,
    emit_init=lambda s, p: "nn.Identity()",
    input_dtype="any",
    id_prefix="identity",
    min_rank=0,
)

DROPOUT = LayerSpec(
    type="Dropout",
    category="core",
    help="Randomly zeroes inputs while training, a regulariser against overfitting.",
    params=(Param("p", "float", 0.5, "Probability of zeroing each value.", min=0.0, max=1.0),),
    infer_shape=_same_shape,
    # p is always written: a bare Dropout() hides how much it drops.
    emit_init=lambda s, p: f"nn.Dropout(p={float(p['p'])!r})",
    id_prefix="dropout",
    min_rank=0,
)

OUTPUT = LayerSpec(
    type="Output",
    category="core",
    help="A named output of the network: forward returns the Output nodes in their order.",
    infer_shape=_same_shape,
    emit_forward=lambda attr, xs, p: xs[0],
    input_dtype="any",
    id_prefix="output",
    min_rank=0,
)

SPECS = (INPUT, LINEAR, FLATTEN, UNFLATTEN, RESHAPE, IDENTITY, DROPOUT, OUTPUT)
