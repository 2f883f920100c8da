"""The declarative shape of a layer type: its params, shape rule and the code it emits.

A layer type is one `LayerSpec` in one file of this package; nothing else in the
project needs to change to add one.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

Shape = tuple[int, ...]
"""A tensor shape without the batch dimension."""

PARAM_KINDS = ("int", "float", "bool", "choice", "int_or_tuple", "shape", "ints", "text")
# "ints": a list of whole numbers of any length (within min/max each), e.g. Reshape's -1 or
# permute's dims. "text": a short string that must fully match the param's `pattern`
# (a node id, an init like "normal(0, 0.02)"); it is never pasted into generated code raw.

Lines = str | list[str]
"""What emit_forward returns: one expression, or statements that assign `{out}`."""


@dataclass(frozen=True)
class Param:
    """One constructor argument, with what the inspector needs to show a widget for it."""

    name: str  # torch's keyword name
    kind: str  # one of PARAM_KINDS
    default: Any
    help: str  # one line, shown as a tooltip
    min: float | None = None
    max: float | None = None
    choices: tuple[Any, ...] = ()
    optional: bool = False  # None is an accepted value
    pattern: str | None = None  # kind "text": a regular expression the whole value matches
    in_ctor: bool = True  # False: not a constructor argument (init, tie_weight_to ...)
    max_len: int = 8  # kind "ints": the most values the list may hold


@dataclass(frozen=True)
class LayerSpec:
    """Everything the project knows about one layer type."""

    type: str  # the torch.nn class name where one exists
    category: str  # core, convolution, normalisation, activation, sequence, merge
    help: str
    infer_shape: Callable[[list[Shape], dict[str, Any]], Shape]
    params: tuple[Param, ...] = ()
    min_inputs: int = 1
    max_inputs: int | None = 1  # None: any number
    # Constructor source for __init__, e.g. "nn.Conv2d(3, 6, kernel_size=5)"; None: no submodule.
    emit_init: Callable[[list[Shape], dict[str, Any]], str | None] = field(
        default=lambda s, p: None
    )
    # Expression for forward(), from the attribute name and the input variable names.
    emit_forward: Callable[[str, list[str], dict[str, Any]], Lines] = field(
        default=lambda attr, xs, p: f"self.{attr}({xs[0]})"
    )
    count_params: Callable[[list[Shape], dict[str, Any]], int] = field(default=lambda s, p: 0)
    count_macs: Callable[[list[Shape], Shape, dict[str, Any]], int] = field(
        default=lambda s, out, p: 0
    )
    # "float32": needs float input; "int64": needs token ids; "any": passes the dtype through.
    input_dtype: str = "float32"
    # The dtype of its output from its params, where that is not the input's (argmax: int64).
    output_dtype: Callable[[dict[str, Any]], str] | None = None
    # Short name used to make node ids ("conv" -> conv1, conv2 ...).
    id_prefix: str = ""
    # Spatial dims (1 or 2) its int-or-tuple params cover: a list value must have this length.
    spatial_dims: int = 0
    # Module-level functions the emitted code may call (name -> source); codegen writes one
    # above the model class when a generated line calls it, so the export stays self-contained.
    helpers: dict[str, str] = field(default_factory=dict)
    # Multi-output nodes: every output port's shape, by port name, the default port first.
    # An edge picks a port with "source_port" (name or index); without one it reads the first.
    output_ports: Callable[[list[Shape], dict[str, Any]], dict[str, Shape]] | None = None
    # True: an edge from it must name a port (split/chunk parts are all equal peers).
    needs_port: bool = False
    # Like emit_forward, for a node with output_ports or code that depends on the input
    # shapes: (attr, xs, params, read, input_shapes), where read maps each output port other
    # nodes read to its variable; the statements assign `{out}` and each of those variables.
    emit_forward_ports: Callable[..., Lines] | None = None
    # Fewest dims (besides the batch) each input must have; 0 accepts one value per sample.
    min_rank: int = 1
    # Names of its input ports, for messages ("h0"); defaults to input 1, 2, ...
    input_names: tuple[str, ...] = ()

    def defaults(self) -> dict[str, Any]:
        """Param name -> default value."""
        return {p.name: p.default for p in self.params}

    def param(self, name: str) -> Param | None:
        """The declared param of that name, or None."""
        return next((p for p in self.params if p.name == name), None)


class ShapeError(ValueError):
    """Raised by a shape rule; shapes.py turns it into a BuilderError naming the node.

    The hint may say "{node}", replaced by the node's id.
    """

    def __init__(self, message: str, hint: str | None = None):
        super().__init__(message)
        self.hint = hint


# ---- small helpers the specs share -------------------------------------------------------


def pair(value: int | list[int] | tuple[int, ...], n: int = 2) -> tuple[int, ...]:
    """An int-or-tuple param as an n-tuple, the way torch reads it."""
    if isinstance(value, int):
        return (value,) * n
    values = tuple(value)
    return values * n if len(values) == 1 else values


def numel(shape: Shape) -> int:
    """Number of values in a tensor of this shape."""
    return math.prod(shape)


def fmt_shape(shape: Shape) -> str:
    """A shape for messages: "16×5×5"."""
    return "×".join(str(d) for d in shape) if shape else "scalar"


def literal(value: Any) -> str:
    """Python source for a validated param value (ints, floats, bools, tuples, choice strings)."""
    if isinstance(value, str):
        return f'"{value}"'  # only validated choices are strings; ruff format's quotes
    if isinstance(value, list):
        value = tuple(value)
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return repr(value)
    return repr(value)


def module_call(cls: str, positional: list[Any], params: dict[str, Any], spec_params) -> str:
    """`nn.Cls(pos..., kw=value)` with only the params that differ from torch's default."""
    args = [literal(v) for v in positional]
    for p in spec_params:
        value = params.get(p.name, p.default)
        skip = p.name.startswith("_") or not p.in_ctor
        if skip or value == p.default or _same_pair(value, p.default):
            continue
        args.append(f"{p.name}={literal(value)}")
    return f"nn.{cls}({', '.join(args)})"


def _same_pair(a: Any, b: Any) -> bool:
    if isinstance(a, list | tuple) and isinstance(b, int):
        return all(v == b for v in a)
    return False


def expect_rank(shapes: list[Shape], ranks: tuple[int, ...], what: str, hint: str | None = None):
    """Raise a ShapeError unless the single input has one of the given ranks."""
    shape = shapes[0]
    if len(shape) not in ranks:
        raise ShapeError(f"expects {what} but gets ({', '.join(map(str, shape))})", hint)
    return shape


def batch_dim(dim: int, shape: Shape, name: str = "dim") -> int:
    """A torch dim (batch is 0, negatives count from the end) as a non-negative index.

    Raises a ShapeError when torch would raise "Dimension out of range".
    """
    rank = len(shape) + 1  # torch counts the batch
    if not -rank <= dim < rank:
        raise ShapeError(
            f"{name} {dim} is out of range for a {rank}-D tensor (batch included)",
            f"Use a {name} from 1 to {rank - 1}, or -1 for the last.",
        )
    return dim % rank
