"""The inspector's "Search" controls: mark a node's param, type or presence as searched.

A toggle per param marks it; its text field holds the range ("16..128", "1e-4..1e-1 log")
or the choices ("3, 5, 7"). Every change is an ordinary undoable edit of the graph's
search section (builder.search.edit), checked before it lands.
"""

from __future__ import annotations

import re
from typing import Any

import streamlit as st

from builder.errors import BuilderError
from builder.layers import get_spec
from builder.layers.base import Param
from builder.search.edit import mark_param, param_spec, unmark_param

from . import state

S = st.session_state
SEARCHABLE_KINDS = ("int", "float", "int_or_tuple", "choice", "bool")
# Types a node may switch between when its type is searched (same params, same inputs).
TYPE_FAMILIES = (("ReLU", "GELU", "SiLU"), ("MaxPool2d", "AvgPool2d"))
SKIPPABLE_PREFIXES = ("Dropout", "BatchNorm")
RANGE = re.compile(r"^\s*([-+0-9.eE]+)\s*\.\.\s*([-+0-9.eE]+)\s*(log)?\s*$")


def parse_search_text(param: Param, text: str) -> dict[str, Any]:
    """'16..128', '1e-4..0.1 log' -> a range; '3, 5, 7' or 'true, false' -> choices."""
    match = RANGE.match(text)
    try:
        if match:
            low, high = (_number(param, v) for v in match.group(1, 2))
            return {"low": low, "high": high, **({"log": True} if match.group(3) else {})}
        values = [_choice(param, v.strip()) for v in text.split(",") if v.strip()]
    except ValueError:
        values = []
    if not values:
        raise BuilderError(
            f"{text[:30]!r} is neither a range nor a list of choices",
            field=param.name,
            hint="Write e.g. 16..128, 1e-4..1e-1 log, or 3, 5, 7.",
        )
    return {"choices": values}


def default_search_text(param: Param, value: Any) -> str:
    """A sensible first range around the current value."""
    if param.kind == "bool":
        return "true, false"
    if param.kind == "choice":
        return ", ".join(str(c) for c in param.choices)
    if param.kind == "float":
        if param.max is not None and param.max <= 1:  # a probability such as dropout's p
            return "0..0.5"
        value = float(value or 0.0)
        return f"{value / 4:g}..{value * 4:g}" if value > 0 else "0..1"
    base = value[0] if isinstance(value, list) else int(value or 1)
    low = max(int(param.min or 1), base // 2, 1)
    return f"{low}..{max(base * 2, low + 1)}"


def spec_text(spec: dict[str, Any]) -> str:
    """The text field's form of a stored spec."""
    if "choices" in spec:
        return ", ".join(_show(v) for v in spec["choices"])
    return f"{spec['low']:g}..{spec['high']:g}" + (" log" if spec.get("log") else "")


def render_search_marks(arch, node_id: str) -> None:
    """The node's Search expander (called once by the inspector)."""
    spec = get_spec(arch.type_of(node_id))
    params = [p for p in spec.params if p.kind in SEARCHABLE_KINDS and not p.name.startswith("_")]
    family = next((f for f in TYPE_FAMILIES if spec.type in f), None)
    skippable = spec.type.startswith(SKIPPABLE_PREFIXES)
    if not params and family is None and not skippable:
        return
    section = arch.search or {}
    marked = sum(param_spec(arch, node_id, p.name) is not None for p in params)
    with st.expander(f"Search ({marked} marked)" if marked else "Search", expanded=bool(marked)):
        st.caption("Let the Search tab try values for this node.")
        values = arch.params_of(node_id)
        for param in params:
            _param_mark(arch, node_id, param, values.get(param.name))
        if family is not None:
            key = f"search_type_{node_id}"
            _sync(key, node_id in section.get("types", {}))
            label = f"search type ({' | '.join(family)})"
            st.toggle(label, key=key, on_change=_toggle_type, args=(node_id, family, key))
        if skippable:
            key = f"search_skip_{node_id}"
            _sync(key, node_id in section.get("optional", []))
            st.toggle("may be skipped", key=key, on_change=_toggle_optional, args=(node_id, key))


def _param_mark(arch, node_id: str, param: Param, value: Any) -> None:
    current = param_spec(arch, node_id, param.name)
    toggle_key, text_key = (
        f"search_on_{node_id}_{param.name}",
        f"search_range_{node_id}_{param.name}",
    )
    _sync(toggle_key, current is not None)
    st.toggle(
        f"search {param.name}",
        key=toggle_key,
        on_change=_toggle_param,
        args=(node_id, param, value, toggle_key),
    )
    if current is None:
        return
    _sync(text_key, spec_text(current))
    st.text_input(
        f"{param.name} range or choices",
        key=text_key,
        on_change=_set_range,
        args=(node_id, param, text_key),
        help="A range like 16..128 (add 'log' to sample on a log scale) or choices like 3, 5, 7.",
    )


def _toggle_param(node_id: str, param: Param, value: Any, key: str) -> None:
    if node_id != S.get("selected"):
        return
    if S[key]:
        text = default_search_text(param, value)
        state.edit(lambda a: mark_param(a, node_id, param.name, parse_search_text(param, text)))
    else:
        state.edit(lambda a: unmark_param(a, node_id, param.name))


def _set_range(node_id: str, param: Param, key: str) -> None:
    if node_id != S.get("selected"):
        return
    text = S[key]
    state.edit(lambda a: mark_param(a, node_id, param.name, parse_search_text(param, text)))


def _toggle_type(node_id: str, family: tuple[str, ...], key: str) -> None:
    on = S[key]

    def change(a) -> None:
        section = dict(a.search or {})
        types = dict(section.get("types", {}))
        if on:
            types[node_id] = list(family)
        else:
            types.pop(node_id, None)
        section["types"] = types
        _replace(a, section)

    state.edit(change)


def _toggle_optional(node_id: str, key: str) -> None:
    on = S[key]

    def change(a) -> None:
        section = dict(a.search or {})
        optional = [n for n in section.get("optional", []) if n != node_id]
        section["optional"] = [*optional, node_id] if on else optional
        _replace(a, section)

    state.edit(change)


def _sync(key: str, value: Any) -> None:
    """Show the graph's state in the widget (after undo, a refused edit, another node ...)."""
    if S.get(key) != value:
        S[key] = value


def _replace(arch, section: dict[str, Any]) -> None:
    from builder.search.space import parse_space

    section = {k: v for k, v in section.items() if v not in ({}, [], None)}
    parse_space(arch, section)
    arch.search = section or None


def _number(param: Param, text: str) -> float:
    value = float(text)
    return int(value) if param.kind != "float" and value.is_integer() else value


def _choice(param: Param, text: str) -> Any:
    if param.kind == "bool":
        if text.lower() not in ("true", "false"):
            raise ValueError(text)
        return text.lower() == "true"
    if param.kind == "choice":
        return next((c for c in param.choices if str(c) == text), text)
    return _number(param, text)


def _show(value: Any) -> str:
    return (
        str(value).lower()
        if isinstance(value, bool)
        else f"{value:g}"
        if isinstance(value, float)
        else str(value)
    )
