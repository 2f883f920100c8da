"""The process-wide registry of current runs: newest per project and panel, bounded."""

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
