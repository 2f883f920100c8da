"""The layer registry: every layer type the editor offers, by category."""

from __future__ import annotations

from ..errors import BuilderError
from . import activation, convolution, core, merge, normalisation, sequence
from .base import LayerSpec, Param, Shape, ShapeError

CATEGORIES = ["core", "convolution", "normalisation", "activation", "sequence", "merge"]

REGISTRY: dict[str, LayerSpec] = {
    spec.type: spec
    for module in (core, convolution, normalisation, activation, sequence, merge)
    for spec in module.SPECS
}


def get_spec(type_name: str) -> LayerSpec:
    """The spec of a layer type, or a BuilderError that lists close names."""
    try:
        return REGISTRY[type_name]
    except (KeyError, TypeError):
        raise BuilderError(
            f"unknown layer type {str(type_name)[:40]!r}",
            field="type",
            hint=f"Use one of: {', '.join(sorted(REGISTRY))}.",
        ) from None


def specs_by_category() -> dict[str, list[LayerSpec]]:
    """The palette: categories in order, layers in registry order."""
    return {c: [s for s in REGISTRY.values() if s.category == c] for c in CATEGORIES}


__all__ = [
    "CATEGORIES",
    "REGISTRY",
    "LayerSpec",
    "Param",
    "Shape",
    "ShapeError",
    "get_spec",
    "specs_by_category",
]
