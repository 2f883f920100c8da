"""The run lifecycle: every exit ends in a terminal state, ends the record and frees the slot.

Each test injects a failure at one point (the model's forward, the recovery after a fault,
the memory release, the store, the summary) and checks the same three things.
"""

import threading

import pytest
import torch
from torch import nn

from builder.data import split_and_standardise
from builder.gan import GanConfig, GanTrainer
from builder.runs import RunStore
from builder.training import TrainConfig, Trainer
from builder.training.background import TERMINAL_STATES
from components.jobs import JobSlots


class Scripted(nn.Module):
    """An MLP that runs `action(call_number, out)` on each training forward."""

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


def _dataset(n_train=640):
    x = torch.randn(n_train * 5 // 4, 2).numpy()
    y = (x[:, 0] * x[:, 1] > 0).astype("int64")
    return split_and_standardise(
        "quadrants", x, y, task="classification", class_names=["0", "1"], val_fraction=0.2
    )


def _raise_at(call_number, error):
    def action(call, out):
        if call == call_number:
            raise error
        return None

    return action


def _start_in_a_slot(trainer, slots, owner="tab-1"):
    assert slots.acquire(owner) == 0
    slots.attach(owner, trainer)
    trainer.start()
    assert trainer.join(timeout=60), "the run never ended"


def _assert_ended_cleanly(trainer, store, slots, state):
    assert trainer.state == state
    assert trainer.ended
    assert slots.running() == 0, "the slot was not freed"
    rec = store.get(trainer.run_id)
    assert rec.status == state and rec.ended is not None
    last = trainer.events_since(0)[0][-1]
    assert last["kind"] == "status" and last["state"] == state


@pytest.fixture
def store(tmp_path):
    return RunStore(home=tmp_path)


@pytest.fixture
def slots():
    return JobSlots(cap=1)


def _trainer(store, action=None, epochs=3, **config):
    model = Scripted(action or (lambda call, out: None))
    config = TrainConfig(epochs=epochs, device="cpu", **config)
    return Trainer(None, _dataset(), config, model=model, store=store)


def test_finish_ends_finished_with_weights_and_frees_the_slot(store, slots):
    trainer = _trainer(store)
    _start_in_a_slot(trainer, slots)
    _assert_ended_cleanly(trainer, store, slots, "finished")
    assert store.load_state_dict(trainer.run_id) is not None


def test_stop_ends_stopped_and_frees_the_slot(store, slots):
    holder = {}
    trainer = _trainer(store, lambda call, out: holder["t"].stop() if call == 5 else None)
    holder["t"] = trainer
    _start_in_a_slot(trainer, slots)
    _assert_ended_cleanly(trainer, store, slots, "stopped")
    assert trainer.model.calls == 5


def test_nan_loss_ends_failed_and_frees_the_slot(store, slots):
    trainer = _trainer(store, lambda call, out: out * float("nan") if call == 12 else None)
    _start_in_a_slot(trainer, slots)
    _assert_ended_cleanly(trainer, store, slots, "failed")
    assert "NaN" in store.get(trainer.run_id).summary["message"]


def test_an_exception_in_the_model_ends_failed_and_frees_the_slot(store, slots):
    trainer = _trainer(store, _raise_at(4, ValueError("layer exploded")))
    _start_in_a_slot(trainer, slots)
    _assert_ended_cleanly(trainer, store, slots, "failed")
    assert trainer.message == "training stopped by an error: ValueError: layer exploded"


def test_out_of_memory_ends_failed_with_a_smaller_batch_and_frees_the_slot(store, slots):
    trainer = _trainer(store, _raise_at(3, torch.OutOfMemoryError("out of memory")))
    _start_in_a_slot(trainer, slots)
    _assert_ended_cleanly(trainer, store, slots, "failed")
    assert "try 32" in trainer.message


def test_cpu_allocator_failure_counts_as_out_of_memory(store, slots):
    error = RuntimeError("[enforce fail at alloc_cpu.cpp] DefaultCPUAllocator: not enough memory")
    trainer = _trainer(store, _raise_at(3, error))
    _start_in_a_slot(trainer, slots)
    _assert_ended_cleanly(trainer, store, slots, "failed")
    assert trainer.message.startswith("ran out of memory at batch size 64")


def test_out_of_memory_again_while_recovering_still_ends_failed(store, slots, monkeypatch):
    # The probe in the issue: OOM, then the recovery (_restore_best) runs out of memory too.
    trainer = _trainer(store, _raise_at(3, torch.OutOfMemoryError("out of memory")))

    def restore_fails():
        raise torch.OutOfMemoryError("out of memory while restoring")

    monkeypatch.setattr(trainer, "_restore_best", restore_fails)
    _start_in_a_slot(trainer, slots)
    _assert_ended_cleanly(trainer, store, slots, "failed")
    assert "could not be restored" in trainer.message


def test_an_exception_inside_the_handler_still_ends_failed(store, slots, monkeypatch):
    trainer = _trainer(store, _raise_at(3, ValueError("first")))
    monkeypatch.setattr(trainer, "_restore_best", lambda: 1 / 0)
    monkeypatch.setattr(trainer, "_release_memory", lambda: [][1])
    _start_in_a_slot(trainer, slots)
    _assert_ended_cleanly(trainer, store, slots, "failed")


def test_a_failing_summary_still_ends_the_record(store, slots, monkeypatch):
    trainer = _trainer(store, _raise_at(3, ValueError("first")))
    monkeypatch.setattr(trainer, "summary", lambda: 1 / 0)
    _start_in_a_slot(trainer, slots)
    _assert_ended_cleanly(trainer, store, slots, "failed")
    assert store.get(trainer.run_id).summary["state"] == "failed"


def test_a_store_that_cannot_save_weights_still_ends_the_run(store, slots, monkeypatch):
    def disk_full(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(store, "save_state_dict", disk_full)
    trainer = _trainer(store)
    _start_in_a_slot(trainer, slots)
    _assert_ended_cleanly(trainer, store, slots, "finished")
    assert "No space left" in store.get(trainer.run_id).summary["record_error"]


def test_a_store_that_fails_completely_still_frees_the_slot(store, slots, monkeypatch):
    trainer = _trainer(store)
    store_finish = store.finish

    def broken(*args, **kwargs):
        raise OSError("database is gone")

    monkeypatch.setattr(store, "finish", broken)
    _start_in_a_slot(trainer, slots)
    assert trainer.state == "finished" and trainer.ended
    assert slots.running() == 0
    assert "database is gone" in trainer.record_error
    store_finish(trainer.run_id, status="finished")  # the store itself is intact


def test_a_store_that_cannot_create_the_record_fails_the_run_and_frees_the_slot(
    store, slots, monkeypatch
):
    def locked(**kwargs):
        raise OSError("database is locked")

    monkeypatch.setattr(store, "create", locked)
    trainer = _trainer(store)
    _start_in_a_slot(trainer, slots)
    assert trainer.state == "failed" and trainer.ended and slots.running() == 0
    assert "database is locked" in trainer.message


def test_the_end_callback_of_an_older_run_does_not_free_a_newer_runs_slot(store):
    slots = JobSlots(cap=1)
    old, new = _trainer(store, epochs=1), _trainer(store, epochs=1)
    assert slots.acquire("tab") == 0
    slots.attach("tab", new)
    slots.release_held_by("tab", old)
    assert slots.running() == 1


def test_gan_runs_share_the_lifecycle(store, slots):
    from builder.templates import load_template

    gen, disc = load_template("gan_generator"), load_template("gan_discriminator")
    images = split_and_standardise(
        "noise_images",
        torch.rand(80, 1, 8, 8).numpy(),
        torch.rand(80, 1, 8, 8).numpy(),
        task="reconstruction",
        standardise=False,
    )
    trainer = GanTrainer(gen, disc, images, GanConfig(epochs=2, device="cpu"), store=store)
    trainer.discriminator.register_forward_hook(_hook_raising_at(2))
    _start_in_a_slot(trainer, slots)
    _assert_ended_cleanly(trainer, store, slots, "failed")


def _hook_raising_at(call_number):
    calls = [0]

    def hook(module, inputs, output):
        calls[0] += 1
        if calls[0] == call_number:
            raise RuntimeError("discriminator exploded")

    return hook


def test_pause_takes_effect_before_the_next_step_and_stop_from_pause_ends(store, slots):
    paused = threading.Event()
    holder = {}

    def action(call, out):
        if call == 3:
            holder["t"].pause()
            paused.set()

    trainer = _trainer(store, action, epochs=100)
    holder["t"] = trainer
    assert slots.acquire("tab") == 0
    slots.attach("tab", trainer)
    trainer.start()
    assert paused.wait(timeout=60)
    for _ in range(200):
        if trainer.state == "paused":
            break
        trainer.join(timeout=0.05)
    assert trainer.state == "paused" and trainer.model.calls == 3
    assert slots.running() == 1  # a paused run keeps its slot
    trainer.stop()
    assert trainer.join(timeout=60)
    _assert_ended_cleanly(trainer, store, slots, "stopped")
    assert trainer.model.calls == 3


def test_every_terminal_state_is_known():
    assert set(TERMINAL_STATES) == {"finished", "stopped", "failed"}


def test_running_is_true_from_start_until_the_record_is_closed(store):
    # The page decides whether to poll from `running` right after start(): it must not
    # read False while the thread is still opening the run's record.
    trainer = _trainer(store, epochs=1)
    assert not trainer.running
    trainer.start()
    assert trainer.running
    assert trainer.join(timeout=60)
    assert not trainer.running and trainer.ended


def test_a_trainer_that_fails_to_build_frees_its_reserved_slot(slots):
    assert slots.acquire("a") == 0
    with pytest.raises(MemoryError), slots.starting("a"):
        raise MemoryError("no room for the model")
    assert slots.running() == 0
    assert slots.acquire("b") == 0  # the next user is not queued behind a trainer that never came
