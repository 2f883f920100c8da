"""Sidebar project controls: templates, New, Open (upload), Save (download), Undo / Redo."""

from __future__ import annotations

import re

import streamlit as st

from builder.errors import BuilderError, sentences
from builder.graph import Architecture
from builder.layout import apply_layout
from builder.templates import list_templates, load_template

from . import dashboard, state

S = st.session_state
MAX_UPLOAD_BYTES = 5_000_000


@st.cache_data(show_spinner=False)
def _templates() -> list[tuple[str, str, str]]:
    return list_templates()


def open_graph_bytes(data: bytes, file_name: str) -> Architecture:
    """An uploaded graph file -> Architecture; a BuilderError naming the file otherwise."""
    if len(data) > MAX_UPLOAD_BYTES:
        raise BuilderError(
            "larger than 5 MB", file=file_name, hint="Open a graph saved by LayerCraft."
        )
    try:
        arch = Architecture.from_json(data)
    except BuilderError as err:
        err.file = err.file or file_name
        raise
    if any(arch.pos_of(n) is None for n in arch.node_ids):
        apply_layout(arch)
    return arch


def download_name(arch: Architecture, ext: str) -> str:
    """'LeNet-5' -> 'lenet-5.json'."""
    stem = re.sub(r"[^a-z0-9_-]+", "_", arch.name.lower()).strip("_") or "network"
    return f"{stem}.{ext}"


def _load_template() -> None:
    # Read the pick now, not when the button was drawn: a quick user changes the template
    # and clicks Load before the page has redrawn.
    stem = S.template_pick
    if state.has_own_edits() and S.get("confirm_template") != stem:
        S.confirm_template = stem  # asked below the Load button; Replace calls this again
        return
    S.confirm_template = None
    S.selected = None
    state.commit(load_template(stem))
    state.mark_pristine()
    state.request_layout()
    suggested = dashboard.suggest_for_template(stem)
    state.notify("success", f"Loaded the template “{state.arch().name}”.{suggested}")


def _confirm_template(name: str) -> None:
    st.warning(f"Replace your edited graph with “{name}”? Undo brings yours back.")
    c1, c2 = st.columns(2)
    c1.button("Replace", key="confirm_template_yes", on_click=_load_template, width="stretch")
    c2.button("Cancel", key="confirm_template_no", on_click=_cancel_template, width="stretch")


def _cancel_template() -> None:
    S.confirm_template = None


def _new() -> None:
    arch = Architecture("Untitled")
    arch.add_node("Input", {"shape": [1, 8, 8]}, id="x", pos=(0.0, 0.0))
    S.selected = "x"
    state.commit(arch)
    state.mark_pristine()


def _open_upload() -> None:
    upload = S.get("open_upload")
    if upload is None:
        return
    try:
        arch = open_graph_bytes(upload.getvalue(), upload.name)
    except BuilderError as err:
        state.notify(
            "error",
            sentences(f"Could not open {upload.name}: {err}", "Your current graph is unchanged."),
        )
        return
    S.selected = None
    state.commit(arch)
    state.mark_pristine()
    state.request_layout()
    state.notify("success", f"Opened “{arch.name}” from {upload.name}.")


def _rename_graph() -> None:
    name = S.get(state.name_key(), "").strip()[:200]
    if name and name != state.arch().name:
        new = state.arch().copy()
        new.name = name
        state.commit(new, redraw=False)


def render_project() -> None:
    """Project box at the top of the sidebar."""
    arch, current = state.arch(), state.live_arch()
    st.text_input("Network name", key=state.name_key(), on_change=_rename_graph, max_chars=200)
    templates = _templates()
    labels = {stem: name for stem, name, _ in templates}
    c1, c2 = st.columns([3, 1])
    c1.selectbox(
        "Template",
        [t[0] for t in templates],
        format_func=labels.get,
        key="template_pick",
        help="\n\n".join(f"**{name}**: {text}" for _, name, text in templates),
    )
    c2.button(
        "Load",
        key="load_template",
        on_click=_load_template,
        width="stretch",
        help="Replace the canvas with this template (Undo brings yours back).",
    )
    if S.get("confirm_template"):
        _confirm_template(labels.get(S.confirm_template, S.confirm_template))
    c1, c2 = st.columns(2)
    c1.button(
        "New",
        key="new_graph",
        on_click=_new,
        width="stretch",
        help="Start from a single Input node.",
    )
    c2.download_button(
        "Save",
        icon=":material/save:",
        # Deferred: serialised on click, not on every rerun (the graph as it is then).
        data=lambda: current().to_json_string() + "\n",
        file_name=download_name(arch, "json"),
        mime="application/json",
        key="save_graph",
        # No rerun on click. A rerun re-registers every deferred download, and a click on
        # another one while it runs could wait for ever (seen under CPU load).
        on_click="ignore",
        help="Save: download the graph as JSON",
        width="stretch",
    )
    st.file_uploader(
        "Open a graph (.json)", type=["json"], key="open_upload", on_change=_open_upload
    )
    st.caption(f"Autosaved as project `{S.project_id}` — keep this page's URL to come back to it.")
