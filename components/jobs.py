"""A global cap on concurrent training jobs across all browser sessions, with a fair queue.

Plain Python (module state lives once per server process), so it is tested directly.
A slot is held by a trainer while it runs or is paused; a session waiting in the queue
must check in every few seconds (the dashboard polls twice a second) or it loses its
place, so a closed tab never blocks the others.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

ACTIVE_STATES = ("idle", "running", "paused")
QUEUE_TIMEOUT_S = 10.0


class JobSlots:
    """At most `cap` trainers run at once; other sessions wait in arrival order."""

    def __init__(self, cap: int) -> None:
        self.cap = max(1, cap)
        self._lock = threading.Lock()
        self._holders: dict[str, object] = {}  # owner -> trainer
        self._waiting: dict[str, float] = {}  # owner -> last check-in (insertion = arrival order)

    def acquire(self, owner: str, clock=time.monotonic) -> int:
        """0 when owner may start training now (the slot is then reserved); else its place in the queue."""
        with self._lock:
            self._prune(clock())
            if owner in self._holders:
                return 0
            self._waiting[owner] = clock()
            queue = list(self._waiting)
            free = self.cap - len(self._holders)
            if queue.index(owner) < free:
                del self._waiting[owner]
                self._holders[owner] = None
                return 0
            return queue.index(owner) - free + 1

    @contextmanager
    def starting(self, owner: str) -> Iterator[None]:
        """Build and start owner's trainer inside this; any failure frees the reserved slot.

        Without it a constructor that raised anything but a BuilderError (MemoryError, a
        bug) left the slot reserved for a trainer that never came, for good.
        """
        try:
            yield
        except BaseException:
            self.release(owner)
            raise

    def attach(self, owner: str, trainer: object) -> None:
        """The trainer that now holds owner's slot; it frees the slot when it ends.

        The release is the trainer's own end callback, called from its thread whatever way
        the run ends, so no failure path and no closed tab can keep the slot.
        """
        with self._lock:
            self._holders[owner] = trainer
        add_end_callback = getattr(trainer, "add_end_callback", None)
        if add_end_callback is not None:
            add_end_callback(lambda ended: self.release_held_by(owner, ended))

    def release_held_by(self, owner: str, trainer: object) -> None:
        """Free owner's slot if `trainer` still holds it (a newer run keeps its own)."""
        with self._lock:
            if self._holders.get(owner) is trainer:
                del self._holders[owner]

    def release(self, owner: str) -> None:
        with self._lock:
            self._holders.pop(owner, None)
            self._waiting.pop(owner, None)

    def running(self) -> int:
        with self._lock:
            self._prune(time.monotonic())
            return len(self._holders)

    def _prune(self, now: float) -> None:
        for owner, trainer in list(self._holders.items()):
            if trainer is not None and getattr(trainer, "state", "idle") not in ACTIVE_STATES:
                del self._holders[owner]
        for owner, seen in list(self._waiting.items()):
            if now - seen > QUEUE_TIMEOUT_S:
                del self._waiting[owner]


def leave_a_core_for_the_page() -> None:
    """Train on all but one CPU core: the server and the browser drawing the live page need one.

    torch's default of one thread per core competes with them on a small machine, and its
    threads then wait on each other: on 2 cores, with the page open, the Transformer
    template trained 3x slower with 2 threads than with 1.
    """
    import torch  # only the training paths need it

    cores = os.cpu_count() or 1
    if cores > 1 and torch.get_num_threads() >= cores:
        torch.set_num_threads(cores - 1)


SLOTS = JobSlots(int(os.environ.get("LAYERCRAFT_MAX_JOBS", "2")))
