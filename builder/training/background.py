"""What the Trainer and the GanTrainer share: a loop in a background thread that readers poll.

The loop never waits for a reader: events go into a list under a lock, and each reader
keeps its own cursor (`events_since`). Control is two threading.Events checked before
every batch, so stop() and pause() take effect before the next batch.

The run's lifecycle is one state machine owned by the thread that trains (`run`):

    idle -> running <-> paused -> finished | stopped | failed

Every way out of the loop (the end, a stop, a NaN, any exception, an exception while
handling one, out of memory) goes through `_end`, which always sets a terminal state,
closes the run's record in the store and calls the end callbacks (the job slot's release).
"""

from __future__ import annotations

import contextlib
import threading
import time
import traceback
import uuid
from collections.abc import Callable
from typing import Any

from builder.errors import BuilderError

TERMINAL_STATES = ("stopped", "finished", "failed")


class StopRequested(Exception):
    """Raised inside the loop when stop() was called."""


class TrainingFault(Exception):
    """A fault the trainer turns into a plain status message (NaN loss, out of memory)."""


class BackgroundRun:
    """Start / pause / resume / stop of a run in a daemon thread, and its event buffer.

    A subclass calls `_init_run` in its constructor and implements `_train()` (calling
    `_check_control()` before each batch and `_publish` for events), `summary()`,
    `_run_facts()`, and optionally `_recover()`, `_release_memory()`, `_finished_extra()`,
    `_plain_message(err)` and, to be recorded in a run store, `_record_fields()` and
    `_weights()`.
    """

    thread_prefix = "run"
    start_message = "training started"

    def _init_run(self, run_id: str | None, store=None, record: dict[str, Any] | None = None):
        self.run_id = run_id or uuid.uuid4().hex[:12]
        self.state = "idle"
        self.message = ""
        self.epochs_done = 0
        self.global_step = 0
        self.error_detail: str | None = None
        self.store = store
        self.record_options = dict(record or {})
        self.record_error: str | None = None
        self._recorder = None
        self._end_callbacks: list[Callable[[BackgroundRun], None]] = []
        self._events: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self._unpaused = threading.Event()
        self._unpaused.set()
        self._stop_requested = threading.Event()
        self._ended = threading.Event()
        self._thread: threading.Thread | None = None
        self._t0 = time.perf_counter()

    # ---- the state machine ----------------------------------------------------------------

    def run(self) -> dict[str, Any]:
        """Train to the end (or stop / fault) in this thread; returns summary()."""
        if self._ended.is_set() or self.state != "idle":
            raise BuilderError(
                "this run has already run", hint=f"Create a new {type(self).__name__}."
            )
        self._t0 = time.perf_counter()
        status, message, extra = "failed", "training ended without a reason", {}
        interrupted: BaseException | None = None
        try:
            self._open_record()
            self._set_state("running", self.start_message, **self._run_facts())
            self._train()
            status, message = "finished", f"finished {self.epochs_done} epochs"
            extra = self._finished_extra()
        except StopRequested:
            status, message = "stopped", f"stopped by the user after {self.epochs_done} epochs"
        except KeyboardInterrupt as err:  # Ctrl-C in the CLI: end cleanly, then let it go on
            status, message, interrupted = "stopped", "interrupted (Ctrl-C)", err
        except BaseException as err:
            status, message = "failed", self._describe_fault(err)
        self._end(status, message, extra)
        if interrupted is not None:
            raise interrupted
        return self.summary()

    def _describe_fault(self, err: BaseException) -> str:
        """A plain one-line message for any fault; the traceback is kept for developers."""
        try:
            if isinstance(err, TrainingFault | BuilderError):
                return str(err)
            if _is_out_of_memory(err):
                size = getattr(getattr(self, "config", None), "batch_size", None)
                if size:
                    half = max(1, size // 2)
                    return (
                        f"ran out of memory at batch size {size}; lower the batch size (try {half})"
                    )
                return "ran out of memory; lower the batch size or make the model smaller"
            self.error_detail = traceback.format_exc()
            return self._plain_message(err)
        except BaseException:  # describing must never keep the run from ending
            return f"training stopped by an error: {type(err).__name__}"

    def _end(self, status: str, message: str, extra: dict[str, Any]) -> None:
        """The one way out: recover the model, free memory, set the terminal state, close the
        record and call the end callbacks; each step is guarded so none can skip the rest."""
        if status != "finished":
            try:
                self._recover()
            except BaseException as err:
                message = (
                    f"{message} (the best weights could not be restored: {type(err).__name__})"
                )
        with contextlib.suppress(BaseException):
            self._release_memory()
        try:
            self._set_state(status, message, **extra)
        except BaseException:
            self.state, self.message = status, message  # even a failed publish ends the run
        self._close_record(status)
        self._ended.set()
        for callback in list(self._end_callbacks):
            with contextlib.suppress(BaseException):
                callback(self)

    # ---- hooks a subclass may override ----------------------------------------------------

    def _train(self) -> None:
        raise NotImplementedError

    def _run_facts(self) -> dict[str, Any]:
        return {}

    def _finished_extra(self) -> dict[str, Any]:
        return {}

    def _recover(self) -> None:
        """After a fault or a stop: leave the model usable (e.g. restore the best weights)."""

    def _release_memory(self) -> None:
        """Drop what is only needed while training (data copies on the device)."""

    def _plain_message(self, err: BaseException) -> str:
        text = str(err).strip().splitlines()[0] if str(err).strip() else ""
        return f"training stopped by an error: {type(err).__name__}: {text}"

    def _record_fields(self) -> dict[str, Any]:
        """RunStore.create keywords (kind, graph, config, dataset, source ...)."""
        return {}

    def _weights(self) -> dict[str, Any] | None:
        """The tensors saved with the finished record."""
        return None

    def summary(self) -> dict[str, Any]:
        raise NotImplementedError

    def take_checkpoint(self) -> tuple[dict[str, Any], dict[str, str]] | None:
        """The latest epoch checkpoint not yet taken (tensors, metadata), for the recorder."""
        with self._lock:
            offered, self._checkpoint = getattr(self, "_checkpoint", None), None
        return offered

    # ---- the run store --------------------------------------------------------------------

    def _open_record(self) -> None:
        if self.store is None:
            return
        from builder.runs.recorder import RunRecorder

        if getattr(self, "resume_from", None) is not None:
            self.store.reopen(self.run_id)  # the same record goes on from its checkpoint
            self._recorder = RunRecorder(self.store, self)
            self._recorder.start()
            return
        fields_ = self._record_fields()
        for key, value in self.record_options.items():
            if key == "extra":
                fields_["extra"] = {**fields_.get("extra", {}), **(value or {})}
            elif value is not None:
                fields_[key] = value
        self.store.create(run_id=self.run_id, **fields_)
        self._recorder = RunRecorder(self.store, self)
        self._recorder.start()

    def _close_record(self, status: str) -> None:
        if self._recorder is None:
            return
        try:
            summary = self.summary()
        except BaseException:
            summary = {"run": self.run_id, "state": status, "message": self.message}
        try:
            self._recorder.close(status, summary, self._weights_or_none)
        except BaseException as err:
            self.record_error = f"{type(err).__name__}: {err}"

    def _weights_or_none(self) -> dict[str, Any] | None:
        try:
            return self._weights()
        except BaseException:
            return None

    # ---- control ------------------------------------------------------------------------

    def start(self) -> None:
        """Run in a daemon thread; returns at once."""
        if self._thread is not None:
            raise BuilderError(
                "this run has already started", hint=f"Create a new {type(self).__name__}."
            )
        name = f"{self.thread_prefix}-{self.run_id}"
        self._thread = threading.Thread(target=self._run_quietly, name=name, daemon=True)
        self._thread.start()

    def _run_quietly(self) -> None:
        # run() has already ended the run (state, record, slot): nothing to show in a thread.
        with contextlib.suppress(BaseException):
            self.run()

    def add_end_callback(self, callback: Callable[[BackgroundRun], None]) -> None:
        """Call callback(run) once the run has reached its terminal state (at once if it has)."""
        self._end_callbacks.append(callback)
        if self._ended.is_set():
            with contextlib.suppress(BaseException):
                callback(self)

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
        """True from start() until the run has ended (also while it opens its record)."""
        started = self._thread is not None and not self._ended.is_set()
        return started or self.state in ("running", "paused")

    @property
    def ended(self) -> bool:
        """True once the run has reached a terminal state and closed its record."""
        return self._ended.is_set()

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


def _is_out_of_memory(err: BaseException) -> bool:
    import torch

    return isinstance(err, torch.OutOfMemoryError | MemoryError) or (
        isinstance(err, RuntimeError) and "DefaultCPUAllocator" in str(err)
    )
