"""Param values checked against their LayerSpec: kinds, ranges and patterns.

Graph files are untrusted, so every value is checked here before it is stored; each
problem is a BuilderError naming the node and field, with a hint where one helps.
"""

from __future__ import annotations

import difflib
import json
import math
import numbers
import re
from typing import Any

from .errors import BuilderError
from .layers import get_spec
from .layers.base import Param

MAX_INT = 10**9


def validate_params(
    type_name: str, params: dict[str, Any], node_id: str | None = None
) -> dict[str, Any]:
    """Check user params against the spec; returns a clean copy (tuples as lists)."""
    spec = get_spec(type_name)
    if not isinstance(params, dict):
        raise BuilderError("params must be a JSON object", node=node_id, field="params")
    clean = {}
    for name, value in params.items():
        param = spec.param(name) if isinstance(name, str) else None
        if param is None:
            known = ", ".join(p.name for p in spec.params) or "none"
            raise BuilderError(
                f"{type_name} has no parameter {str(name)[:40]!r}",
                node=node_id,
                field=str(name)[:40],
                hint=f"Its parameters: {known}.",
            )
        clean[name] = check_value(param, value, node_id)
    return clean


def check_value(param: Param, value: Any, node_id: str | None = None) -> Any:
    """One param value checked against its declared kind and range; returns it cleaned."""
    where = {"node": node_id, "field": param.name}
    if value is None:
        if param.optional:
            return None
        raise BuilderError("needs a value", **where)
    kind = param.kind
    if kind == "bool":
        if not isinstance(value, bool):
            raise BuilderError(f"must be true or false, not {_show(value)}", **where)
        return value
    if kind == "choice":
        if value not in param.choices or not isinstance(value, str | int | float):
            raise BuilderError(
                f"must be one of {', '.join(map(str, param.choices))}, not {_show(value)}",
                **where,
                hint=_close_choice(value, param.choices) if isinstance(value, str) else None,
            )
        return value
    if kind == "int":
        return _check_int(param, value, where)
    if kind == "float":
        if not is_number(value) or not finite(value):
            raise BuilderError(f"must be a finite number, not {_show(value)}", **where)
        _check_range(param, value, where)
        return float(value)
    if kind == "int_or_tuple":
        if isinstance(value, str):
            if value in param.choices:
                return value
            words = f"a number or one of {', '.join(map(str, param.choices))}"
            raise BuilderError(
                f"must be {words if param.choices else 'a number'}, not {_show(value)}",
                **where,
                hint=_STRING_HINTS.get(value) or _close_choice(value, param.choices),
            )
        if isinstance(value, list | tuple):
            if not 1 <= len(value) <= 6:  # 6: both sides of 3 dims, as a pad layer takes
                raise BuilderError("must be a number or a list of 1 to 6 numbers", **where)
            return [_check_int(param, v, where) for v in value]
        return _check_int(param, value, where)
    if kind == "shape":
        if not isinstance(value, list | tuple) or not 1 <= len(value) <= 4:
            raise BuilderError("must be a list of 1 to 4 sizes, e.g. [1, 28, 28]", **where)
        sizes = [
            _check_int(Param(param.name, "int", 1, "", min=1, max=MAX_INT), v, where) for v in value
        ]
        if math.prod(sizes) > 10**9:
            raise BuilderError("is too large (over a billion values per sample)", **where)
        return sizes
    if kind == "ints":
        if not isinstance(value, list | tuple) or len(value) > param.max_len:
            raise BuilderError(
                f"must be a list of at most {param.max_len} whole numbers, e.g. [-1, 8]", **where
            )
        return [_check_int(param, v, where) for v in value]
    if kind == "text":
        if not isinstance(value, str) or not re.fullmatch(param.pattern or "", value.strip()):
            raise BuilderError(f"{_show(value)} is not a valid value", **where, hint=param.help)
        return value.strip()
    raise AssertionError(f"unknown param kind {kind}")


_STRING_HINTS = {
    "same": 'padding "same" exists on Conv1d/Conv2d/Conv3d (stride 1); elsewhere give the '
    "padding itself, e.g. kernel_size // 2.",
    "valid": 'padding "valid" means 0; write 0.',
}


def _close_choice(value: str, choices: tuple) -> str | None:
    close = difflib.get_close_matches(value, [str(c) for c in choices], n=1)
    return f'Did you mean "{close[0]}"?' if close else None


def _check_int(param: Param, value: Any, where: dict) -> int:
    # Widgets and numpy hand over numpy scalars; store plain Python numbers.
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        value = int(value)
    if isinstance(value, numbers.Real) and not isinstance(value, bool | int):
        value = float(value)
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        value = int(value)
    if not isinstance(value, int) or isinstance(value, bool):
        raise BuilderError(f"must be a whole number, not {_show(value)}", **where)
    _check_range(param, value, where)
    return value


def _check_range(param: Param, value: float, where: dict) -> None:
    low = param.min
    high = param.max if param.max is not None else (MAX_INT if param.kind != "float" else None)
    if low is not None and value < low:
        hint = (
            '-1 ("infer this size") is only understood by Reshape\'s shape; give the size itself.'
            if value == -1
            else None
        )
        raise BuilderError(f"must be at least {_num(low)}, not {_num(value)}", **where, hint=hint)
    if high is not None and value > high:
        raise BuilderError(f"must be at most {_num(high)}, not {_num(value)}", **where)


def is_number(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def finite(value: numbers.Real) -> bool:
    """math.isfinite that says False, not OverflowError, for an int too large for a float."""
    try:
        return math.isfinite(value)
    except OverflowError:
        return False


def _num(value: float) -> str:
    if isinstance(value, int):
        return _short_int(value)
    return str(int(value)) if float(value).is_integer() else str(value)


def _short_int(value: int) -> str:
    # str() of an int over 4,300 digits raises ValueError; a message needs only its size.
    if abs(value) < 10**30:
        return str(value)
    return f"a {value.bit_length() * 30103 // 100000 + 1}-digit number"


def _show(value: Any) -> str:
    if isinstance(value, int) and not isinstance(value, bool):
        return _short_int(value)
    try:
        text = (
            json.dumps(value)
            if isinstance(value, str | int | float | bool | list)
            else type(value).__name__
        )
    except (ValueError, RecursionError):
        text = type(value).__name__
    return text if len(text) <= 40 else text[:37] + "..."
