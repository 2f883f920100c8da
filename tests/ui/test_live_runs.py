"""The process-wide registry of current runs: newest per project and panel, bounded."""

import time
from types import SimpleNamespace

from components import live_runs


def test_registry_keeps_the_newest_run_per_project_and_forgets_old_ended_ones(monkeypatch):
    monkeypatch.setattr(live_runs, "_latest", {})
    live = SimpleNamespace(run_id="live", state="running", ended=False)
    live_runs.register("p0", "train", live)
    for i in range(live_runs.KEEP_ENDED + 5):
        live_runs.register(f"p{i + 1}", "train", SimpleNamespace(run_id=f"r{i}", ended=True))
    assert live_runs.latest("p0", "train") is live  # a live run is never dropped
    assert live_runs.latest("p1", "train") is None  # the oldest ended ones are
    assert (
        live_runs.latest(f"p{live_runs.KEEP_ENDED + 5}", "train").run_id
        == f"r{live_runs.KEEP_ENDED + 4}"
    )
    assert live_runs.live_run_ids() == {"live"}
    newer = SimpleNamespace(run_id="newer", state="running", ended=False)
    live_runs.register("p0", "train", newer)
    assert live_runs.latest("p0", "train") is newer


class FakeRun(SimpleNamespace):
    def stop(self):
        self.state = "stopped"


def test_a_run_no_page_has_shown_for_its_idle_timeout_is_stopped(monkeypatch):
    monkeypatch.setattr(live_runs, "_latest", {})
    monkeypatch.setattr(live_runs, "_watched", {})
    monkeypatch.setattr(live_runs, "_start_watchdog", lambda: None)
    watched = FakeRun(run_id="watched", state="running", ended=False)
    forgotten = FakeRun(run_id="forgotten", state="paused", ended=False)
    forever = FakeRun(run_id="forever", state="running", ended=False)
    live_runs.register("a", "train", watched, idle_timeout_s=60)
    live_runs.register("b", "train", forgotten, idle_timeout_s=60)
    live_runs.register("c", "train", forever)  # no timeout chosen: runs until it ends
    start = live_runs.time.monotonic()
    live_runs.watch(watched, clock=lambda: start + 50)
    stopped = live_runs.stop_unwatched(clock=lambda: start + 100)
    assert stopped == [forgotten] and forgotten.state == "stopped"
    assert watched.state == "running" and forever.state == "running"


def test_an_idle_timeout_stops_a_real_run_and_frees_it(home, monkeypatch):
    from builder.data import load_dataset
    from builder.graph import Architecture
    from builder.training import TrainConfig, Trainer

    monkeypatch.setattr(live_runs, "_latest", {})
    monkeypatch.setattr(live_runs, "_watched", {})
    monkeypatch.setattr(live_runs, "_start_watchdog", lambda: None)
    arch = Architecture.load("assets/templates/mlp_digits.json")
    trainer = Trainer(arch, load_dataset("digits"), TrainConfig(epochs=10_000, device="cpu"))
    live_runs.register("p", "train", trainer, idle_timeout_s=1)
    trainer.start()
    assert live_runs.stop_unwatched(clock=lambda: live_runs.time.monotonic() + 5) == [trainer]
    assert trainer.join(timeout=60) and trainer.state == "stopped"


def test_an_ended_run_no_page_has_shown_for_a_while_is_forgotten(monkeypatch):
    monkeypatch.setattr(live_runs, "_latest", {})
    monkeypatch.setattr(live_runs, "_watched", {})
    unseen = SimpleNamespace(run_id="unseen", ended=True)
    shown = SimpleNamespace(run_id="shown", ended=True)
    live = SimpleNamespace(run_id="live", state="running", ended=False)
    for project, trainer in (("a", unseen), ("b", shown), ("c", live)):
        live_runs.register(project, "train", trainer)
    later = time.monotonic() + live_runs.ENDED_TTL_S
    live_runs.watch(shown, clock=lambda: later - 5)  # a tab still shows b's run
    assert live_runs.latest("a", "train", clock=lambda: later + 1) is None
    assert live_runs.latest("b", "train", clock=lambda: later + 1) is shown
    assert live_runs.latest("c", "train", clock=lambda: later + 1) is live  # live: always kept
