"""Autosave: each project's graph JSON on disk, keyed by the project id in the URL.

UI-free so it can be tested directly. The folder is $LAYERCRAFT_HOME (tests point it
at a tmp dir) or ~/.layercraft; graphs live in projects/<id>.json.

Beside each graph, projects/<id>.meta.json holds its revision (one more per save) and,
when sign-in is configured, its owner. A save names the revision it started from; when
another tab has saved since, the save is refused (StaleRevision) instead of overwriting
(graph JSON v1 stays unchanged: the revision is not a key of the graph file).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
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
    """A 128-bit random id (32 hex digits), safe in a URL and a file name; being the only key
    to a project when sign-in is off, it must not be guessable. Older 10-digit ids still load."""
    return secrets.token_hex(16)


class StaleRevision(Exception):
    """Another tab saved this project since this one loaded it."""

    def __init__(self, revision: int):
        super().__init__(f"the project is at revision {revision}")
        self.revision = revision


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


def meta_path(project_id: str) -> Path:
    return project_path(project_id).with_suffix(".meta.json")


def read_meta(project_id: str) -> dict:
    """{"revision": int, "owner": str | None}; a project saved before revisions is at 0."""
    try:
        data = json.loads(meta_path(project_id).read_text(encoding="utf-8"))
        revision, owner = data.get("revision", 0), data.get("owner")
    except (OSError, ValueError, AttributeError):
        return {"revision": 0, "owner": None}
    if not isinstance(revision, int) or isinstance(revision, bool) or revision < 0:
        revision = 0
    return {"revision": revision, "owner": owner if isinstance(owner, str) else None}


def revision_of(project_id: str) -> int:
    """The project's saved revision (0 when never saved with one)."""
    return read_meta(project_id)["revision"]


def check_owner(project_id: str, owner: str | None) -> None:
    """BuilderError when the project belongs to someone else (sign-in on); no-op otherwise."""
    saved = read_meta(project_id)["owner"]
    if owner is not None and saved is not None and saved != owner:
        raise BuilderError(
            "this project belongs to another user",
            field="project",
            hint="Open one of your own projects, or start a new one.",
        )


@contextlib.contextmanager
def _locked(project_id: str):
    # One writer at a time per project, across tabs and server processes.
    path = project_path(project_id).with_suffix(".lock")
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def save_project(
    project_id: str,
    arch: Architecture,
    *,
    expected_revision: int | None = None,
    owner: str | None = None,
) -> int:
    """Write the graph atomically (a crash mid-write never leaves half a file); returns the
    new revision. With expected_revision, raise StaleRevision when another tab saved since."""
    path = project_path(project_id)
    with _locked(project_id):
        check_owner(project_id, owner)
        meta = read_meta(project_id)
        if (
            expected_revision is not None
            and path.exists()
            and meta["revision"] != expected_revision
        ):
            raise StaleRevision(meta["revision"])
        write_atomic(path, arch.to_json_string() + "\n")
        revision = meta["revision"] + 1
        meta = {"revision": revision, "owner": meta["owner"] or owner}
        write_atomic(meta_path(project_id), json.dumps(meta) + "\n")
    return revision


def write_atomic(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def load_project(project_id: str) -> Architecture | None:
    """The saved graph of a project, or None when there is none (or it cannot be read).
    read_project says why it cannot be read."""
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


def read_project(project_id: str) -> Architecture | None:
    """The saved graph, None when there is none; BuilderError when it cannot be read."""
    path = project_path(project_id)
    if not path.is_file():
        return None
    return Architecture.load(path)
