"""The live diagram while a run trains: redrawn at most every DIAGRAM_SECONDS (the browser
lays each new DOT out again), and at once with the final colours when the run ends."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from builder.diagram import METRICS
from builder.templates import load_template
from components import dashboard, live_tint


class Session(dict):
    """Enough of st.session_state: keys as attributes, and .get / .setdefault."""

    __getattr__ = dict.__getitem__
    __setattr__ = dict.__setitem__


@pytest.fixture
def clock(monkeypatch):
    session = Session()
    monkeypatch.setattr(dashboard, "S", session)
    monkeypatch.setattr(live_tint, "S", session)
    now = SimpleNamespace(t=100.0)
    monkeypatch.setattr(dashboard.time, "monotonic", lambda: now.t)
    return now


def trainer_at(step: int, value: float):
    arch = load_template("lenet_digits")
    stats = {node: {METRICS[0]: value} for node in arch.node_ids}
    return SimpleNamespace(
        arch=arch, running=True, layer_stats=stats, first_layer_stats=stats, layer_stats_step=step
    )


def test_a_training_diagram_keeps_its_dot_for_a_while_then_follows_the_run(clock):
    trainer = trainer_at(10, 1.0)
    first, step = dashboard._diagram_snapshot(trainer, METRICS[0])
    assert step == 10
    # New statistics a second later: the same DOT (not laid out again), and the same step.
    trainer.layer_stats = {n: {METRICS[0]: 5.0} for n in trainer.arch.node_ids}
    trainer.layer_stats_step = 20
    clock.t += 1.0
    assert dashboard._diagram_snapshot(trainer, METRICS[0]) == (first, 10)
    # Once DIAGRAM_SECONDS have passed, the new colours and step.
    clock.t += dashboard.DIAGRAM_SECONDS
    later, step = dashboard._diagram_snapshot(trainer, METRICS[0])
    assert step == 20 and later != first


def test_an_ended_run_shows_its_final_colours_at_once(clock):
    trainer = trainer_at(10, 1.0)
    first, _ = dashboard._diagram_snapshot(trainer, METRICS[0])
    trainer.running = False
    trainer.layer_stats = {n: {METRICS[0]: 5.0} for n in trainer.arch.node_ids}
    trainer.layer_stats_step = 30
    clock.t += 0.5
    final, step = dashboard._diagram_snapshot(trainer, METRICS[0])
    assert step == 30 and final != first
