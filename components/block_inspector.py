"""The inspector for a composite block: name it, fold it, save it to My blocks, ungroup it.

Folding, ungrouping and deleting go through the canvas's intent path, like the canvas's
own buttons and keys, so every way of doing them agrees.
"""

from __future__ import annotations

import streamlit as st

from builder import blocks, groups
from builder.errors import BuilderError
from builder.search.dims import MAX_REPEAT
from builder.search.edit import mark_repeat, repeat_spec
from builder.shapes import format_count, format_shape

from . import state
from .canvas_view import handle_intent, selection

S = st.session_state


def render_group_offer() -> None:
    """With several layers selected: one button groups them into a block."""
    picked = [n for n in selection() if n in state.arch()]
    if len(picked) < 2:
        return
    st.button(
        f"Group {len(picked)} layers into a block",
        key="group_selection",
        help="Ctrl/Cmd+G on the canvas does the same.",
        on_click=handle_intent,
        args=({"kind": "group", "nodes": picked},),
        icon=":material/select_all:",
        width="stretch",
    )


def render_block_inspector(group_id: str) -> None:
    arch = state.arch()
    group = groups.get(arch, group_id)
    analysis = state.analysis()
    total = groups.param_total(group, analysis)
    members = groups.members_in_order(arch, group)
    exits = groups.exits(arch, group)
    st.markdown(f"**{group['name']}** · block `{group_id}` of {len(group['nodes'])} layers")
    out = analysis.nodes.get(exits[0]) if len(exits) == 1 else None
    shape = f"Output `{format_shape(out.output_shape)}` · " if out and out.output_shape else ""
    st.markdown(f"{shape}{format_count(total)} params")
    st.caption(", ".join(members))
    key = f"block_name_{group_id}"
    if S.get(key) != group["name"]:  # show the graph's name (after undo, a refused name ...)
        S[key] = group["name"]
    st.text_input("Block name", key=key, on_change=_rename, args=(group_id, key), max_chars=64)
    folded = group["collapsed"]
    c1, c2 = st.columns(2)
    c1.button(
        "Expand" if folded else "Collapse",
        key="block_fold",
        on_click=handle_intent,
        args=({"kind": "collapse", "group": group_id, "collapsed": not folded},),
        width="stretch",
    )
    c2.button(
        "Save to My blocks", key="block_save", on_click=_save, args=(group_id,), width="stretch"
    )
    _render_repeat(group_id, members)
    c3, c4 = st.columns(2)
    c3.button(
        "Ungroup",
        key="block_ungroup",
        on_click=handle_intent,
        args=({"kind": "ungroup", "group": group_id},),
        width="stretch",
    )
    c4.button(
        "Delete block",
        key="block_delete",
        on_click=handle_intent,
        args=({"kind": "delete", "nodes": [group_id], "edges": []},),
        width="stretch",
    )


def _render_repeat(group_id: str, members: list[str]) -> None:
    """Search how many times the block repeats (the Search tab's `block.repeat`)."""
    spec = repeat_spec(state.arch(), group_id)
    on_key, max_key = f"repeat_on_{group_id}", f"repeat_max_{group_id}"
    if S.get(on_key) != (spec is not None):
        S[on_key] = spec is not None
    if spec is not None and S.get(max_key) != spec["max"]:
        S[max_key] = spec["max"]
    st.toggle(
        "Search: repeat this block 1–N times",
        key=on_key,
        on_change=_on_repeat,
        args=(group_id, members),
        help="AutoML tries the block once, twice, … up to N times in a row. "
        "The block must be a chain of layers, each feeding the next.",
    )
    if spec is not None:
        st.number_input(
            "Repeat at most (N)",
            min_value=1,
            max_value=MAX_REPEAT,
            key=max_key,
            on_change=_on_repeat,
            args=(group_id, members),
        )


def _on_repeat(group_id: str, members: list[str]) -> None:
    on = S[f"repeat_on_{group_id}"]
    high = S.get(f"repeat_max_{group_id}") or 3
    state.edit(mark_repeat, group_id, members if on else None, high)


def _rename(group_id: str, key: str) -> None:
    state.edit(groups.rename, group_id, S[key])


def _save(group_id: str) -> None:
    try:
        saved = blocks.save_block(state.arch(), group_id)
    except BuilderError as err:
        state.notify("error", str(err))
        return
    S.blocks_saved = S.get("blocks_saved", 0) + 1  # the sidebar lists it: the page reruns
    state.notify("success", f"Saved {saved.name!r} to My blocks ({saved.layers} layers).")
