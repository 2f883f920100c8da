"""What survives a reload besides the graph: the undo history and the training settings,
kept per project in $LAYERCRAFT_HOME/projects/<id>.session.json (UI-free, tested directly)."""

from __future__ import annotations

import json
import os
from typing import Any

from builder.errors import BuilderError

from .history import History
from .store import project_path

KEPT_STEPS = 50  # undo steps written to disk (the session itself keeps more)


def session_path(project_id: str):
    return project_path(project_id).with_suffix(".session.json")


def load_session(project_id: str) -> dict[str, Any]:
    """{"history": History | None, "settings": dict}; empty when nothing (readable) is saved."""
    try:
        data = json.loads(session_path(project_id).read_text(encoding="utf-8"))
    except (OSError, ValueError, BuilderError):
        return {"history": None, "settings": {}}
    if not isinstance(data, dict):
        return {"history": None, "settings": {}}
    history = None
    steps = data.get("history")
    if isinstance(steps, dict):
        past, future = steps.get("past"), steps.get("future")
        if isinstance(past, list) and isinstance(future, list):
            history = History(past=past, future=future)
    settings = data.get("settings")
    return {"history": history, "settings": settings if isinstance(settings, dict) else {}}


def save_session(
    project_id: str, *, history: History | None = None, settings: dict | None = None
) -> None:
    """Update the saved history and/or settings (atomic write; what is not given is kept)."""
    path = session_path(project_id)
    current = {}
    if path.is_file():
        try:
            current = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            current = {}
    if history is not None:
        current["history"] = {
            "past": history.past[-KEPT_STEPS:],
            "future": history.future[-KEPT_STEPS:],
        }
    if settings is not None:
        current["settings"] = settings
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(current), encoding="utf-8")
    os.replace(tmp, path)
