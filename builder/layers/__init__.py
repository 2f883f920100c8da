"""The layer registry: every layer type the editor offers, by category."""

from __future__ import annotations

import dataclasses
import difflib

from ..errors import BuilderError
from . import activation, convolution, core, merge, normalisation, sequence, tensor
from .base import LayerSpec, Param, Shape, ShapeError
from .core import NODE_ID

CATEGORIES = [
    "core",
    "convolution",
    "normalisation",
    "activation",
    "sequence",
    "merge",
    "tensor",
]

SHARES = Param(
    "shares",
    "text",
    None,
    "Id of another layer of this type whose weights this one uses: the code calls that "
    "layer again here (an unrolled decoder, siamese towers); empty: its own weights.",
    optional=True,
    pattern=NODE_ID,
    in_ctor=False,
)
_NO_WEIGHTS = LayerSpec.__dataclass_fields__["count_params"].default


def _with_shares(spec: LayerSpec) -> LayerSpec:
    """Every layer type with weights can call another node's layer instead (sharing.py)."""
    if spec.count_params is _NO_WEIGHTS:
        return spec
    return dataclasses.replace(spec, params=(*spec.params, SHARES))


REGISTRY: dict[str, LayerSpec] = {
    spec.type: _with_shares(spec)
    for module in (core, convolution, normalisation, activation, sequence, merge, tensor)
    for spec in module.SPECS
}


def get_spec(type_name: str) -> LayerSpec:
    """The spec of a layer type, or a BuilderError that suggests close names."""
    try:
        return REGISTRY[type_name]
    except (KeyError, TypeError):
        raise unknown_type_error(type_name) from None


# Names other frameworks use for a registered type, which spelling alone would not suggest.
OTHER_NAMES = {
    "dense": "Linear",
    "fullyconnected": "Linear",
    "conv": "Conv2d",
    "batchnorm": "BatchNorm2d",
    "maxpool": "MaxPool2d",
    "concatenate": "Concat",
    "mul": "Multiply",
    "view": "Reshape",
}


def close_type_names(type_name: object) -> list[str]:
    """Registered types spelled like type_name (any case), closest first."""
    text = str(type_name)[:40].lower()
    by_lower = {name.lower(): name for name in REGISTRY}
    matches = [by_lower[m] for m in difflib.get_close_matches(text, list(by_lower), 3, 0.6)]
    other = OTHER_NAMES.get(text)
    return [other, *(m for m in matches if m != other)] if other else matches


def unknown_type_error(type_name: object, node: str | None = None) -> BuilderError:
    """The error for a type not in the registry, suggesting the close names (or the categories)."""
    close = close_type_names(type_name)
    if close:
        hint = f"Did you mean {' or '.join(close)}?"
    else:
        hint = f"See the palette ({', '.join(CATEGORIES)}) for the {len(REGISTRY)} types."
    return BuilderError(
        f"unknown layer type {str(type_name)[:40]!r}", node=node, field="type", hint=hint
    )


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
    "unknown_type_error",
]
