"""The declarative shape of a layer type: its params, shape rule and the code it emits.

A layer type is one `LayerSpec` in one file of this package; nothing else in the
project needs to change to add one.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

Shape = tuple[int, ...]
"""A tensor shape without the batch dimension."""

PARAM_KINDS = ("int", "float", "bool", "choice", "int_or_tuple", "shape")


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
    emit_forward: Callable[[str, list[str], dict[str, Any]], str] = field(
        default=lambda attr, xs, p: f"self.{attr}({xs[0]})"
    )
    count_params: Callable[[list[Shape], dict[str, Any]], int] = field(default=lambda s, p: 0)
    count_macs: Callable[[list[Shape], Shape, dict[str, Any]], int] = field(
        default=lambda s, out, p: 0
    )

    def defaults(self) -> dict[str, Any]:
        return {p.name: p.default for p in self.params}
