"""The Build tab (canvas, inspector, summary) as one fragment: an edit made inside it reruns
only the tab, not the sidebar's hundred palette and project widgets.

The rest of the page shows a few facts about the session (the graph's name, the notices,
My blocks). When an edit inside the tab changes one of them, the whole page reruns, so
nothing outside the tab is ever stale. Undo and Redo sit inside the tab, beside the canvas
whose edits they step through: their state flips on most edits, and a page rerun for each
would double an edit's round trip on a large graph.
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
    return (
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
    if page_facts() != S.get("page_facts"):
        st.rerun(scope="app")  # an edit here changed what the sidebar or notices show
    canvas_col, inspector_col = st.columns([3, 1.15], gap="medium")
    with canvas_col:
        guarded("Canvas", render_canvas)  # its toolbar has Auto-layout, direction, SVG, PNG
    with inspector_col:
        guarded("History", render_history_buttons)
        guarded("Inspector", render_inspector)
    guarded("Summary", lambda: render_summary(state.arch(), state.analysis()))


def render_history_buttons() -> None:
    """Undo and Redo (Ctrl/Cmd+Z and Ctrl/Cmd+Shift+Z on the canvas do the same)."""
    history = S.history
    buttons = (
        ("undo", state.undo, history.can_undo, "Undo the last change to the graph (Ctrl/Cmd+Z on the canvas)"),
        ("redo", state.redo, history.can_redo, "Redo (Ctrl/Cmd+Shift+Z on the canvas)"),
    )  # fmt: skip
    for col, (key, step, available, help_text) in zip(st.columns(2), buttons, strict=True):
        col.button(
            key.capitalize(),
            icon=f":material/{key}:",
            key=key,
            on_click=step,
            disabled=not available,
            width="stretch",
            help=help_text,
        )
