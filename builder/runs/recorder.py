"""Copies a live run's events into the run store from its own thread, off the training loop.

The training loop only appends events to its in-memory buffer; this thread reads that
buffer with its own cursor every `flush_s` seconds and writes the new events in one
transaction. `close` flushes the rest and finishes the record with summary and weights.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

FLUSH_S = 1.0


class RunRecorder:
    """Batches one run's events into a RunStore; started and closed by the run itself."""

    def __init__(self, store, run, flush_s: float = FLUSH_S) -> None:
        self.store = store
        self.run = run
        self.flush_s = flush_s
        self.cursor = 0
        self.error: str | None = None
        self._closing = threading.Event()
        self._flush_lock = threading.Lock()
        self._thread = threading.Thread(
            target=self._loop, name=f"recorder-{run.run_id}", daemon=True
        )

    def start(self) -> None:
        self._thread.start()

    def flush(self, checkpoint: bool = True) -> int:
        """Write the events published since the last flush, and the latest epoch checkpoint
        the run offers (when asked); returns how many events."""
        with self._flush_lock:
            events, cursor = self.run.events_since(self.cursor)
            if events:
                self.store.add_events(self.run.run_id, events)
            self.cursor = cursor
            offered = self.run.take_checkpoint() if checkpoint else None
            if offered is not None:
                tensors, metadata = offered
                self.store.save_state_dict(self.run.run_id, tensors, "checkpoint", metadata)
            return len(events)

    def close(
        self,
        status: str,
        summary: dict[str, Any],
        weights: Callable[[], dict[str, Any] | None] | None = None,
    ) -> None:
        """Stop the thread, write the remaining events and finish the record.

        When the weights cannot be saved (disk full, out of memory), the record still ends
        with its status, so it never stays "running".
        """
        self._closing.set()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(timeout=30)
        try:
            self.flush(checkpoint=False)
            self.store.drop_checkpoint(self.run.run_id)  # an ended run resumes no more
        except Exception as err:
            self.error = f"events not saved: {type(err).__name__}: {err}"
        state_dict = weights() if weights is not None else None
        try:
            self.store.finish(
                self.run.run_id, status=status, summary=summary, state_dict=state_dict
            )
        except Exception as err:
            self.error = f"weights not saved: {type(err).__name__}: {err}"
            self.store.finish(
                self.run.run_id, status=status, summary={**summary, "record_error": self.error}
            )
        self._log_to_tracking_server()

    def _log_to_tracking_server(self) -> None:
        """MLflow, when MLFLOW_TRACKING_URI is set; its failure never fails the run."""
        from builder.runs.tracking import log_run, tracking_enabled

        if not tracking_enabled():
            return
        try:
            mlflow_id = log_run(self.store, self.run.run_id)
            self.store.update_extra(self.run.run_id, mlflow_run=mlflow_id)
        except Exception as err:
            self.store.update_extra(
                self.run.run_id, mlflow_error=f"{type(err).__name__}: {str(err)[:200]}"
            )

    def _loop(self) -> None:
        while not self._closing.wait(self.flush_s):
            try:
                self.flush()
            except Exception as err:  # a busy or broken store never stops the training
                self.error = f"events not saved: {type(err).__name__}: {err}"
