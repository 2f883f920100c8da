"""Draws the canvas and folds the browser's edits back into the graph."""

from __future__ import annotations

import streamlit as st
from streamlit_flow import streamlit_flow
from streamlit_flow.layouts import ManualLayout

from builder.layout import apply_layout

from . import state
from .canvas import apply_flow_change, is_current

CANVAS_KEY = "canvas"
S = st.session_state


def render_canvas(height: int = 700) -> None:
    """The graph editor: drag, connect handle to handle, right-click or Delete to remove."""
    value = streamlit_flow(
        CANVAS_KEY,
        S.flow,
        height=height,
        fit_view=True,
        show_controls=True,
        allow_new_edges=True,
        get_node_on_click=True,
        get_edge_on_click=True,
        enable_node_menu=True,
        enable_edge_menu=True,
        hide_watermark=True,
        min_zoom=0.2,
        layout=ManualLayout(),
    )
    if value is not None and value.timestamp and value.timestamp > S.flow_seen_ts:
        S.flow_seen_ts = value.timestamp
        if is_current(value, S.flow_gen):
            _apply_browser_state(value)


def _apply_browser_state(value) -> None:
    change = apply_flow_change(state.arch(), value, S.selected)
    for err in change.errors:
        state.notify("error", str(err))
    if change.structural or change.errors:
        S.selected = change.selected
        state.commit(change.arch)
        st.rerun()
    elif change.moved:
        S.selected = change.selected
        state.commit(change.arch, record=False, redraw=False)
    else:
        S.selected = change.selected  # the inspector is drawn after the canvas, so no rerun


def auto_layout() -> None:
    """Button callback: lay the graph out top to bottom."""
    state.edit(apply_layout)
