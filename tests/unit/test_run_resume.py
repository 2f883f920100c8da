"""Runs whose process died: the sweep marks them interrupted, and they resume from the last
epoch checkpoint in the same record."""

import os
import signal
import subprocess
import sys
import time

import pytest

from builder.errors import BuilderError
from builder.runs import RunStore
from builder.runs.resume import resume_trainer

MLP = "assets/templates/mlp_digits.json"


def _wait_for(predicate, timeout=60.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError("timed out")


def _kill_mid_run(home) -> str:
    """Start a long CLI run, SIGKILL it once it has checkpointed an epoch; returns its id."""
    store = RunStore(home=home)
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "builder",
            "train",
            MLP,
            "--dataset",
            "digits",
            "--epochs",
            "400",
            "--device",
            "cpu",
            "--quiet",
            "--home",
            str(home),
            "--project",
            "p",
        ],
        stdout=subprocess.DEVNULL,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
    )
    try:
        run_id = _wait_for(lambda: next((r.id for r in store.list()), None))
        _wait_for(lambda: (store.run_dir(run_id) / "checkpoint.safetensors").is_file())
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)  # reaped, so its pid is really gone
    return run_id


@pytest.mark.slow  # a real process to kill: its start (torch import) is most of the time
def test_a_killed_run_is_swept_to_interrupted_and_resumes_in_the_same_record(tmp_path):
    run_id = _kill_mid_run(tmp_path)
    store = RunStore(home=tmp_path)
    assert store.get(run_id).status == "running"  # what the dead process left behind
    assert store.sweep_dead() == [run_id]
    rec = store.get(run_id)
    assert rec.status == "interrupted" and rec.summary["resumable"] is True
    events_before = store.events(run_id)
    trainer = resume_trainer(store, run_id)
    start_epoch = int(trainer.resume_from[1]["epoch"]) + 1
    trainer.config.epochs = start_epoch + 1  # two more epochs keep the test short
    summary = trainer.run()
    assert summary["state"] == "finished" and summary["epochs"] == start_epoch + 1
    assert len(trainer.history["val_loss"]) == start_epoch + 1  # the history went on too
    rec = store.get(run_id)
    assert rec.status == "finished" and rec.has_weights
    events = store.events(run_id)
    assert events[: len(events_before)] == events_before
    epochs_after = [e["epoch"] for e in events[len(events_before) :] if e["kind"] == "epoch"]
    assert epochs_after[0] == start_epoch
    assert not (store.run_dir(run_id) / "checkpoint.safetensors").exists()


def test_sweep_leaves_live_runs_of_this_process_alone(tmp_path):
    store = RunStore(home=tmp_path)
    live, dead = store.create(kind="train"), store.create(kind="train")
    assert store.sweep_dead(live_ids={live}) == [dead]
    assert store.get(live).status == "running" and store.get(dead).status == "interrupted"


def test_only_an_interrupted_run_with_a_checkpoint_resumes(tmp_path):
    store = RunStore(home=tmp_path)
    run_id = store.create(kind="train")
    with pytest.raises(BuilderError, match="only an interrupted run"):
        resume_trainer(store, run_id)
    store.sweep_dead()
    with pytest.raises(BuilderError, match="no epoch checkpoint"):
        resume_trainer(store, run_id)
