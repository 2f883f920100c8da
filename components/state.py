"""The session's graph: one place that edits go through (undo, autosave, canvas refresh)."""

from __future__ import annotations

import json
import time
from collections.abc import Callable

import streamlit as st

from builder import groups
from builder.errors import BuilderError, sentences
from builder.graph import Architecture
from builder.runs import RunStore
from builder.shapes import Analysis, analyse
from builder.templates import load_template

from . import auth, live_runs, session_store, store
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
NEW_PROJECT = "A new project was started; the saved one is unchanged."


def init_session() -> None:
    """First run of a session: pick the project from the URL and restore its graph. Later
    runs: follow a newer revision another tab saved."""
    if "arch" in S:
        follow_newer_revision()
        return
    S.owner_id = auth.current_owner()
    S.selected = None
    S.version = 0
    S.canvas_rev = 0
    S.layout_request = 0
    S.notices = []
    project_id, restored = _open_project(st.query_params.get("project"))
    S.project_id = project_id
    st.query_params["project"] = project_id
    S.revision = store.revision_of(project_id)
    saved = session_store.load_session(project_id)  # undo history and settings survive a reload
    S.history = saved["history"] or History()
    S.saved_settings = saved["settings"]
    if restored is not None:
        notify("info", f"Restored your project “{restored.name}” from the last autosave.")
    # Opening a saved project writes nothing: a second tab must not make the first one stale.
    _install(restored or load_template(DEFAULT_TEMPLATE), save=restored is None)
    if restored is None:
        mark_pristine()
        request_layout()


def _open_project(asked) -> tuple[str, Architecture | None]:
    """(project id, its saved graph or None); says why when the URL's id cannot be used."""
    if asked is None:
        return store.new_project_id(), None
    if not store.is_valid_project_id(asked):
        notify(
            "error",
            f"The project id in the address ({str(asked)[:40]!r}) is not valid, so a new "
            "project was started. Check the link you followed.",
        )
        return store.new_project_id(), None
    try:
        store.check_owner(asked, S.owner_id)
        restored = store.read_project(asked)
    except BuilderError as err:
        notify("error", sentences(f"Could not open project {asked}: {err}", NEW_PROJECT))
        return store.new_project_id(), None
    if restored is None:
        notify("info", f"There is no saved project {asked}; this is a new project under that id.")
    return asked, restored


def follow_newer_revision() -> None:
    """When another tab saved this project since, load its graph and say so."""
    saved = store.revision_of(S.project_id)
    if saved > S.get("revision", 0):
        _adopt_saved(saved, lost_edit=False)


ADOPTED = "This project was changed in another tab or window"
LOST_EDIT = "Your last change was not saved; make it again on this graph."


def _adopt_saved(revision: int, *, lost_edit: bool) -> None:
    try:
        newer = store.read_project(S.project_id)
    except BuilderError:
        return
    S.revision = revision
    if newer is None:
        return
    # One warning says where this tab stands: a newer adoption replaces an earlier one's (a
    # layout no longer clears notices), keeping its word about a lost edit.
    earlier = [n for n in S.get("notices", []) if n[1].startswith(ADOPTED)]
    S.notices = [n for n in S.get("notices", []) if n not in earlier]
    lost_edit = lost_edit or any(LOST_EDIT in n[1] for n in earlier)
    lost = f" {LOST_EDIT}" if lost_edit else ""
    notify(
        "warning", f"{ADOPTED} (revision {revision}); this tab now shows that newer graph.{lost}"
    )
    S.history.record(S.arch)
    # A new name box: the browser's old one would send back the name typed on the stale graph.
    S.name_generation = S.get("name_generation", 0) + 1
    _install(newer, save=False)


def name_key() -> str:
    """The network-name box's widget key (a new one after adopting another tab's graph)."""
    return f"graph_name_{S.get('name_generation', 0)}" if S.get("name_generation") else "graph_name"


def arch() -> Architecture:
    return S.arch


def live_arch() -> Callable[[], Architecture]:
    """A function returning the session's graph as it is when called, also outside a script
    run: a deferred download runs on the server's thread, after edits that reran only the
    Build tab (its button, outside that tab, still holds the older run's values)."""
    box = S.setdefault("live_graph", {"arch": S.arch})
    return lambda: box["arch"]


def run_store() -> RunStore:
    """The run store as this session's user sees it: with sign-in on, only their runs, and
    new runs stamped with them (every view that reads or writes runs goes through here)."""
    return live_runs.run_store(S.get("owner_id"))


def analysis() -> Analysis:
    """The analysis of the current graph, computed once per edit."""
    if S.get("analysis_version") != S.version:
        S.analysis = analyse(S.arch)
        S.analysis_version = S.version
    return S.analysis


def per_revision(name: str, compute, *inputs):
    """compute(*inputs), once per graph revision and inputs: every rerun draws every panel,
    and checks such as a dataset fit analyse and copy the whole graph."""
    cache = S.setdefault("revision_cache", {})
    hit = cache.get(name)
    # Identity, not equality: the entry holds the very objects it was computed for.
    if (
        hit is None
        or hit[0] != S.get("version")
        or any(a is not b for a, b in zip(hit[1], inputs, strict=True))
    ):
        hit = cache[name] = (S.get("version"), inputs, compute(*inputs))
    return hit[2]


def commit(
    new: Architecture, *, record: bool = True, redraw: bool = True, keep_notices: bool = False
) -> None:
    """Make `new` the current graph: undo step, autosave, re-analyse, redraw the canvas.

    `keep_notices`: a change of positions only (a layout) leaves the notices as they are.
    """
    if record:
        S.history.record(S.arch)
        if not keep_notices:
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


def _install(new: Architecture, *, redraw: bool = True, save: bool = True) -> None:
    if save and not _autosave(new):
        return
    S.arch = new
    S.setdefault("live_graph", {})["arch"] = new
    if S.get(name_key()) != new.name:
        S[name_key()] = new.name  # the name box shows the graph's name (set before it is drawn)
    S.version = S.get("version", 0) + 1
    if not groups.selectable(new, S.get("selected")):
        S.selected = None
    if redraw:
        refresh_canvas()


def _autosave(new: Architecture) -> bool:
    """Save under the revision this tab has; False (and the newer graph shown) when another
    tab saved first, so nobody's edit is overwritten silently."""
    try:
        S.revision = store.save_project(
            S.project_id, new, expected_revision=S.get("revision"), owner=S.get("owner_id")
        )
        session_store.save_session(S.project_id, history=S.history)
    except store.StaleRevision as stale:
        if "arch" not in S:
            return True  # first run: nothing of ours to lose; show what we loaded
        _adopt_saved(stale.revision, lost_edit=True)
        return False
    except BuilderError as err:
        notify("error", str(err))
        return False
    except OSError as exc:
        notify("warning", f"Autosave failed ({exc.strerror}); download your graph to keep it.")
    return True
