"""Trainer control and faults: pause / resume / stop, NaN loss, exceptions, shape mismatch."""

import threading

import pytest
import torch
from torch import nn

from builder.data import load_dataset, split_and_standardise
from builder.graph import Architecture
from builder.training import TrainConfig, Trainer


class Scripted(nn.Module):
    """An MLP that runs `action(call_number)` on each training forward, to script events."""

    def __init__(self, action):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(2, 16), nn.ReLU(), nn.Linear(16, 2))
        self.action = action
        self.calls = 0

    def forward(self, x):
        if self.training:
            self.calls += 1
            out = self.action(self.calls, self.net(x))
            if out is not None:
                return out
        return self.net(x)


def dataset(n_train=640):
    # 640 training samples in batches of 64: 10 steps per epoch.
    x = torch.randn(n_train * 5 // 4, 2).numpy()
    y = (x[:, 0] * x[:, 1] > 0).astype("int64")
    return split_and_standardise(
        "quadrants", x, y, task="classification", class_names=["0", "1"], val_fraction=0.2
    )


def test_stop_ends_the_run_after_the_batch_in_progress():
    holder = {}

    def action(call, out):
        if call == 7:
            holder["trainer"].stop()

    model = Scripted(action)
    trainer = Trainer(None, dataset(), TrainConfig(epochs=50, device="cpu"), model=model)
    holder["trainer"] = trainer
    trainer.start()
    assert trainer.join(timeout=60)
    assert trainer.state == "stopped"
    assert model.calls == 7  # no batch started after the stop
    assert trainer.events_since(0)[0][-1]["state"] == "stopped"


def test_pause_holds_before_the_next_batch_and_resume_finishes_the_run():
    paused_at = threading.Event()
    holder = {}

    def action(call, out):
        if call == 13:
            holder["trainer"].pause()
            paused_at.set()

    model = Scripted(action)
    trainer = Trainer(None, dataset(), TrainConfig(epochs=3, device="cpu"), model=model)
    holder["trainer"] = trainer
    trainer.start()
    assert paused_at.wait(timeout=60)
    _wait_for_state(trainer, "paused")
    assert model.calls == 13
    trainer.resume()
    assert trainer.join(timeout=60)
    assert trainer.state == "finished" and model.calls == 30
    states = [e["state"] for e in trainer.events_since(0)[0] if e["kind"] == "status"]
    assert states == ["running", "paused", "running", "finished"]


def test_stop_while_paused_ends_the_run():
    holder = {}

    def action(call, out):
        if call == 2:
            holder["trainer"].pause()

    model = Scripted(action)
    trainer = Trainer(None, dataset(), TrainConfig(epochs=3, device="cpu"), model=model)
    holder["trainer"] = trainer
    trainer.start()
    _wait_for_state(trainer, "paused")
    trainer.stop()
    assert trainer.join(timeout=60)
    assert trainer.state == "stopped" and model.calls == 2


def _wait_for_state(trainer, state):
    for _ in range(600):
        if trainer.state == state:
            return
        trainer.join(timeout=0.05)
    raise AssertionError(f"trainer never reached {state}; it is {trainer.state}")


def test_nan_loss_names_epoch_and_step_and_keeps_the_best_weights():
    # 10 steps per epoch: training call 24 is epoch 3, step 4.
    def action(call, out):
        if call == 2 * 10 + 4:
            return out * float("nan")
        return None

    model = Scripted(action)
    trainer = Trainer(None, dataset(), TrainConfig(epochs=5, device="cpu"), model=model)
    summary = trainer.run()
    assert summary["state"] == "failed"
    assert trainer.message == (
        "loss became NaN at epoch 3 step 4; lower the learning rate or add normalisation"
    )
    assert trainer.best_epoch == 2
    assert all(torch.isfinite(p).all() for p in model.parameters())
    for name, value in model.state_dict().items():
        assert torch.equal(value, trainer.best_state[name])


def test_nan_message_counts_steps_across_log_windows():
    # 4,096 samples in batches of 64: 64 steps per epoch, read back every 20 steps.
    def action(call, out):
        return out * float("inf") - out * float("inf") if call == 2 * 64 + 41 else None

    data = dataset(n_train=4096)
    trainer = Trainer(None, data, TrainConfig(epochs=4, device="cpu"), model=Scripted(action))
    trainer.run()
    assert trainer.message == (
        "loss became NaN at epoch 3 step 41; lower the learning rate or add normalisation"
    )


def test_exception_in_the_thread_becomes_a_status_event_and_the_model_stays_usable():
    def action(call, out):
        if call == 15:
            raise ValueError("custom layer exploded")

    model = Scripted(action)
    trainer = Trainer(None, dataset(), TrainConfig(epochs=3, device="cpu"), model=model)
    trainer.start()
    assert trainer.join(timeout=60)
    assert trainer.state == "failed"
    last = trainer.events_since(0)[0][-1]
    assert last["kind"] == "status" and last["state"] == "failed"
    assert last["message"] == "training stopped by an error: ValueError: custom layer exploded"
    assert "Traceback" not in last["message"]
    model.eval()
    assert model(torch.zeros(4, 2)).shape == (4, 2)


def test_data_that_does_not_fit_the_graph_fails_with_the_compatibility_message():
    arch = Architecture.load("assets/templates/lenet5.json")
    trainer = Trainer(arch, load_dataset("digits", n_samples=100), TrainConfig(device="cpu"))
    summary = trainer.run()
    assert summary["state"] == "failed"
    assert "digits gives 1×8×8 images but the Input expects 1×32×32" in trainer.message


def test_data_that_does_not_fit_a_plain_model_fails_with_a_plain_message():
    model = nn.Sequential(nn.Linear(5, 2))
    trainer = Trainer(None, dataset(), TrainConfig(device="cpu"), model=model)
    trainer.run()
    assert trainer.state == "failed"
    assert trainer.message.startswith("the data does not fit the model")


def test_a_trainer_cannot_be_started_twice():
    trainer = Trainer(
        None, dataset(), TrainConfig(epochs=1, device="cpu"), model=Scripted(lambda c, o: None)
    )
    trainer.start()
    trainer.join(timeout=60)
    with pytest.raises(Exception, match="already started"):
        trainer.start()


def test_out_of_memory_suggests_a_smaller_batch():
    def action(call, out):
        if call == 3:
            raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")

    trainer = Trainer(
        None, dataset(), TrainConfig(batch_size=64, device="cpu"), model=Scripted(action)
    )
    trainer.run()
    assert trainer.state == "failed"
    assert trainer.message == "ran out of memory at batch size 64; lower the batch size (try 32)"


def test_compile_failure_falls_back_to_eager_training_with_a_note(monkeypatch):
    def broken_compile(model):
        def call(x):
            raise RuntimeError("no C++ compiler")

        return call

    monkeypatch.setattr(torch, "compile", broken_compile)
    trainer = Trainer(
        None,
        dataset(),
        TrainConfig(epochs=1, compile=True, device="cpu"),
        model=Scripted(lambda c, o: None),
    )
    summary = trainer.run()
    assert summary["state"] == "finished"
    messages = [e["message"] for e in trainer.events_since(0)[0] if e["kind"] == "status"]
    assert "torch.compile is not available here (RuntimeError); training without it" in messages
