"""The session's graph: one place that edits go through (undo, autosave, canvas refresh)."""

from __future__ import annotations

import streamlit as st

from builder.errors import BuilderError
from builder.graph import Architecture
from builder.shapes import Analysis, analyse
from builder.templates import load_template

from . import store
from .canvas import build_flow_state
from .history import History

DEFAULT_TEMPLATE = "mlp_digits"
S = st.session_state


def init_session() -> None:
    """First run of a session: pick the project from the URL and restore its graph."""
    if "arch" in S:
        return
    project_id = st.query_params.get("project")
    if not store.is_valid_project_id(project_id):
        project_id = store.new_project_id()
        st.query_params["project"] = project_id
    S.project_id = project_id
    S.history = History()
    S.selected = None
    S.version = 0
    S.flow_seen_ts = 0
    S.notices = []
    restored = store.load_project(project_id)
    if restored is not None:
        notify("info", f"Restored your project “{restored.name}” from the last autosave.")
    _install(restored or load_template(DEFAULT_TEMPLATE))


def arch() -> Architecture:
    return S.arch


def analysis() -> Analysis:
    """The analysis of the current graph, computed once per edit."""
    if S.get("analysis_version") != S.version:
        S.analysis = analyse(S.arch)
        S.analysis_version = S.version
    return S.analysis


def commit(new: Architecture, *, record: bool = True, redraw: bool = True) -> None:
    """Make `new` the current graph: undo step, autosave, re-analyse, redraw the canvas."""
    if record:
        S.history.record(S.arch)
        S.notices = []  # an edit went through: earlier complaints are stale
    _install(new, redraw=redraw)


def edit(action, *args, success: str | None = None, **kwargs) -> bool:
    """Run action(copy_of_graph, ...) and commit it; a BuilderError becomes a notice."""
    new = S.arch.copy()
    try:
        result = action(new, *args, **kwargs)
    except BuilderError as err:
        notify("error", str(err))
        return False
    commit(new)
    if success:
        notify("success", success.format(result=result))
    return True


def refresh_canvas() -> None:
    """Send the browser a new canvas for the current graph (a new generation)."""
    S.flow_gen = S.get("flow_gen", 0) + 1
    S.flow = build_flow_state(S.arch, analysis(), S.get("selected"), S.flow_gen)
    S.flow_seen_ts = max(S.get("flow_seen_ts", 0), S.flow.timestamp)


def undo() -> None:
    previous = S.history.undo(S.arch)
    if previous is not None:
        _install(previous)


def redo() -> None:
    following = S.history.redo(S.arch)
    if following is not None:
        _install(following)


def notify(kind: str, message: str) -> None:
    """Queue a message: successes pop up as a toast once; errors and warnings stay on the
    page until the next edit (the canvas triggers reruns of its own, so one render is
    not enough for a user to read them)."""
    if kind in ("success", "info"):
        S.setdefault("toasts", []).append(message)
    else:
        S.setdefault("notices", []).append((kind, message))


def show_notices() -> None:
    """Draw the queued messages inside one fixed container, so elements below keep their
    place in the page (a moved canvas would be re-created and lose its state)."""
    box = st.container()
    for message in S.get("toasts", []):
        st.toast(message, icon=":material/check_circle:")
    S.toasts = []
    for kind, message in S.get("notices", []):
        show = st.error if kind == "error" else st.warning
        box_icon = ":material/error:" if kind == "error" else ":material/warning:"
        with box:
            show(message, icon=box_icon)


def _install(new: Architecture, *, redraw: bool = True) -> None:
    S.arch = new
    S.version = S.get("version", 0) + 1
    if S.get("selected") not in new:
        S.selected = None
    try:
        store.save_project(S.project_id, new)
    except OSError as exc:
        notify("warning", f"Autosave failed ({exc.strerror}); download your graph to keep it.")
    if redraw or "flow" not in S:
        refresh_canvas()
