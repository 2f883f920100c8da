"""Exported aten ops outside any torch.nn module -> layer types (F.relu, torch.cat, x.view ...).

Each handler takes the fx node and returns a `Mapped` (a new layer node fed by some of the
op's tensor arguments) or an `Alias` (the op passes its input through unchanged).
"""

from __future__ import annotations

import math

import torch

from ..layers import REGISTRY
from ..layers.merge import broadcastable
from .capture import CAPTURE_BATCH
from .mapped import Alias, Mapped, OneOfTwo, arg, is_tensor, shape_of, without_defaults
from .problems import Unsupported
from .spatial import adaptive_pool, pad, pool, shuffle, upsample


def _activation(type_name: str, **readers):
    def handle(node):
        params = {name: read(node) for name, read in readers.items()}
        return Mapped(type_name, without_defaults(type_name, params), [node.args[0]])

    return handle


def _softmax(type_name: str):
    def handle(node):
        return Mapped(type_name, {"dim": node.args[1]}, [node.args[0]])

    return handle


def _elementwise(type_name: str, symbol: str):
    scalar_type = {"Add": "add", "Multiply": "mul"}[type_name]

    def handle(node):
        a, b = node.args[0], node.args[1]
        if is_tensor(a) and isinstance(b, int | float) and scalar_type in REGISTRY:
            return _scalar(scalar_type, a, b)
        if not (is_tensor(a) and is_tensor(b)):
            constant = b if is_tensor(a) else a
            raise Unsupported(
                f"`{symbol} {constant!r}` applies a constant; LayerCraft has no layer for that yet",
                "Only tensors of the same shape can be combined (Add / Multiply).",
            )
        if arg(node, 2, "alpha", 1) != 1:
            raise Unsupported("torch.add with alpha has no layer type", "Scale in a layer instead.")
        if not _broadcasts_per_sample(shape_of(a), shape_of(b)):
            raise Unsupported(
                f"combines shapes {list(shape_of(a))} and {list(shape_of(b))} by broadcasting",
                f"{type_name} needs inputs of one rank and batch, each size equal or 1.",
            )
        return Mapped(type_name, {}, [a, b])

    return handle


def _broadcasts_per_sample(a, b) -> bool:
    """What the graph's Add / Multiply broadcast: one batch, then the layers' own rule."""
    a, b = tuple(a), tuple(b)
    return bool(a) and bool(b) and a[0] == b[0] and broadcastable(a[1:], b[1:])


def _scalar(type_name: str, x, other) -> Mapped:
    return Mapped(type_name, without_defaults(type_name, {"other": float(other)}), [x])


def _sub(node):
    x, other = node.args[0], node.args[1]
    if is_tensor(x) and isinstance(other, int | float) and arg(node, 2, "alpha", 1) == 1:
        return _scalar("add", x, -other)  # x - c == x + (-c), exactly, in floating point
    raise Unsupported("subtracting tensors has no layer type", "Add a negated branch instead.")


def _div(node):
    x, other = node.args[0], node.args[1]
    if not (is_tensor(x) and isinstance(other, int | float)):
        raise Unsupported("dividing by a tensor has no layer type", "Divide by a constant.")
    if arg(node, 2, "rounding_mode", None) is not None:
        raise Unsupported("division with rounding_mode has no layer type")
    return _scalar("div", x, other)


def _unary(type_name: str):
    def handle(node):
        return Mapped(type_name, {}, [node.args[0]])

    return handle


def _binary(type_name: str):
    def handle(node):
        return Mapped(type_name, {}, [node.args[0], node.args[1]])

    return handle


def _squeeze(node):
    dim = arg(node, 1, "dim", None)
    if isinstance(dim, list | tuple):
        dim = dim[0] if len(dim) == 1 else None
    if dim is None:
        raise Unsupported("squeeze() without a dim", "Name the dim: x.squeeze(1).")
    return Mapped("squeeze", without_defaults("squeeze", {"dim": dim}), [node.args[0]])


def _unsqueeze(node):
    return Mapped("unsqueeze", {"dim": node.args[1]}, [node.args[0]])


def _permute(node):
    return Mapped("permute", {"dims": list(node.args[1])}, [node.args[0]])


def _transpose(node):
    return Mapped("transpose", {"dim0": node.args[1], "dim1": node.args[2]}, [node.args[0]])


def _split(node):
    sizes = node.args[1]
    sizes = list(sizes) if isinstance(sizes, list | tuple) else [sizes]
    params = {"split_size_or_sections": sizes, "dim": arg(node, 2, "dim", 0)}
    return Mapped("split", params, [node.args[0]])


def _chunk(node):
    params = {"chunks": node.args[1], "dim": arg(node, 2, "dim", 0)}
    return Mapped("chunk", without_defaults("chunk", params), [node.args[0]])


def _concat(node):
    dim = arg(node, 1, "dim", 0)
    if dim == 0 or dim == -len(shape_of(node)):
        raise Unsupported(
            "concatenates along the batch (dim 0)", "Concatenate along dim 1 or later."
        )
    return Mapped("Concat", without_defaults("Concat", {"dim": dim}), list(node.args[0]))


def _check_batch(node, what: str) -> tuple[int, ...]:
    out, batch = shape_of(node), shape_of(node.args[0])[0]
    if not out or out[0] != batch:
        raise Unsupported(
            f"{what} changes the batch dimension ({batch} -> {out[0] if out else 'scalar'})",
            "Keep the batch as dim 0, e.g. x.view(x.size(0), -1) or x.reshape(-1, C, H, W).",
        )
    return out


def _flatten(node):
    _check_batch(node, "flatten")
    start, end = arg(node, 1, "start_dim", 0), arg(node, 2, "end_dim", -1)
    rank = len(shape_of(node.args[0]))
    end = -1 if end == rank - 1 else end
    return Mapped(
        "Flatten",
        without_defaults("Flatten", {"start_dim": start, "end_dim": end}),
        [node.args[0]],
    )


def _reshape(node):
    out = _check_batch(node, "reshape")
    source = shape_of(node.args[0])
    is_view = node.target._opname in ("view", "_unsafe_view")
    if is_view and len(out) == 2 and len(source) > 2:
        return Mapped("Flatten", {}, [node.args[0]])  # x.view(N, -1): what Flatten writes
    if out == source:
        return Alias(node.args[0])
    return Mapped("Reshape", {"shape": list(out[1:])}, [node.args[0]])


def _unflatten(node):
    _check_batch(node, "unflatten")
    dim = node.args[1] % len(shape_of(node.args[0]))
    return Mapped("Unflatten", {"dim": dim, "unflattened_size": list(node.args[2])}, [node.args[0]])


def _reduce(reduce: str):
    def handle(node):
        dims = arg(node, 1, "dim", None)
        keepdim = arg(node, 2, "keepdim", False)
        if dims is not None and (len(dims) != 1 or keepdim) and reduce in REGISTRY:
            params = {"dim": list(dims), "keepdim": bool(keepdim)}
            return Mapped(reduce, without_defaults(reduce, params), [node.args[0]])
        if dims is None or len(dims) != 1 or keepdim or reduce == "sum":
            raise Unsupported(
                f"{reduce} over dims {dims} (keepdim={keepdim}) has no layer type",
                "SequenceMean pools one dim away, e.g. x.mean(dim=1).",
            )
        return Mapped(
            "SequenceMean",
            without_defaults("SequenceMean", {"dim": dims[0], "reduce": reduce}),
            [node.args[0]],
        )

    return handle


def _select(node):
    dim, index = node.args[1], node.args[2]
    if index not in (0, -1) or dim in (0, -len(shape_of(node.args[0]))):
        raise Unsupported(
            f"indexing [{index}] along dim {dim} has no layer type",
            "Only the first or last step along a dim (x[:, 0], x[:, -1]) maps to "
            "SequenceMean(reduce='first' / 'last').",
        )
    reduce = "first" if index == 0 else "last"
    return Mapped(
        "SequenceMean",
        without_defaults("SequenceMean", {"dim": dim, "reduce": reduce}),
        [node.args[0]],
    )


def _max(node):
    """torch.max(x, dim): its values (item [0]) are SequenceMean(reduce='max'); the indices
    (item [1]) have no layer type, which the converter says where they are read."""
    dim = arg(node, 1, "dim", None)
    if not isinstance(dim, int) or arg(node, 2, "keepdim", False):
        raise Unsupported(
            "torch.max over the whole tensor, or with keepdim, has no layer type",
            "Take the max over one dim: torch.max(x, dim=2).values (SequenceMean, reduce max).",
        )
    params = without_defaults("SequenceMean", {"dim": dim, "reduce": "max"})
    values = OneOfTwo(
        0,
        "indices",
        "reads the indices of torch.max(x, dim), which have no layer type",
        "Use only the values (torch.max(x, dim)[0], or x.amax(dim)).",
    )
    return Mapped("SequenceMean", params, [node.args[0]], {"one_of_two": values})


def _argmax(node):
    dim = arg(node, 1, "dim", None)
    if not isinstance(dim, int):
        raise Unsupported("argmax over the whole tensor has no layer type", "Give it a dim.")
    params = {"dim": dim, "keepdim": bool(arg(node, 2, "keepdim", False))}
    return Mapped("argmax", without_defaults("argmax", params), [node.args[0]])


def _topk(node):
    """x.topk(1): its indices (item [1]) are argmax(keepdim=True); its values (item [0])
    have no layer type, which the converter says where they are read."""
    if arg(node, 1, "k", None) != 1 or not arg(node, 3, "largest", True):
        raise Unsupported(
            "topk of more than one value (or the smallest) has no layer type",
            "A greedy decoder's x.topk(1) or x.argmax(dim) maps to argmax.",
        )
    params = {"dim": arg(node, 2, "dim", -1), "keepdim": True}
    indices = OneOfTwo(
        1,
        "values",
        "reads the values of x.topk(1), which have no layer type",
        "Take them with x.amax(dim, keepdim=True).",
    )
    return Mapped(
        "argmax", without_defaults("argmax", params), [node.args[0]], {"one_of_two": indices}
    )


def full_node(node, first_input) -> Mapped | None:
    """`torch.full((N, 1), v)` or `torch.empty(N, 1).fill_(v)` of token ids with the batch
    as its first size: a `full` node, fed by forward's first input for the batch size and
    the device.

    Export sees the batch as the number it ran with; the comparison at another batch size,
    after the import, proves that the size was the batch.
    """
    name = _opname(node)
    if first_input is None or name not in ("full", "fill_", "fill"):
        return None
    if name != "full":
        made = node.args[0]
        if not hasattr(made, "op") or _opname(made) != "empty" or is_tensor(node.args[1]):
            return None
    value = node.args[1]
    made = node.meta.get("val")
    # Token ids only: a float constant (a -inf attention mask over 2 steps) stays a constant.
    if getattr(made, "dtype", None) != torch.int64 or not isinstance(value, int | float):
        return None
    if made.dim() < 1 or made.shape[0] != CAPTURE_BATCH:
        return None
    params = {"size": list(made.shape[1:]), "fill_value": float(value), "dtype": "int64"}
    return Mapped("full", without_defaults("full", params), [first_input])


def _opname(node) -> str:
    return getattr(node.target, "_opname", getattr(node.target, "__name__", str(node.target)))


def _dropout(node):
    if node.args[2]:
        raise Unsupported(
            "applies dropout even in eval mode (training=True)",
            "Use nn.Dropout, or F.dropout(x, p, training=self.training).",
        )
    return Mapped(
        "Dropout", without_defaults("Dropout", {"p": float(node.args[1])}), [node.args[0]]
    )


def _pass_through(node):
    return Alias(node.args[0])


def _gelu_approximate(node):
    return node.kwargs.get("approximate", node.args[1] if len(node.args) > 1 else "none")


def _elu(node):
    if any(arg(node, i, n, 1) != 1 for i, n in ((2, "scale"), (3, "input_scale"))):
        raise Unsupported("ELU with scale has no layer type (SELU?)", "Use F.elu(x, alpha).")
    return Mapped(
        "ELU",
        without_defaults("ELU", {"alpha": float(arg(node, 1, "alpha", 1.0))}),
        [node.args[0]],
    )


def _softplus(node):
    params = {
        "beta": float(arg(node, 1, "beta", 1.0)),
        "threshold": float(arg(node, 2, "threshold", 20.0)),
    }
    return Mapped("Softplus", without_defaults("Softplus", params), [node.args[0]])


def _glu(node):
    return Mapped("GLU", without_defaults("GLU", {"dim": arg(node, 1, "dim", -1)}), [node.args[0]])


def _hardtanh(node):
    if (arg(node, 1, "min_val", -1.0), arg(node, 2, "max_val", 1.0)) != (0.0, 6.0):
        raise Unsupported("hardtanh has no layer type (only relu6's 0..6)", "Use F.relu6.")
    return Mapped("ReLU6", {}, [node.args[0]])


HANDLERS = {
    "relu": _activation("ReLU"),
    "relu_": _activation("ReLU"),
    "sigmoid": _activation("Sigmoid"),
    "sigmoid_": _activation("Sigmoid"),
    "tanh": _activation("Tanh"),
    "tanh_": _activation("Tanh"),
    "silu": _activation("SiLU"),
    "silu_": _activation("SiLU"),
    "gelu": _activation("GELU", approximate=_gelu_approximate),
    "leaky_relu": _activation(
        "LeakyReLU", negative_slope=lambda n: float(arg(n, 1, "negative_slope", 0.01))
    ),
    "leaky_relu_": _activation(
        "LeakyReLU", negative_slope=lambda n: float(arg(n, 1, "negative_slope", 0.01))
    ),
    "elu": _elu,
    "elu_": _elu,
    "softmax": _softmax("Softmax"),
    "_softmax": _softmax("Softmax"),
    "log_softmax": _softmax("LogSoftmax"),
    "_log_softmax": _softmax("LogSoftmax"),
    "add": _elementwise("Add", "+"),
    "add_": _elementwise("Add", "+"),
    "mul": _elementwise("Multiply", "*"),
    "mul_": _elementwise("Multiply", "*"),
    "sub": _sub,
    "div": _div,
    "exp": _unary("exp"),
    "log": _unary("log"),
    "sqrt": _unary("sqrt"),
    "abs": _unary("abs"),
    "matmul": _binary("matmul"),
    "bmm": _binary("bmm"),
    "squeeze": _squeeze,
    "unsqueeze": _unsqueeze,
    "permute": _permute,
    "transpose": _transpose,
    "split": _split,
    "split_with_sizes": _split,
    "chunk": _chunk,
    "sum": _reduce("sum"),
    "cat": _concat,
    "concat": _concat,
    "flatten": _flatten,
    "view": _reshape,
    "_unsafe_view": _reshape,
    "reshape": _reshape,
    "unflatten": _unflatten,
    "mean": _reduce("mean"),
    "amax": _reduce("max"),
    "max": _max,
    "argmax": _argmax,
    "topk": _topk,
    "select": _select,
    "dropout": _dropout,
    "dropout_": _dropout,
    "max_pool1d": pool("MaxPool1d"),
    "max_pool2d": pool("MaxPool2d"),
    "avg_pool2d": pool("AvgPool2d"),
    "adaptive_avg_pool2d": adaptive_pool,
    "upsample_nearest2d": upsample("nearest"),
    "upsample_bilinear2d": upsample("bilinear"),
    "softplus": _softplus,
    "mish": _activation("Mish"),
    "mish_": _activation("Mish"),
    "hardswish": _activation("Hardswish"),
    "hardswish_": _activation("Hardswish"),
    "hardsigmoid": _activation("Hardsigmoid"),
    "hardsigmoid_": _activation("Hardsigmoid"),
    "relu6": _activation("ReLU6"),
    "hardtanh": _hardtanh,
    "hardtanh_": _hardtanh,
    "glu": _glu,
    "pixel_shuffle": shuffle("PixelShuffle", "upscale_factor"),
    "pixel_unshuffle": shuffle("PixelUnshuffle", "downscale_factor"),
    "pad": pad,
    "constant_pad_nd": pad,
    "alias": _pass_through,
    "clone": _pass_through,
    "contiguous": _pass_through,
    "detach": _pass_through,
    "lift_fresh_copy": _pass_through,
}


def map_function(node) -> Mapped | Alias:
    """The layer for one exported op, or Unsupported naming it."""
    name = _opname(node)
    handler = HANDLERS.get(name)
    if handler is None:
        raise Unsupported(f"`{name}` has no LayerCraft layer type", _near(name))
    return handler(node)


def _near(name: str) -> str:
    ops = {
        "matmul": "tensor ops",
        "bmm": "tensor ops",
        "permute": "tensor ops",
        "transpose": "tensor ops",
        "exp": "tensor ops",
        "split": "tensor ops",
        "chunk": "tensor ops",
        "squeeze": "tensor ops",
        "unsqueeze": "tensor ops",
        "sum": "tensor ops",
        "randn_like": "a reparameterisation node",
    }
    if name in ops:
        return f"It needs {ops[name]}, which the layers branch is adding."
    return "Express it with supported layers."


def numel(shape) -> int:
    return math.prod(shape)
