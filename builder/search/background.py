"""A search running in a background thread, for the app: start, stop, and a live trial table."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable
from typing import Any

from builder.errors import BuilderError
from builder.search.study import SearchSettings, prepare_search, summarise, trials_table


class BackgroundSearch:
    """One worker's trials in a daemon thread; `state` follows the trainer's vocabulary
    (idle, running, finished, stopped, failed) so the app's job cap can hold it like a trainer."""

    def __init__(self, arch, dataset, config, settings: SearchSettings, store=None) -> None:
        # Everything is checked here, before a thread or a study exists.
        self.search = prepare_search(arch, dataset, config, settings, store=store)
        self.state = "idle"
        self.message = ""
        self.summary: dict[str, Any] | None = None
        self._stop_requested = False
        self._thread: threading.Thread | None = None
        self._end_callbacks: list[Callable[[BackgroundSearch], None]] = []

    @property
    def study(self):
        return self.search.study

    @property
    def running(self) -> bool:
        return self.state in ("idle", "running")

    def start(self) -> None:
        self.state = "running"
        self._thread = threading.Thread(target=self._run, name="search", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop after (and stop) the running trial."""
        self._stop_requested = True
        self.search.stop()

    def join(self, timeout: float | None = None) -> bool:
        if self._thread is not None:
            self._thread.join(timeout)
        return not self.running

    def add_end_callback(self, callback: Callable[[BackgroundSearch], None]) -> None:
        """Call callback(search) once the search has ended (the job cap frees its slot so)."""
        self._end_callbacks.append(callback)
        if not self.running:
            callback(self)

    def table(self) -> list[dict[str, Any]]:
        return trials_table(self.study)

    def best(self) -> dict[str, Any]:
        return summarise(self.study)

    def _run(self) -> None:
        try:
            self.summary = self.search.optimize()
            done = self.summary["n_trials"]
            self.state, self.message = (
                ("stopped", f"stopped after {done} trials")
                if self._stop_requested
                else ("finished", f"finished: {done} trials in the study")
            )
        except BuilderError as err:
            self.state, self.message = "failed", str(err)
        except Exception as err:  # the thread must end in a state the page can show
            self.state, self.message = "failed", f"the search stopped: {type(err).__name__}: {err}"
        for callback in list(self._end_callbacks):
            with contextlib.suppress(Exception):
                callback(self)
