"""Runs outlive the page: a second session on the project reattaches and can stop the run; the
run lands in the store; settings and undo survive a reload; an interrupted run offers Resume."""

from __future__ import annotations

from pathlib import Path

from streamlit.testing.v1 import AppTest

from builder.runs import RunStore
from components import live_runs
from tests.ui.navigate import layer_button, open_tab

APP = Path(__file__).resolve().parents[2] / "app.py"


def start(project: str | None = None, tab: str | None = None) -> AppTest:
    at = AppTest.from_file(str(APP), default_timeout=60)
    if project:
        at.query_params["project"] = project
    at.run()
    return open_tab(at, tab) if tab else at


def _epochs_widget(at):
    return next(w for w in at.number_input if w.key.startswith("cfg_epochs_"))


def test_a_second_session_reattaches_to_the_live_run_and_stops_it(home):
    first = start(tab="Train")
    project = first.query_params["project"]
    _epochs_widget(first).set_value(1000).run()
    first.button(key="train_btn").click().run()
    trainer = first.session_state["trainer"]
    assert trainer.running
    trainer.pause()  # held (still live, slot kept) so the second page renders without a race for CPU
    for _ in range(600):
        if trainer.state == "paused":
            break
        trainer.join(timeout=0.05)
    second = start(project)  # a reload is a new session on the same project
    assert not second.exception
    assert second.session_state["trainer"] is trainer  # followed with the Train tab closed
    second = open_tab(second, "Train")
    assert not second.button(key="stop_btn").disabled
    assert second.button(key="pause_btn").label == "Resume"  # Pause/Resume work from here too
    second.button(key="stop_btn").click().run()
    assert trainer.join(timeout=60) and trainer.state == "stopped"
    rec = RunStore(home=home).get(trainer.run_id)
    assert rec.status == "stopped" and rec.project == project and rec.has_weights


def test_training_settings_and_undo_survive_a_reload(home):
    first = start(tab="Train")
    project = first.query_params["project"]
    _epochs_widget(first).set_value(500).run()
    first.number_input(key="cfg_batch").set_value(32).run()
    layer_button(first, "Dropout").click().run()
    assert first.button(key="undo").disabled is False
    again = start(project, tab="Train")
    assert not again.exception
    assert _epochs_widget(again).value == 500
    assert again.number_input(key="cfg_batch").value == 32
    assert again.button(key="undo").disabled is False
    nodes_before = len(again.session_state["arch"])
    again.button(key="undo").click().run()
    assert len(again.session_state["arch"]) == nodes_before - 1


def test_an_interrupted_run_shows_after_a_restart_and_resumes(home, monkeypatch):
    from builder.data import load_dataset
    from builder.graph import Architecture
    from builder.training import TrainConfig, Trainer

    project = "proj_resume"
    store = RunStore(home=home)
    arch = Architecture.load("assets/templates/mlp_digits.json")
    trainer = Trainer(
        arch,
        load_dataset("digits"),
        TrainConfig(epochs=3, device="cpu"),
        store=store,
        project=project,
    )
    # Simulate the dead server: a run that checkpointed epoch 1 and never ended.
    trainer._open_record()
    trainer.config.epochs = 1
    trainer._train()
    tensors, meta = trainer.take_checkpoint()
    store.save_state_dict(trainer.run_id, tensors, "checkpoint", meta)
    trainer._recorder.flush(checkpoint=False)
    trainer._recorder._closing.set()
    monkeypatch.setattr(live_runs, "_swept", set())
    at = start(project, tab="Train")
    assert not at.exception
    assert store.get(trainer.run_id).status == "interrupted"
    assert "interrupted after epoch 1" in " ".join(w.value for w in at.warning)
    at.button(key="resume_btn").click().run()
    resumed = at.session_state["trainer"]
    assert resumed.run_id == trainer.run_id
    assert resumed.join(timeout=60) and resumed.state == "finished"
    rec = store.get(trainer.run_id)
    assert rec.status == "finished" and rec.summary["epochs"] == 3
