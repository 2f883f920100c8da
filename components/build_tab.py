"""The Build tab (canvas, inspector, summary) as one fragment: an edit made inside it reruns
only the tab, not the sidebar's hundred palette and project widgets.

The rest of the page shows a few facts about the session (undo/redo, the graph's name, the
notices, My blocks). When an edit inside the tab changes one of them, the whole page reruns,
so nothing outside the tab stays stale. It reruns once the browser has drawn the new canvas
(the canvas asks for it): the sidebar's ~170 messages would otherwise hold back the
canvas's redraw.
"""

from __future__ import annotations

import streamlit as st

from . import state
from .canvas_view import render_canvas
from .guard import guarded
from .inspector import render_inspector
from .summary import render_summary

S = st.session_state


def page_facts() -> tuple:
    """What the page outside the Build tab shows of the session's state."""
    history = S.history
    return (
        history.can_undo,
        history.can_redo,
        state.name_key(),
        state.arch().name,
        tuple(S.get("notices", [])),
        S.get("blocks_saved", 0),
    )


def remember_page_facts() -> None:
    """Called by the full page run just before it draws the tab."""
    S.page_facts = page_facts()


@st.fragment
def render_build_tab() -> None:
    state.follow_newer_revision()  # as every full run does: another tab may have saved
    behind = page_facts() != S.get("page_facts")
    if S.pop("page_catch_up", False) and behind:
        st.rerun(scope="app")  # the canvas is drawn: now the rest of the page
    # Nonzero while the rest of the page is behind, and different in each such run (the
    # canvas answers every change with a catch-up tick once drawn).
    S.page_behind = S.get("page_behind", 0) + 1 if behind else 0
    canvas_col, inspector_col = st.columns([3, 1.15], gap="medium")
    with canvas_col:
        # Its toolbar has Auto-layout, direction, SVG and PNG.
        drawn = guarded("Canvas", render_canvas) is not None
    with inspector_col:
        guarded("Inspector", render_inspector)
    guarded("Summary", lambda: render_summary(state.arch(), state.analysis()))
    if page_facts() != S.get("page_facts") and not (behind and drawn):
        st.rerun(scope="app")  # no canvas ask is on its way for this change
