"""Where a study lives: SQLite under $LAYERCRAFT_HOME by default, or any Optuna storage.

Several processes (on one machine or many) that open the same storage and study name
share the work: Optuna hands each one its own trials. A database URL (postgresql://,
mysql://, sqlite:///) goes to Optuna's RDBStorage; "journal:PATH" (or a path ending in
.log / .journal) to a JournalStorage file, which suits a shared disk without a server.
"""

from __future__ import annotations

import time
from pathlib import Path

from builder.errors import BuilderError

JOURNAL_SUFFIXES = (".log", ".journal")
# Workers started together on a fresh database race to create its tables; the loser sees
# a constraint error, or "table ... already exists", for a schema that now exists, and
# opens it fine a moment later.
OPEN_ATTEMPTS = 5
SCHEMA_RACE = ("UNIQUE constraint", "already exists")


def default_storage_url(home: str | Path | None = None) -> str:
    """sqlite:///<home>/search/studies.db (the folder is made on first use)."""
    from builder.runs import default_home

    folder = (Path(home) if home is not None else default_home()) / "search"
    folder.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{folder / 'studies.db'}"


def open_storage(url: str | None, home: str | Path | None = None):
    """An Optuna storage for url (None: the default SQLite file); BuilderError when unreachable."""
    import optuna

    url = url or default_storage_url(home)
    journal = _journal_path(url)
    try:
        if journal is not None:
            return _journal_storage(journal)
        storage = _rdb_storage(optuna, url)
        if url.startswith("sqlite"):
            _use_wal(storage)
        return storage
    except BuilderError:
        raise
    except Exception as err:  # sqlalchemy, drivers and the OS each raise their own kinds
        raise BuilderError(
            f"cannot open the study storage {safe_url(url)} ({_first_line(err)})",
            field="storage",
            hint="Check the URL, that the database server is reachable, and its driver is installed.",
        ) from None


def _rdb_storage(optuna, url: str):
    for attempt in range(OPEN_ATTEMPTS):
        try:
            return optuna.storages.RDBStorage(url, engine_kwargs=_engine_kwargs(url))
        except Exception as err:
            if attempt == OPEN_ATTEMPTS - 1 or not any(m in str(err) for m in SCHEMA_RACE):
                raise
            time.sleep(0.2 * (attempt + 1))
    raise AssertionError("unreachable")


def safe_url(url: str) -> str:
    """The URL with any password hidden, for messages and reports."""
    try:
        from sqlalchemy.engine import make_url

        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return url.split("@")[-1] if "@" in url else url


def _journal_path(url: str) -> Path | None:
    if url.startswith("journal:"):
        return Path(url.removeprefix("journal:"))
    if "://" not in url and url.endswith(JOURNAL_SUFFIXES):
        return Path(url)
    if "://" not in url:
        raise BuilderError(
            f"{url[:80]!r} is not a storage URL",
            field="storage",
            hint="Use sqlite:///FILE.db, postgresql://..., mysql://..., or journal:FILE.log.",
        )
    return None


def _journal_storage(path: Path):
    import optuna
    from optuna.storages.journal import JournalFileBackend

    if not path.parent.is_dir():
        raise BuilderError(
            f"the folder {path.parent} does not exist",
            field="storage",
            hint="Create it first (on a disk every worker can reach).",
        )
    return optuna.storages.JournalStorage(JournalFileBackend(str(path)))


def _use_wal(storage) -> None:
    """WAL and synchronous=NORMAL on every connection: Optuna commits a dozen times per trial,
    and a full fsync each time cost ~20 ms here (0.4 s per trial). WAL stays safe for several
    processes on one machine; a shared network disk wants journal: or a database server."""
    from sqlalchemy import event

    def on_connect(connection, _record) -> None:
        cursor = connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    event.listen(storage.engine, "connect", on_connect)
    storage.engine.dispose()  # connections opened before the listener are replaced


def _engine_kwargs(url: str) -> dict:
    if url.startswith("sqlite"):
        # Several workers write one SQLite file: wait for the lock instead of failing at once.
        return {"connect_args": {"timeout": 60}}
    return {"pool_pre_ping": True}


def _first_line(err: BaseException) -> str:
    text = str(err).strip().splitlines()
    line = text[0] if text else type(err).__name__
    return line if len(line) <= 200 else line[:197] + "..."
