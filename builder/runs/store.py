"""The run store: every training as a record in SQLite, its weights in safetensors beside it.

Layout under the home folder ($LAYERCRAFT_HOME or ~/.layercraft):
    runs/runs.db                         one SQLite database in WAL mode
    runs/<run_id>/weights.safetensors    the final weights of a finished run

Stdlib sqlite3 is enough here: one small embedded file, no server, no dependency, and WAL
mode lets an app server and a CLI (two processes) write the same home safely. Every call
opens its own short-lived connection, so a RunStore is safe to share between threads.

With sign-in on, runs belong to users: `store.owned_by(user)` stamps new runs with the user
and keeps another user's runs out of its reads (the same rule as projects: a run with no
owner, made without sign-in or by the CLI, is open to all).
"""

from __future__ import annotations

import contextlib
import copy
import json
import os
import socket
import sqlite3
import time
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from builder.errors import BuilderError

KINDS = ("train", "gan", "trial", "compress", "distill")
TERMINAL = ("finished", "stopped", "failed", "interrupted")
STATUSES = ("running", *TERMINAL)
WEIGHTS_FILE = "weights.safetensors"
CHECKPOINT_FILE = "checkpoint.safetensors"  # the last epoch's model + optimizer, for resume
_BUSY_TIMEOUT_S = 30.0

_SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    project TEXT,
    status TEXT NOT NULL,
    graph TEXT,
    config TEXT,
    dataset TEXT,
    source TEXT,
    summary TEXT,
    note TEXT NOT NULL DEFAULT '',
    parent TEXT,
    extra TEXT,
    started REAL NOT NULL,
    ended REAL,
    pid INTEGER,
    host TEXT,
    owner TEXT
);
CREATE INDEX IF NOT EXISTS runs_by_project ON runs (project, started);
CREATE TABLE IF NOT EXISTS events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    run_id TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    data TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS events_by_run ON events (run_id, seq);
"""


def default_home() -> Path:
    """$LAYERCRAFT_HOME, else ~/.layercraft (the same folder the project autosave uses)."""
    return Path(os.environ.get("LAYERCRAFT_HOME") or Path.home() / ".layercraft")


@dataclass
class RunRecord:
    """One run as stored; graph, config, summary and extra are plain dicts."""

    id: str
    kind: str
    project: str | None
    status: str
    graph: dict[str, Any] | None
    config: dict[str, Any]
    dataset: str | None
    source: str | None
    summary: dict[str, Any]
    note: str
    parent: str | None
    extra: dict[str, Any]
    started: float
    ended: float | None
    pid: int | None = None
    host: str | None = None
    owner: str | None = None  # the signed-in user who made it; None without sign-in
    weights_path: Path | None = field(default=None, repr=False)

    @property
    def has_weights(self) -> bool:
        return self.weights_path is not None and self.weights_path.is_file()

    @property
    def duration(self) -> float | None:
        """Seconds from start to end (to now while running)."""
        end = self.ended if self.ended is not None else time.time()
        return max(0.0, end - self.started)


class RunStore:
    """Create, update and read run records under one home folder."""

    def __init__(self, home: str | Path | None = None) -> None:
        self.home = Path(home) if home is not None else default_home()
        self.root = self.home / "runs"
        self.root.mkdir(parents=True, exist_ok=True)
        self.db_path = self.root / "runs.db"
        self.owner: str | None = None
        with self._connect() as conn:
            conn.execute("PRAGMA journal_mode=WAL")
            conn.executescript(_SCHEMA)
            _add_owner_column(conn)

    def owned_by(self, owner: str | None) -> RunStore:
        """This store as `owner` sees it (None: everyone's runs, as without sign-in)."""
        view = copy.copy(self)
        view.owner = owner
        return view

    # ---- connection ---------------------------------------------------------------------

    @contextlib.contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        """A short-lived connection; the block is one transaction (committed on success)."""
        conn = sqlite3.connect(self.db_path, timeout=_BUSY_TIMEOUT_S)
        try:
            conn.row_factory = sqlite3.Row
            conn.execute("PRAGMA foreign_keys=ON")
            conn.execute("PRAGMA synchronous=NORMAL")  # safe in WAL mode, fewer fsyncs
            with conn:
                yield conn
        finally:
            conn.close()

    # ---- writing ------------------------------------------------------------------------

    def create(
        self,
        kind: str = "train",
        project: str | None = None,
        graph: Mapping[str, Any] | None = None,
        config: Mapping[str, Any] | None = None,
        dataset: str | None = None,
        source: str | None = None,
        parent: str | None = None,
        note: str = "",
        extra: Mapping[str, Any] | None = None,
        *,
        run_id: str | None = None,
    ) -> str:
        """A new record with status "running"; returns its id (a given run_id is kept)."""
        if kind not in KINDS:
            raise BuilderError(
                f"unknown run kind {kind!r}", field="kind", hint=f"Use one of: {', '.join(KINDS)}."
            )
        run_id = run_id or uuid.uuid4().hex[:12]
        _check_id(run_id)
        row = (
            run_id,
            kind,
            project,
            "running",
            _dump(graph),
            _dump(dict(config or {})),
            dataset,
            source,
            _dump({}),
            note or "",
            parent,
            _dump(dict(extra or {})),
            time.time(),
            os.getpid(),
            socket.gethostname(),
            self.owner,
        )
        try:
            with self._connect() as conn:
                conn.execute(
                    "INSERT INTO runs (id, kind, project, status, graph, config, dataset, source,"
                    " summary, note, parent, extra, started, pid, host, owner)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    row,
                )
        except sqlite3.IntegrityError as err:
            raise BuilderError(f"run {run_id!r} already exists", field="run") from err
        return run_id

    def add_events(self, run_id: str, events: list[Mapping[str, Any]]) -> None:
        """Append metric events (DESIGN.md) to a run, in one transaction."""
        if not events:
            return
        rows = [(run_id, _dump(dict(e))) for e in events]
        with self._connect() as conn:
            self._require(conn, run_id)
            conn.executemany("INSERT INTO events (run_id, data) VALUES (?, ?)", rows)

    def finish(
        self,
        run_id: str,
        status: str = "finished",
        summary: Mapping[str, Any] | None = None,
        state_dict: Mapping[str, Any] | None = None,
    ) -> None:
        """End a run: terminal status, summary, end time, and the weights when given."""
        if status not in TERMINAL:
            raise BuilderError(
                f"a run cannot end as {status!r}",
                field="status",
                hint=f"Use one of: {', '.join(TERMINAL)}.",
            )
        with self._connect() as conn:
            self._require(conn, run_id)
        if state_dict is not None:
            self.save_state_dict(run_id, state_dict)
        with self._connect() as conn:
            conn.execute(
                "UPDATE runs SET status = ?, summary = ?, ended = ? WHERE id = ?",
                (status, _dump(dict(summary or {})), time.time(), run_id),
            )

    def save_state_dict(
        self,
        run_id: str,
        state_dict: Mapping[str, Any],
        name: str = "",
        metadata: dict[str, str] | None = None,
    ) -> Path:
        """Write tensors to runs/<id>/<name or weights>.safetensors atomically."""
        from safetensors.torch import save_file

        _check_id(run_id)
        path = self.run_dir(run_id) / (f"{name}.safetensors" if name else WEIGHTS_FILE)
        path.parent.mkdir(parents=True, exist_ok=True)
        # safetensors refuses shared or strided storage: give it plain CPU copies.
        tensors = {k: v.detach().to("cpu").contiguous().clone() for k, v in state_dict.items()}
        tmp = path.with_name(path.name + ".tmp")
        save_file(tensors, str(tmp), metadata=metadata)
        os.replace(tmp, path)
        return path

    def load_checkpoint(self, run_id: str) -> tuple[dict[str, Any], dict[str, str]] | None:
        """The run's last epoch checkpoint (tensors, metadata), or None when it has none."""
        from safetensors import safe_open

        path = self.run_dir(run_id) / CHECKPOINT_FILE
        if not path.is_file():
            return None
        with safe_open(str(path), framework="pt") as handle:
            names = list(handle.keys())
            return {k: handle.get_tensor(k) for k in names}, handle.metadata() or {}

    def drop_checkpoint(self, run_id: str) -> None:
        (self.run_dir(run_id) / CHECKPOINT_FILE).unlink(missing_ok=True)

    def reopen(self, run_id: str) -> None:
        """Mark an ended run running again in this process (resuming it from its checkpoint)."""
        with self._connect() as conn:
            self._require(conn, run_id)
            conn.execute(
                "UPDATE runs SET status = 'running', ended = NULL, pid = ?, host = ? WHERE id = ?",
                (os.getpid(), socket.gethostname(), run_id),
            )

    def sweep_dead(self, live_ids: set[str] | frozenset[str] = frozenset()) -> list[str]:
        """Runs left "running" by a process that is gone become "interrupted"; returns their ids.

        A run of this host counts as dead when its process no longer exists, or when it is
        this process and `live_ids` (what this process is training) does not hold it.
        """
        here, me = socket.gethostname(), os.getpid()
        with self._connect() as conn:
            rows = conn.execute(
                "SELECT id, pid, host, summary FROM runs WHERE status = 'running'"
            ).fetchall()
        dead = [
            row["id"]
            for row in rows
            if row["host"] == here
            and (row["id"] not in live_ids if row["pid"] == me else not _process_alive(row["pid"]))
        ]
        for run_id in dead:
            checkpoint = self.run_dir(run_id) / CHECKPOINT_FILE
            summary = {
                "state": "interrupted",
                "message": "the process training this run ended (a server restart or crash)",
                "resumable": checkpoint.is_file(),
            }
            with self._connect() as conn:
                conn.execute(
                    "UPDATE runs SET status = 'interrupted', summary = ?, ended = ?"
                    " WHERE id = ? AND status = 'running'",
                    (_dump(summary), time.time(), run_id),
                )
        return dead

    def set_note(self, run_id: str, text: str) -> None:
        with self._connect() as conn:
            self._require(conn, run_id)
            conn.execute("UPDATE runs SET note = ? WHERE id = ?", (str(text), run_id))

    def update_extra(self, run_id: str, **values: Any) -> None:
        """Merge keys into a run's `extra` dict (e.g. what a warm start loaded)."""
        with self._connect() as conn:
            row = self._require(conn, run_id)
            extra = {**_load(row["extra"], {}), **values}
            conn.execute("UPDATE runs SET extra = ? WHERE id = ?", (_dump(extra), run_id))

    def delete(self, run_id: str) -> None:
        """Remove a run, its events and its files."""
        import shutil

        with self._connect() as conn:
            self._require(conn, run_id)
            conn.execute("DELETE FROM events WHERE run_id = ?", (run_id,))
            conn.execute("DELETE FROM runs WHERE id = ?", (run_id,))
        shutil.rmtree(self.run_dir(run_id), ignore_errors=True)

    # ---- reading ------------------------------------------------------------------------

    def get(self, run_id: str) -> RunRecord:
        with self._connect() as conn:
            return self._record(self._require(conn, run_id))

    def list(self, project: str | None = None, kind: str | None = None) -> list[RunRecord]:
        """Runs newest first, optionally only one project's or one kind's."""
        query, args = "SELECT * FROM runs WHERE 1=1", []
        if project is not None:
            query += " AND project = ?"
            args.append(project)
        if kind is not None:
            query += " AND kind = ?"
            args.append(kind)
        if self.owner is not None:
            query += " AND (owner IS NULL OR owner = ?)"
            args.append(self.owner)
        query += " ORDER BY started DESC, rowid DESC"
        with self._connect() as conn:
            return [self._record(row) for row in conn.execute(query, args)]

    def events(self, run_id: str, after: int = 0) -> list[dict[str, Any]]:
        """A run's metric events in the order they were added (skipping the first `after`)."""
        with self._connect() as conn:
            self._require(conn, run_id)
            rows = conn.execute(
                "SELECT data FROM events WHERE run_id = ? ORDER BY seq LIMIT -1 OFFSET ?",
                (run_id, max(0, int(after))),
            ).fetchall()
        return [json.loads(row["data"]) for row in rows]

    def load_state_dict(self, run_id: str, name: str = "") -> dict[str, Any] | None:
        """The run's saved tensors (CPU), or None when it saved none."""
        from safetensors.torch import load_file

        with self._connect() as conn:
            self._require(conn, run_id)
        path = self.run_dir(run_id) / (f"{name}.safetensors" if name else WEIGHTS_FILE)
        return load_file(str(path)) if path.is_file() else None

    def run_dir(self, run_id: str) -> Path:
        _check_id(run_id)
        return self.root / run_id

    # ---- helpers ------------------------------------------------------------------------

    def _require(self, conn: sqlite3.Connection, run_id: str) -> sqlite3.Row:
        row = None
        if isinstance(run_id, str):
            row = conn.execute("SELECT * FROM runs WHERE id = ?", (run_id,)).fetchone()
        if row is None:
            raise BuilderError(
                f"no run {str(run_id)[:40]!r} in {self.db_path}",
                field="run",
                hint="List the runs with `python -m builder runs list`.",
            )
        if self.owner is not None and row["owner"] not in (None, self.owner):
            raise BuilderError(
                f"run {run_id!r} belongs to another user",
                field="run",
                hint="Pick one of your own runs.",
            )
        return row

    def _record(self, row: sqlite3.Row) -> RunRecord:
        return RunRecord(
            id=row["id"],
            kind=row["kind"],
            project=row["project"],
            status=row["status"],
            graph=_load(row["graph"], None),
            config=_load(row["config"], {}),
            dataset=row["dataset"],
            source=row["source"],
            summary=_load(row["summary"], {}),
            note=row["note"] or "",
            parent=row["parent"],
            extra=_load(row["extra"], {}),
            started=row["started"],
            ended=row["ended"],
            pid=row["pid"],
            host=row["host"],
            owner=row["owner"],
            weights_path=self.root / row["id"] / WEIGHTS_FILE,
        )


def _add_owner_column(conn: sqlite3.Connection) -> None:
    """Stores made before runs had owners gain the column (two processes may race to it)."""
    columns = {row["name"] for row in conn.execute("PRAGMA table_info(runs)")}
    if "owner" in columns:
        return
    try:
        conn.execute("ALTER TABLE runs ADD COLUMN owner TEXT")
    except sqlite3.OperationalError as err:
        if "duplicate column" not in str(err):
            raise


def _process_alive(pid: int | None) -> bool:
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # it exists, owned by someone else
    return True


def _check_id(run_id: object) -> None:
    """Run ids name folders, so only plain characters are allowed."""
    ok = isinstance(run_id, str) and 0 < len(run_id) <= 64
    ok = ok and all(c.isascii() and (c.isalnum() or c in "-_") for c in run_id)
    if not ok:
        raise BuilderError(
            f"run id {str(run_id)[:40]!r} is not valid",
            field="run",
            hint="Run ids use letters, digits, - and _.",
        )


def _dump(value: Any) -> str | None:
    return None if value is None else json.dumps(value, default=_json_default)


def _load(text: str | None, empty: Any) -> Any:
    return empty if text is None else json.loads(text)


def _json_default(value: Any) -> Any:
    """Numbers from numpy or torch and tuples stored as plain JSON."""
    if hasattr(value, "item"):
        return value.item()
    if isinstance(value, set | frozenset | tuple):
        return list(value)
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"{type(value).__name__} cannot be stored in a run record")
