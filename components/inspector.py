"""The inspector: typed widgets for the selected node's params, rename, duplicate, delete."""

from __future__ import annotations

import re
from typing import Any

import streamlit as st

from builder import groups, sharing
from builder.errors import BuilderError
from builder.graph import Architecture
from builder.layers import get_spec
from builder.layers.base import Param
from builder.shapes import format_count, format_shape

from . import state
from .block_inspector import render_block_inspector, render_group_offer
from .canvas_view import handle_intent, selection
from .search_marks import render_search_marks

S = st.session_state


def parse_ints(text: str, field: str) -> list[int]:
    """'3, 32, 32' or '3x32x32' -> [3, 32, 32]; a BuilderError naming the field otherwise."""
    parts = [p for p in re.split(r"[\s,x×()\[\]]+", text.strip()) if p]
    try:
        values = [int(p) for p in parts]
    except ValueError:
        values = []
    if not values:
        raise BuilderError(
            f"{text[:30]!r} is not a list of whole numbers",
            field=field,
            hint="Write e.g. 1, 28, 28.",
        )
    return values


def parse_widget_value(param: Param, raw: Any) -> Any:
    """What a widget gave -> the value the graph stores (text fields are parsed here)."""
    if param.optional and (raw is None or (isinstance(raw, str) and not raw.strip())):
        return None
    if param.kind == "shape":
        return parse_ints(raw, param.name)
    if param.kind == "ints":
        return parse_ints(raw, param.name) if str(raw).strip() else []
    if param.kind == "int_or_tuple":
        values = parse_ints(raw, param.name)
        return values[0] if len(values) == 1 else values
    if param.kind == "int" and isinstance(raw, str):
        return parse_ints(raw, param.name)[0]
    if param.kind == "float" and isinstance(raw, str):
        try:
            return float(raw)
        except ValueError:
            raise BuilderError(f"{raw[:30]!r} is not a number", field=param.name) from None
    return raw


def set_param(arch: Architecture, node_id: str, param: Param, raw: Any) -> None:
    """Validate and store one param on the node (the graph checks types and ranges)."""
    arch.update_params(node_id, **{param.name: parse_widget_value(param, raw)})


def _as_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, list | tuple):
        return ", ".join(str(v) for v in value)
    return str(value)


def _on_param_change(node_id: str, param: Param, key: str) -> None:
    if node_id != S.get("selected"):
        return  # a late report from a field no longer on screen: the user is elsewhere
    state.edit(set_param, node_id, param, S[key])


def _range_hint(param: Param) -> str:
    """'between 0 and 1' for a float field's placeholder."""
    if param.min is not None and param.max is not None:
        return f"between {param.min:g} and {param.max:g}"
    return "a number"


def _widget_value(param: Param, value: Any) -> Any:
    """The graph's value in the form its widget holds."""
    if param.kind == "bool":
        return bool(value)
    if param.kind == "choice":
        return value if value in param.choices else param.choices[0]
    if param.kind == "int" and not (param.optional and value is None):
        return int(value)
    if param.kind == "float" and value is not None:
        return f"{float(value):g}"
    return _as_text(value)


def _sync(key: str, value: Any) -> None:
    """Show the graph's value in the widget (after undo, a refused edit, another node ...).

    Keys stay the same across edits: Streamlit's frontend can carry a widget's old
    value over to a new key at the same place, so changing keys is not safe.
    """
    if S.get(key) != value:
        S[key] = value


def _shares_widget(arch: Architecture, node_id: str, value: str | None) -> None:
    """Whose weights the layer uses: its own, or another layer's of its type (sharing.py)."""
    key = f"param_{node_id}_shares"
    options = [None, *sharing.candidates(arch, node_id)]
    if value is not None and value not in options:
        options.append(value)  # a missing owner stays visible, with its error on the node
    _sync(key, value)
    st.selectbox(
        "Weights",
        options,
        key=key,
        format_func=lambda owner: "its own" if owner is None else f"shared with {owner}",
        help=get_spec(arch.type_of(node_id)).param("shares").help,
        on_change=_on_shares_change,
        args=(node_id, key),
    )


def _on_shares_change(node_id: str, key: str) -> None:
    if node_id == S.get("selected"):
        state.edit(sharing.share_layer, node_id, S[key])


def _param_widget(node_id: str, param: Param, value: Any) -> None:
    key = f"param_{node_id}_{param.name}"
    _sync(key, _widget_value(param, value))
    label = param.name
    common = {
        "key": key,
        "help": param.help,
        "on_change": _on_param_change,
        "args": (node_id, param, key),
    }
    if param.kind == "bool":
        st.toggle(label, **common)
    elif param.kind == "choice":
        st.selectbox(label, list(param.choices), **common)
    elif param.kind == "int" and not (param.optional and value is None):
        st.number_input(
            label,
            min_value=None if param.min is None else int(param.min),
            max_value=None if param.max is None else int(param.max),
            step=1,
            **common,
        )
    else:
        hint = (
            "empty: none"
            if param.optional
            else _range_hint(param)
            if param.kind == "float"
            else "e.g. 3 or 3, 5"
            if param.kind == "int_or_tuple"
            else ""
        )
        st.text_input(label, placeholder=hint, **common)


def _rename(key: str, node_id: str) -> None:
    if node_id != S.get("selected"):
        return  # a late report from a field no longer on screen
    new_id = S[key].strip()
    if state.edit(lambda a: a.rename_node(node_id, new_id)):
        S.selected = new_id


def _duplicate(node_id: str) -> None:
    new = S.arch.copy()
    S.selected = new.duplicate_node(node_id)
    state.commit(new)


def _delete(node_id: str) -> None:
    # The same path as Delete/Backspace and the context menu on the canvas.
    handle_intent({"kind": "delete", "nodes": [node_id], "edges": []})


def _move_input(node_id: str, index: int, step: int) -> None:
    def move(a: Architecture) -> None:
        inputs = a.inputs_of(node_id)
        j = index + step
        inputs[index], inputs[j] = inputs[j], inputs[index]
        a.reorder_inputs(node_id, inputs)

    state.edit(move)


def render_inspector() -> None:
    """Everything about the selected node, editable; a hint when nothing is selected."""
    arch = state.arch()
    node_id = S.get("selected")
    st.subheader("Inspector")
    block = groups.selected_block(arch, selection())
    if block is not None:
        render_block_inspector(block)
        return
    render_group_offer()
    if node_id is None:
        st.caption(
            "Select a node to edit its parameters. Drag from a node's output handle to an input port of another to connect them; Delete or Backspace removes the selection."
        )
        return
    spec = get_spec(arch.type_of(node_id))
    info = state.analysis().nodes.get(node_id)
    st.markdown(f"**{node_id}** · {spec.type} — {spec.help}")
    if info is not None and info.error is not None:
        st.error(str(info.error), icon=":material/error:")
    elif info is not None and info.output_shape is not None:
        st.markdown(
            f"Output `{format_shape(info.output_shape)}` · {format_count(info.params)} params"
        )
    rename_key = f"rename_{node_id}"
    _sync(rename_key, node_id)
    st.text_input(
        "Name",
        key=rename_key,
        on_change=_rename,
        args=(rename_key, node_id),
        help="Becomes the attribute name in the generated code.",
    )
    params = arch.params_of(node_id)
    for param in spec.params:
        if param.name == "shares":
            _shares_widget(arch, node_id, params.get("shares"))
        elif params.get("shares") and param.name in sharing.OWN_PARAMS:
            continue  # a sharer's layer is its owner's: the owner's init applies
        elif not param.name.startswith("_"):
            _param_widget(node_id, param, params.get(param.name, param.default))
    if info is not None and info.params:
        _trainable_switch(arch, node_id)
    render_search_marks(arch, node_id)
    _render_inputs(arch, node_id, spec)
    c1, c2 = st.columns(2)
    c1.button("Duplicate", key="dup_node", on_click=_duplicate, args=(node_id,), width="stretch")
    c2.button(
        "Delete",
        key="del_node",
        on_click=_delete,
        args=(node_id,),
        width="stretch",
        type="secondary",
    )


def _trainable_switch(arch: Architecture, node_id: str) -> None:
    """Freeze a layer with weights: training and the exported train.py leave them as they are."""
    key = f"trainable_{node_id}"
    _sync(key, arch.trainable_of(node_id))
    st.toggle(
        "Trainable",
        key=key,
        on_change=_on_trainable_change,
        args=(node_id, key),
        help="Off freezes this layer's weights (transfer learning: keep what a run learned).",
    )


def _on_trainable_change(node_id: str, key: str) -> None:
    state.edit(lambda a: a.set_trainable(node_id, bool(S[key])))


def _render_inputs(arch: Architecture, node_id: str, spec) -> None:
    inputs = arch.inputs_of(node_id)
    if spec.max_inputs == 1 or len(inputs) < 2:
        return
    st.markdown("**Inputs, in order**")
    for i, src in enumerate(inputs):
        c1, c2, c3 = st.columns([4, 1, 1])
        c1.markdown(f"{i + 1}. `{src}`")
        c2.button(
            "↑",
            key=f"up_{node_id}_{i}",
            disabled=i == 0,
            on_click=_move_input,
            args=(node_id, i, -1),
        )
        c3.button(
            "↓",
            key=f"down_{node_id}_{i}",
            disabled=i == len(inputs) - 1,
            on_click=_move_input,
            args=(node_id, i, 1),
        )
