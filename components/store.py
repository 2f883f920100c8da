"""Autosave: each project's graph JSON on disk, keyed by the project id in the URL.

UI-free so it can be tested directly. The folder is $LAYERCRAFT_HOME (tests point it
at a tmp dir) or ~/.layercraft; graphs live in projects/<id>.json.
"""

from __future__ import annotations

import os
import re
import secrets
from pathlib import Path

from builder.errors import BuilderError
from builder.graph import Architecture

PROJECT_ID = re.compile(r"[A-Za-z0-9_-]{1,40}")


def home_dir() -> Path:
    """Where LayerCraft keeps its files."""
    return Path(os.environ.get("LAYERCRAFT_HOME") or Path.home() / ".layercraft")


def new_project_id() -> str:
    """A short random id that is safe in a URL and a file name."""
    return secrets.token_hex(5)


def is_valid_project_id(project_id: object) -> bool:
    return isinstance(project_id, str) and PROJECT_ID.fullmatch(project_id) is not None


def project_path(project_id: str) -> Path:
    """The autosave file of a project; the id is checked so a URL cannot escape the folder."""
    if not is_valid_project_id(project_id):
        raise BuilderError(
            f"project id {str(project_id)[:40]!r} is not valid",
            field="project",
            hint="Use letters, digits, - and _.",
        )
    return home_dir() / "projects" / f"{project_id}.json"


def save_project(project_id: str, arch: Architecture) -> Path:
    """Write the graph atomically (a crash mid-write never leaves half a file)."""
    path = project_path(project_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(arch.to_json_string() + "\n", encoding="utf-8")
    os.replace(tmp, path)
    return path


def load_project(project_id: str) -> Architecture | None:
    """The saved graph of a project, or None when there is none (or it cannot be read)."""
    try:
        path = project_path(project_id)
    except BuilderError:
        return None
    if not path.is_file():
        return None
    try:
        return Architecture.load(path)
    except BuilderError:
        return None
