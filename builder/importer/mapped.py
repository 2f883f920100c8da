"""What a handler returns for one exported op, and the small readers handlers share."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch

from ..layers import REGISTRY


@dataclass
class Mapped:
    type: str
    params: dict[str, Any]
    inputs: list  # fx nodes, in port order
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class Alias:
    source: Any  # the fx node whose value this op passes on


@dataclass(frozen=True)
class OneOfTwo:
    """An op returning (values, indices) whose node stands for one of them: `kept` is that
    item's index; reading the other one (`dropped`) is refused with message and hint."""

    kept: int
    dropped: str
    message: str
    hint: str


def shape_of(node) -> tuple[int, ...]:
    value = node.meta.get("val")
    return tuple(value.shape) if isinstance(value, torch.Tensor) else ()


def is_tensor(value) -> bool:
    return hasattr(value, "meta") and isinstance(value.meta.get("val"), torch.Tensor)


def arg(node, index: int, name: str, default: Any = None) -> Any:
    if len(node.args) > index:
        return node.args[index]
    return node.kwargs.get(name, default)


def without_defaults(type_name: str, params: dict[str, Any]) -> dict[str, Any]:
    spec = REGISTRY[type_name]
    return {k: v for k, v in params.items() if spec.param(k) is None or spec.param(k).default != v}


def single(value):
    if isinstance(value, list | tuple):
        if not value:
            return []
        return value[0] if all(v == value[0] for v in value) else list(value)
    return value
