"""Tensor operations a forward() writes inline: scaling, exp, matmul, squeeze, permute, split ...

Type names are torch's function names (torch.mul, torch.exp, torch.matmul ...) and params
its keyword names, so PyTorch code maps onto them one to one. Dims count the batch as 0,
as torch does; no op here may move or reduce the batch.
"""

from __future__ import annotations

import math

from .base import LayerSpec, Param, ShapeError, batch_dim, fmt_shape, numel

DIM_HELP = "Dimension, counting the batch as 0 (-1: the last)."
BATCH_HINT = "Use a dim from 1 up (or a negative one): the batch (dim 0) must stay."


def _dim(value: int, shape, name: str = "dim", rank_extra: int = 0) -> int:
    """A torch dim as an index into our batch-free shape (raising for the batch itself)."""
    dim = batch_dim(value, (*shape, *(1,) * rank_extra), name)
    if dim == 0:
        raise ShapeError(f"{name} {value} is the batch dimension", BATCH_HINT)
    return dim - 1


def _same(shapes, p):
    return shapes[0]


def _scalar_op(type_name: str, symbol: str, help_text: str, default: float) -> LayerSpec:
    return LayerSpec(
        type=type_name,
        category="tensor",
        help=help_text,
        params=(Param("other", "float", default, "The constant.", min=-1e9, max=1e9),),
        infer_shape=_same,
        emit_forward=lambda attr, xs, p: f"{xs[0]} {symbol} {float(p['other'])!r}",
        count_macs=lambda s, out, p: numel(s[0]),
        id_prefix=type_name,
        min_rank=0,
    )


def _unary(type_name: str, help_text: str) -> LayerSpec:
    return LayerSpec(
        type=type_name,
        category="tensor",
        help=help_text,
        infer_shape=_same,
        emit_forward=lambda attr, xs, p: f"torch.{type_name}({xs[0]})",
        count_macs=lambda s, out, p: numel(s[0]),
        id_prefix=type_name,
        min_rank=0,
    )


# ---- matrix products ---------------------------------------------------------------------


def _matmul_shape(shapes, p):
    a, b = shapes
    if len(a) < 2 or len(b) < 2:
        raise ShapeError(
            f"multiplies matrices but gets {fmt_shape(a)} and {fmt_shape(b)}",
            "Give both inputs at least 2 dims besides the batch (unsqueeze a vector).",
        )
    if a[-1] != b[-2]:
        raise ShapeError(
            f"cannot multiply {fmt_shape(a)} by {fmt_shape(b)}: {a[-1]} columns vs {b[-2]} rows",
            "The first input's last size must equal the second's next-to-last (transpose one).",
        )
    try:
        leading = _broadcast(a[:-2], b[:-2])
    except ValueError:
        raise ShapeError(
            f"the leading dims of {fmt_shape(a)} and {fmt_shape(b)} do not broadcast",
            "Make them equal.",
        ) from None
    return (*leading, a[-2], b[-1])


def _broadcast(a, b):
    if len(a) != len(b):
        raise ValueError  # the batch dim keeps both at the same rank: no implicit padding
    out = []
    for x, y in zip(a, b, strict=True):
        if x != y and 1 not in (x, y):
            raise ValueError
        out.append(max(x, y))
    return tuple(out)


def _bmm_shape(shapes, p):
    if any(len(s) != 2 for s in shapes):
        raise ShapeError(
            f"multiplies a batch of matrices but gets {' and '.join(map(fmt_shape, shapes))}",
            "Both inputs must be (rows, columns) per sample; use matmul for more dims.",
        )
    return _matmul_shape(shapes, p)


def _matmul_macs(shapes, out, p):
    return numel(out) * shapes[0][-1]


# ---- dims: squeeze, unsqueeze, permute, transpose ----------------------------------------


def _squeeze_shape(shapes, p):
    shape = shapes[0]
    axis = _dim(p["dim"], shape)
    return shape if shape[axis] != 1 else (*shape[:axis], *shape[axis + 1 :])


def _unsqueeze_shape(shapes, p):
    shape = shapes[0]
    axis = _dim(p["dim"], shape, rank_extra=1)  # torch allows one past the end
    return (*shape[:axis], 1, *shape[axis:])


def _permute_shape(shapes, p):
    shape, rank = shapes[0], len(shapes[0]) + 1
    dims = [d % rank if -rank <= d < rank else None for d in p["dims"]]
    if len(dims) != rank or sorted(d for d in dims if d is not None) != list(range(rank)):
        raise ShapeError(
            f"dims {p['dims']} is not an order of all {rank} dims (batch included)",
            f"List each of 0..{rank - 1} once, e.g. {[0, *range(rank - 1, 0, -1)]}.",
        )
    if dims[0] != 0:
        raise ShapeError("would move the batch dimension", "Keep 0 first in dims.")
    return tuple(shape[d - 1] for d in dims[1:])


def _transpose_shape(shapes, p):
    shape = list(shapes[0])
    a, b = _dim(p["dim0"], shape, "dim0"), _dim(p["dim1"], shape, "dim1")
    shape[a], shape[b] = shape[b], shape[a]
    return tuple(shape)


# ---- split and chunk: one output port per part --------------------------------------------


def _split_sizes(shapes, p) -> list[int]:
    shape = shapes[0]
    size = shape[_dim(p["dim"], shape)]
    sections = p["split_size_or_sections"]
    if not sections or any(s < 1 for s in sections):
        raise ShapeError("needs a size, or one size per part", "Write e.g. [4] or [2, 6].")
    if len(sections) == 1:
        step = sections[0]
        return [min(step, size - start) for start in range(0, size, step)]
    if sum(sections) != size:
        raise ShapeError(
            f"sections {sections} add up to {sum(sections)}, not the dim's size {size}",
            f"Choose sections that add up to {size}.",
        )
    return list(sections)


def _chunk_sizes(shapes, p) -> list[int]:
    shape = shapes[0]
    size = shape[_dim(p["dim"], shape)]
    step = math.ceil(size / p["chunks"])  # torch's rule: it may give fewer chunks than asked
    return [min(step, size - start) for start in range(0, size, step)]


def _parts(sizes_of):
    def ports(shapes, p):
        shape = shapes[0]
        axis = _dim(p["dim"], shape)
        return {
            f"part{i}": (*shape[:axis], size, *shape[axis + 1 :])
            for i, size in enumerate(sizes_of(shapes, p))
        }

    return ports


def _first_part(sizes_of):
    return lambda shapes, p: next(iter(_parts(sizes_of)(shapes, p).values()))


# ---- reductions -------------------------------------------------------------------------


def _reduce_shape(shapes, p):
    shape = shapes[0]
    dims = p["dim"]
    if not dims:
        raise ShapeError("needs the dims to reduce", "Write e.g. dim: [1], or [2, 3].")
    axes = {_dim(d, shape) for d in dims}
    if len(axes) != len(dims):
        raise ShapeError(f"dim {dims} names a dimension twice", "List each dim once.")
    if p["keepdim"]:
        return tuple(1 if i in axes else size for i, size in enumerate(shape))
    return tuple(size for i, size in enumerate(shape) if i not in axes)


def _reduce(type_name: str, help_text: str) -> LayerSpec:
    def emit(attr, xs, p):
        dims = p["dim"]
        dim = str(dims[0]) if len(dims) == 1 else f"({', '.join(map(str, dims))})"
        keep = ", keepdim=True" if p["keepdim"] else ""
        return f"{xs[0]}.{type_name}(dim={dim}{keep})"

    return LayerSpec(
        type=type_name,
        category="tensor",
        help=help_text,
        params=(
            Param("dim", "ints", [1], "Dims to reduce, counting the batch as 0.", min=-8, max=8),
            Param("keepdim", "bool", False, "Keep each reduced dim with size 1."),
        ),
        infer_shape=_reduce_shape,
        emit_forward=emit,
        count_macs=lambda s, out, p: numel(s[0]),
        id_prefix=type_name,
    )


def _argmax_shape(shapes, p):
    # The shape of a reduction over its one dim (the index of the max takes its place).
    return _reduce_shape(shapes, {"dim": [p["dim"]], "keepdim": p["keepdim"]})


def _argmax_call(attr, xs, p):
    keep = ", keepdim=True" if p["keepdim"] else ""
    return f"{xs[0]}.argmax(dim={p['dim']}{keep})"


def _full_call(attr, xs, p):
    # The input gives only the batch size and the device, so it works on any batch.
    size = ", ".join([f"len({xs[0]})", *map(str, p["size"])]) + ("," if not p["size"] else "")
    value = int(p["fill_value"]) if p["dtype"] == "int64" else float(p["fill_value"])
    dtype = "torch.long" if p["dtype"] == "int64" else "torch.float32"
    return f"torch.full(({size}), {value!r}, dtype={dtype}, device={xs[0]}.device)"


def _full_shape(shapes, p):
    if p["dtype"] == "int64" and p["fill_value"] != int(p["fill_value"]):
        raise ShapeError(
            f"fill_value {p['fill_value']} is not a whole number, but the dtype is int64",
            'Use a whole number (a token id), or dtype "float32".',
        )
    return tuple(p["size"])


ARGMAX = LayerSpec(
    type="argmax",
    category="tensor",
    help="Index of the largest value along a dim, as int64 (a greedy decoder's next token).",
    params=(
        Param("dim", "int", -1, DIM_HELP, min=-9, max=8),
        Param("keepdim", "bool", False, "Keep the dim with size 1."),
    ),
    infer_shape=_argmax_shape,
    emit_forward=_argmax_call,
    output_dtype=lambda p: "int64",
    id_prefix="argmax",
)

FULL = LayerSpec(
    type="full",
    category="tensor",
    help="A tensor holding one value, of a fixed size per sample (a decoder's start token); "
    "its input gives only the batch size and the device.",
    params=(
        Param("size", "ints", [1], "Its size per sample, without the batch.", min=1, max=65536),
        Param(
            "fill_value",
            "float",
            0.0,
            "The value in every place (a token id for int64).",
            min=-1e15,
            max=1e15,
        ),
        Param(
            "dtype",
            "choice",
            "int64",
            "int64 for token ids, float32 otherwise.",
            choices=("int64", "float32"),
        ),
    ),
    infer_shape=_full_shape,
    emit_forward=_full_call,
    input_dtype="any",
    output_dtype=lambda p: p["dtype"],
    id_prefix="full",
    min_rank=0,
)


def _split_spec(type_name, help_text, params, sizes_of, call):
    def emit(attr, xs, p, read, shapes):
        # Every part is unpacked (torch returns them all); parts nothing reads go to `_`.
        count = len(sizes_of(shapes, p))
        targets = [read.get(f"part{i}", "_") for i in range(count)]
        return [f"{', '.join(targets)} = {call(xs[0], p)}"]

    return LayerSpec(
        type=type_name,
        category="tensor",
        help=help_text,
        params=params,
        infer_shape=_first_part(sizes_of),
        output_ports=_parts(sizes_of),
        needs_port=True,
        emit_forward_ports=emit,
        input_dtype="any",
        id_prefix=type_name,
    )


SPLIT_PARAMS = (
    Param(
        "split_size_or_sections",
        "ints",
        [1],
        "One size: parts of that size (the last may be smaller); several: the size of each part.",
        min=1,
        max=1_000_000,
        max_len=64,
    ),
    Param("dim", "int", 1, DIM_HELP, min=-8, max=8),
)
CHUNK_PARAMS = (
    Param("chunks", "int", 2, "How many parts (torch may give fewer).", min=1, max=64),
    Param("dim", "int", 1, DIM_HELP, min=-8, max=8),
)


def _split_call(x, p):
    sections = p["split_size_or_sections"]
    size = sections[0] if len(sections) == 1 else list(sections)
    return f"{x}.split({size!r}, dim={p['dim']})"


def _chunk_call(x, p):
    return f"{x}.chunk({p['chunks']}, dim={p['dim']})"


SPECS = (
    _scalar_op("mul", "*", "Multiplies by a constant (e.g. 0.5 * logvar).", 1.0),
    _scalar_op("add", "+", "Adds a constant.", 0.0),
    _scalar_op("div", "/", "Divides by a constant (e.g. by sqrt(d) in attention).", 1.0),
    _unary("exp", "e to the power of each value (e.g. std from a log-variance)."),
    _unary("log", "Natural logarithm of each value."),
    _unary("sqrt", "Square root of each value."),
    _unary("abs", "Absolute value of each value."),
    LayerSpec(
        type="matmul",
        category="tensor",
        help="Matrix product of two inputs per sample (leading dims broadcast), like a @ b.",
        min_inputs=2,
        max_inputs=2,
        infer_shape=_matmul_shape,
        emit_forward=lambda attr, xs, p: f"torch.matmul({xs[0]}, {xs[1]})",
        count_macs=_matmul_macs,
        id_prefix="matmul",
        input_names=("input", "other"),
    ),
    LayerSpec(
        type="bmm",
        category="tensor",
        help="Batch matrix product: (n, k) times (k, m) per sample gives (n, m).",
        min_inputs=2,
        max_inputs=2,
        infer_shape=_bmm_shape,
        emit_forward=lambda attr, xs, p: f"torch.bmm({xs[0]}, {xs[1]})",
        count_macs=_matmul_macs,
        id_prefix="bmm",
        input_names=("input", "mat2"),
    ),
    LayerSpec(
        type="squeeze",
        category="tensor",
        help="Removes a dimension of size 1 (a dim of another size is left as it is, as in torch).",
        params=(Param("dim", "int", -1, DIM_HELP, min=-9, max=8),),
        infer_shape=_squeeze_shape,
        emit_forward=lambda attr, xs, p: f"{xs[0]}.squeeze({p['dim']})",
        input_dtype="any",
        id_prefix="squeeze",
    ),
    LayerSpec(
        type="unsqueeze",
        category="tensor",
        help="Inserts a dimension of size 1.",
        params=(Param("dim", "int", 1, DIM_HELP, min=-9, max=9),),
        infer_shape=_unsqueeze_shape,
        emit_forward=lambda attr, xs, p: f"{xs[0]}.unsqueeze({p['dim']})",
        input_dtype="any",
        id_prefix="unsqueeze",
        min_rank=0,
    ),
    LayerSpec(
        type="permute",
        category="tensor",
        help="Reorders the dimensions; the batch (0) stays first, e.g. [0, 2, 1].",
        params=(
            Param("dims", "ints", [0, 2, 1], "The new order of all dims, 0 first.", min=-9, max=8),
        ),
        infer_shape=_permute_shape,
        emit_forward=lambda attr, xs, p: f"{xs[0]}.permute({', '.join(map(str, p['dims']))})",
        input_dtype="any",
        id_prefix="permute",
    ),
    LayerSpec(
        type="transpose",
        category="tensor",
        help="Swaps two dimensions (not the batch).",
        params=(
            Param("dim0", "int", 1, DIM_HELP, min=-9, max=8),
            Param("dim1", "int", 2, DIM_HELP, min=-9, max=8),
        ),
        infer_shape=_transpose_shape,
        emit_forward=lambda attr, xs, p: f"{xs[0]}.transpose({p['dim0']}, {p['dim1']})",
        input_dtype="any",
        id_prefix="transpose",
    ),
    _split_spec(
        "split",
        "Cuts the input into parts along a dim; each part is an output port (part0, part1 ...).",
        SPLIT_PARAMS,
        _split_sizes,
        _split_call,
    ),
    _split_spec(
        "chunk",
        "Cuts the input into a number of near-equal parts; each is an output port (part0 ...).",
        CHUNK_PARAMS,
        _chunk_sizes,
        _chunk_call,
    ),
    _reduce("mean", "Averages over the chosen dims."),
    _reduce("sum", "Sums over the chosen dims."),
    ARGMAX,
    FULL,
)
