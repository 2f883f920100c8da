"""Draws the canvas component and applies the intents it sends (Python owns the graph)."""

from __future__ import annotations

import itertools
import secrets
from typing import Any

import streamlit as st
from layercraft_canvas import canvas_component

from builder.errors import BuilderError
from builder.fixes import Fix, node_fixes

from . import state
from .canvas import canvas_payload
from .canvas_intents import HISTORY_KINDS, apply_intent, unseen_intents
from .live_tint import live_canvas
from .project import download_name

CANVAS_KEY = "canvas"
S = st.session_state
_refusal_seq = itertools.count(1)


def selection() -> list[str]:
    """The nodes selected on the canvas; the inspector edits the first."""
    picked = S.get("canvas_selection", [])
    if S.get("selected") is None:
        return []
    return picked if S.selected in picked else [S.selected]


def render_canvas(height: int = 700, node_extras: dict[str, dict[str, Any]] | None = None) -> None:
    """The graph editor: drop layers, connect ports, select, delete, undo, copy and paste.

    While a run trains, the canvas asks for a rerun every second (a `tick` intent) so its
    tint follows the run. (Inside an auto-rerunning fragment the component was mounted
    anew on every run, losing the viewport and selection.)
    """
    arch = state.arch()
    extras, view = live_canvas(arch)
    for node_id, fix in current_fixes().items():
        extras.setdefault(node_id, {})["fix"] = {"id": fix.id, "label": fix.label}
    for node_id, more in (node_extras or {}).items():
        extras[node_id] = {**extras.get(node_id, {}), **more}
    data = canvas_payload(
        arch,
        state.analysis(),
        rev=S.get("canvas_rev", 0),
        selected=selection(),
        node_extras=extras,
        layout_request=S.get("layout_request", 0),
        refusal=S.get("canvas_refusal"),
        height=height,
        file_stem=download_name(arch, "x")[:-2],
        ack=S.get("canvas_ack"),
        **{**S.get("canvas_view_extras", {}), **view},
    )
    data["session"] = S.setdefault("canvas_session", secrets.token_hex(4))
    canvas_component(key=CANVAS_KEY, data=data, on_intent_change=_on_intent, height=height)


def _on_intent() -> None:
    """Runs before the script body, so this rerun already draws the confirmed graph."""
    value = S.get(CANVAS_KEY)
    message = getattr(value, "intent", None) if value is not None else None
    if message is None:
        return
    intents, S.canvas_ack = unseen_intents(message, S.get("canvas_ack"))
    for intent in intents:
        handle_intent(intent)


def handle_intent(intent: Any) -> None:
    """Apply one intent: undo/redo act on history, everything else on a copy of the graph."""
    kind = intent.get("kind") if isinstance(intent, dict) else None
    if kind == "tick":
        return  # a run is training: the rerun itself reads the trainer's latest statistics
    if kind == "fix":
        _apply_fix(intent)
        return
    if kind in HISTORY_KINDS:
        state.undo() if kind == "undo" else state.redo()
        return
    try:
        result = apply_intent(state.arch(), intent, selection())
    except BuilderError as err:
        state.notify("error", str(err))
        return
    _set_selection(result.selected)
    if result.refusal is not None:
        S.canvas_refusal = {
            "seq": next(_refusal_seq),
            "text": str(result.refusal),
            "x": result.at[0],
            "y": result.at[1],
        }
        return
    if result.arch is not state.arch() and kind != "select":
        # The layout a new template or file gets on arrival must not wipe "Loaded ...".
        state.commit(
            result.arch, record=result.record, redraw=result.redraw, keep_notices=kind == "move"
        )
    if result.relayout:
        state.request_layout()


def current_fixes() -> dict[str, Fix]:
    """Checked one-click fixes for the current graph (and the Train tab's dataset)."""
    dataset = S.get("current_dataset")
    key = (S.get("version"), id(dataset))
    if S.get("fixes_key") != key:
        S.fixes = node_fixes(state.arch(), state.analysis(), dataset)
        S.fixes_key = key
    return S.fixes


def _apply_fix(intent: dict) -> None:
    """Apply the fix computed here (never one described by the browser)."""
    fix = current_fixes().get(intent.get("node"))
    if fix is None or fix.id != intent.get("fix"):
        state.notify("warning", "That fix no longer applies: the graph has changed.")
        return
    state.commit(fix.arch)
    state.notify("success", f"Applied the fix: {fix.label}.")


def _set_selection(ids: list[str]) -> None:
    S.canvas_selection = list(ids)
    S.selected = ids[0] if ids else None
