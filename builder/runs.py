"""What the Trainer and the GanTrainer share: a loop in a background thread that readers poll.

The loop never waits for a reader: events go into a list under a lock, and each reader
keeps its own cursor (`events_since`). Control is two threading.Events checked before
every batch, so stop() takes effect within one batch.
"""

from __future__ import annotations

import threading
import time
import uuid
from typing import Any

from builder.errors import BuilderError


class StopRequested(Exception):
    """Raised inside the loop when stop() was called."""


class BackgroundRun:
    """Start / pause / resume / stop of a run in a daemon thread, and its event buffer.

    A subclass calls `_init_run` in its constructor, implements `run()`, calls
    `_check_control()` before each batch and reports through `_set_state` / `_publish`.
    """

    thread_prefix = "run"

    def _init_run(self, run_id: str | None) -> None:
        self.run_id = run_id or uuid.uuid4().hex[:8]
        self.state = "idle"
        self.message = ""
        self.epochs_done = 0
        self.global_step = 0
        self._events: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self._unpaused = threading.Event()
        self._unpaused.set()
        self._stop_requested = threading.Event()
        self._thread: threading.Thread | None = None
        self._t0 = time.perf_counter()

    def run(self) -> dict[str, Any]:
        raise NotImplementedError

    # ---- control ------------------------------------------------------------------------

    def start(self) -> None:
        """Run in a daemon thread; returns at once."""
        if self._thread is not None:
            raise BuilderError(
                "this run has already started", hint=f"Create a new {type(self).__name__}."
            )
        name = f"{self.thread_prefix}-{self.run_id}"
        self._thread = threading.Thread(target=self.run, name=name, daemon=True)
        self._thread.start()

    def pause(self) -> None:
        """Hold before the next batch until resume() or stop() (also before the first one)."""
        if self.state in ("idle", "running"):
            self._unpaused.clear()

    def resume(self) -> None:
        self._unpaused.set()

    def stop(self) -> None:
        """Ask the loop to end; it does so before its next batch. Returns at once."""
        self._stop_requested.set()
        self._unpaused.set()

    def join(self, timeout: float | None = None) -> bool:
        """Wait for the background thread; True when it has ended."""
        if self._thread is None:
            return True
        self._thread.join(timeout)
        return not self._thread.is_alive()

    @property
    def running(self) -> bool:
        return self.state in ("running", "paused")

    # ---- events -------------------------------------------------------------------------

    def events_since(self, cursor: int = 0) -> tuple[list[dict[str, Any]], int]:
        """Events published after `cursor` and the cursor to pass next time."""
        with self._lock:
            return list(self._events[cursor:]), len(self._events)

    def _publish(self, kind: str, **fields_: Any) -> dict[str, Any]:
        event = {
            "run": self.run_id,
            "kind": kind,
            "epoch": fields_.pop("epoch", self.epochs_done),
            "step": fields_.pop("step", self.global_step),
            "time": round(time.perf_counter() - self._t0, 4),
            **fields_,
        }
        with self._lock:
            self._events.append(event)
        return event

    def _set_state(self, state: str, message: str = "", **extra: Any) -> None:
        self.state = state
        self.message = message
        self._publish("status", state=state, message=message, **extra)

    def _check_control(self) -> None:
        """Called before each batch: raise StopRequested, or wait here while paused."""
        if self._stop_requested.is_set():
            raise StopRequested
        if not self._unpaused.is_set():
            self._set_state("paused", "paused")
            self._unpaused.wait()
            if self._stop_requested.is_set():
                raise StopRequested
            self._set_state("running", "resumed")
