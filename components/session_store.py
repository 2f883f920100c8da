"""What survives a reload besides the graph: the undo history and the training settings,
kept per project in $LAYERCRAFT_HOME/projects/<id>.history.json and <id>.session.json
(UI-free, tested directly).

The history has a file of its own: it is written after every edit, and sharing a file with
the settings meant reading and rewriting all of it each time (~65 ms for 50 steps of a
200-node graph). Older session files that still hold a history are read as before.
"""

from __future__ import annotations

import json
from typing import Any

from builder.errors import BuilderError

from .history import History
from .store import project_path, write_atomic

KEPT_STEPS = 50  # undo steps written to disk (the session itself keeps more)


def session_path(project_id: str):
    return project_path(project_id).with_suffix(".session.json")


def history_path(project_id: str):
    return project_path(project_id).with_suffix(".history.json")


def _read_json(path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _history_from(steps: Any) -> History | None:
    if not isinstance(steps, dict):
        return None
    past, future = steps.get("past"), steps.get("future")
    if isinstance(past, list) and isinstance(future, list):
        return History(past=past, future=future)
    return None


def load_session(project_id: str) -> dict[str, Any]:
    """{"history": History | None, "settings": dict}; empty when nothing (readable) is saved."""
    try:
        session_file, history_file = session_path(project_id), history_path(project_id)
    except BuilderError:
        return {"history": None, "settings": {}}
    data = _read_json(session_file)
    data = data if isinstance(data, dict) else {}
    # A session file from before the history had its own may still hold one.
    history = _history_from(_read_json(history_file)) or _history_from(data.get("history"))
    settings = data.get("settings")
    return {"history": history, "settings": settings if isinstance(settings, dict) else {}}


def save_session(
    project_id: str, *, history: History | None = None, settings: dict | None = None
) -> None:
    """Update the saved history and/or settings (atomic writes; what is not given is kept)."""
    if history is not None:
        write_atomic(history_path(project_id), history.to_json_text(KEPT_STEPS))
    if settings is not None:
        path = session_path(project_id)
        current = _read_json(path)  # None when there is none yet (or it cannot be read)
        current = current if isinstance(current, dict) else {}
        current["settings"] = settings
        write_atomic(path, json.dumps(current))
