"""The session's graph: one place that edits go through (undo, autosave, canvas refresh)."""

from __future__ import annotations

import json
import time

import streamlit as st

from builder.errors import BuilderError
from builder.graph import Architecture
from builder.shapes import Analysis, analyse
from builder.templates import load_template

from . import store
from .history import History

DEFAULT_TEMPLATE = "mlp_digits"
SUCCESS_SECONDS = 6.0
SHOW = {"error": st.error, "warning": st.warning, "success": st.success, "info": st.info}
ICONS = {
    "error": ":material/error:",
    "warning": ":material/warning:",
    "success": ":material/check_circle:",
    "info": ":material/info:",
}
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
    S.canvas_rev = 0
    S.layout_request = 0
    S.notices = []
    restored = store.load_project(project_id)
    if restored is not None:
        notify("info", f"Restored your project “{restored.name}” from the last autosave.")
    _install(restored or load_template(DEFAULT_TEMPLATE))
    if restored is None:
        mark_pristine()
        request_layout()


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
    """Send the browser a new revision of the graph (it re-seeds its nodes from it)."""
    S.canvas_rev = S.get("canvas_rev", 0) + 1


def mark_pristine() -> None:
    """The current graph is a template as loaded: replacing it loses nothing."""
    S.pristine = _signature(S.arch)


def has_own_edits() -> bool:
    """True when the graph differs from the template last loaded (positions do not count)."""
    return _signature(S.arch) != S.get("pristine")


def _signature(arch: Architecture) -> str:
    data = arch.to_json()
    for node in data["nodes"]:
        node.pop("pos", None)
    data.pop("layout", None)
    return json.dumps(data, sort_keys=True)


def request_layout() -> None:
    """Ask the canvas to arrange the graph with ELK (a new graph was loaded)."""
    S.layout_request = S.get("layout_request", 0) + 1


def undo() -> None:
    previous = S.history.undo(S.arch)
    if previous is not None:
        _install(previous)


def redo() -> None:
    following = S.history.redo(S.arch)
    if following is not None:
        _install(following)


def notify(kind: str, message: str) -> None:
    """Queue a message for the page. Errors and warnings stay until the next edit; successes
    fade after a few seconds. (A one-render message is not enough: the canvas triggers
    reruns of its own, which would wipe it before anyone could read it.)"""
    S.setdefault("notices", []).append((kind, message, time.monotonic()))


def show_notices() -> None:
    """Draw the messages inside one fixed container, so elements below keep their place in
    the page (a canvas that moved would be re-created and lose its state)."""
    now = time.monotonic()
    S.notices = [
        (kind, message, at)
        for kind, message, at in S.get("notices", [])
        if kind in ("error", "warning") or now - at < SUCCESS_SECONDS
    ]
    box = st.container()
    for kind, message, _ in S.notices:
        with box:
            SHOW[kind](message, icon=ICONS[kind])


def _install(new: Architecture, *, redraw: bool = True) -> None:
    S.arch = new
    if S.get("graph_name") != new.name:
        S.graph_name = new.name  # the name box shows the graph's name (set before it is drawn)
    S.version = S.get("version", 0) + 1
    if S.get("selected") not in new:
        S.selected = None
    try:
        store.save_project(S.project_id, new)
    except OSError as exc:
        notify("warning", f"Autosave failed ({exc.strerror}); download your graph to keep it.")
    if redraw:
        refresh_canvas()
