"""Runs of this server process, found by project: what a reload or a second tab reattaches to.

Plain Python (module state lives once per server process), so it is tested directly. The
run store holds every run's record; this registry holds the live trainer objects, whose
events, Stop and Pause every tab on the project shares. The latest run of each project and
panel stays here after it ends, so a tab that comes back finds it (its model is needed for
the views of the trained model).
"""

from __future__ import annotations

import functools
import threading
import time

from builder.runs import RunStore, default_home

_lock = threading.Lock()
_latest: dict[tuple[str, str], object] = {}  # (project, panel) -> trainer, oldest first
# Ended runs kept for tabs that come back (each holds its model and dataset); live ones are
# always kept. Older ended runs are still in the store, so the Runs tab shows them.
KEEP_ENDED = 16
# An ended run no page has shown for this long is dropped too: its model and dataset (up to
# a large upload's size) would otherwise stay in memory until 16 newer runs pushed it out.
ENDED_TTL_S = 15 * 60


@functools.lru_cache(maxsize=8)
def _store_for(home: str) -> RunStore:
    return RunStore(home=home)


def run_store(owner: str | None = None) -> RunStore:
    """The run store under the current $LAYERCRAFT_HOME (one object per home), as `owner`
    (the signed-in user, None without sign-in) sees it: their runs, stamped with them."""
    store = _store_for(str(default_home()))
    return store if owner is None else store.owned_by(owner)


def register(project: str, panel: str, trainer: object, idle_timeout_s: float = 0) -> None:
    """Make trainer the project's current run in `panel` ("train" or "gan").

    With an idle timeout (seconds, 0: none) the run is stopped once no page has shown it
    for that long, so a run whose tabs were all closed never holds a slot unseen.
    """
    with _lock:
        previous = _latest.pop((project, panel), None)
        _watched.pop(id(previous), None)
        _latest[(project, panel)] = trainer
        ended = [k for k, t in _latest.items() if getattr(t, "ended", False)]
        for key in ended[: max(0, len(ended) - KEEP_ENDED)]:
            _forget(key)
        _watched[id(trainer)] = (time.monotonic(), float(idle_timeout_s))
    if idle_timeout_s:
        _start_watchdog()


# id(trainer) -> (when a page last showed it, idle timeout in seconds; 0: none)
_watched: dict[int, tuple[float, float]] = {}
WATCHDOG_EVERY_S = 5.0
_watchdog: threading.Thread | None = None


def watch(trainer: object, clock=time.monotonic) -> None:
    """A page is showing this run now (the Train tab calls it on every poll)."""
    with _lock:
        if id(trainer) in _watched:
            _watched[id(trainer)] = (clock(), _watched[id(trainer)][1])


def stop_unwatched(clock=time.monotonic) -> list[object]:
    """Stop every live run no page has shown for longer than its idle timeout."""
    now = clock()
    with _lock:
        live = [t for t in _latest.values() if getattr(t, "state", None) in ("running", "paused")]
        idle = [
            t for t in live if (seen := _watched.get(id(t))) and seen[1] and now - seen[0] > seen[1]
        ]
    for trainer in idle:
        trainer.stop()
    return idle


def _start_watchdog() -> None:
    global _watchdog
    with _lock:
        if _watchdog is not None:
            return
        _watchdog = threading.Thread(target=_watch_forever, name="idle-runs", daemon=True)
    _watchdog.start()


def _watch_forever() -> None:
    while True:
        time.sleep(WATCHDOG_EVERY_S)
        stop_unwatched()


def latest(project: str | None, panel: str, clock=time.monotonic):
    """The project's current (live or last ended) run in `panel` in this process, or None."""
    if project is None:
        return None
    with _lock:
        _drop_unseen_ended(clock())
        return _latest.get((project, panel))


def _forget(key: tuple[str, str]) -> None:
    _watched.pop(id(_latest.pop(key)), None)


def _drop_unseen_ended(now: float) -> None:
    """Forget ended runs no page has shown for ENDED_TTL_S (the store still has them)."""
    stale = [
        key
        for key, t in _latest.items()
        if getattr(t, "ended", False) and now - _watched.get(id(t), (now, 0))[0] > ENDED_TTL_S
    ]
    for key in stale:
        _forget(key)


def live_run_ids() -> set[str]:
    """Ids of the runs this process is still training (for the dead-run sweep)."""
    with _lock:
        return {
            t.run_id for t in _latest.values() if getattr(t, "state", None) in ("running", "paused")
        }


_swept: set[str] = set()


def sweep_once() -> None:
    """Once per home and process: runs a dead process left "running" become "interrupted"."""
    home = str(default_home())
    if home in _swept:
        return
    _swept.add(home)
    run_store().sweep_dead(live_run_ids())


def interrupted_run(project: str | None, owner: str | None = None):
    """The project's latest train run if it was interrupted and can resume, else None."""
    if project is None:
        return None
    sweep_once()
    runs = run_store(owner).list(project=project, kind="train")
    if runs and runs[0].status == "interrupted" and runs[0].summary.get("resumable"):
        return runs[0]
    return None


def last_epoch(run_id: str) -> int:
    """The last epoch a run recorded (0 before its first)."""
    epochs = [e.get("epoch", 0) for e in run_store().events(run_id) if e.get("kind") == "epoch"]
    return max(epochs, default=0)
