"""The trainer: optimizers, schedules, early stopping, seeds, events and per-layer stats."""

import math

import pytest
import torch
from torch import nn

from builder.data import load_dataset, split_and_standardise
from builder.errors import BuilderError
from builder.graph import Architecture
from builder.training import OPTIMIZERS, SCHEDULES, TrainConfig, Trainer

TEMPLATES = "assets/templates"


def mlp(inputs=2, outputs=2, hidden=32):
    return nn.Sequential(nn.Linear(inputs, hidden), nn.ReLU(), nn.Linear(hidden, outputs))


def initial_val_loss(model, ds):
    with torch.no_grad():
        return float(nn.functional.cross_entropy(model(ds.x_val), ds.y_val))


@pytest.fixture(scope="module")
def moons():
    return load_dataset("moons", n_samples=400, noise=0.15)


@pytest.mark.parametrize("optimizer", OPTIMIZERS)
def test_every_optimizer_lowers_the_loss(moons, optimizer):
    torch.manual_seed(0)
    model = mlp()
    start = initial_val_loss(model, moons)
    lr = {"sgd": 0.1, "momentum": 0.05, "nesterov": 0.05, "adagrad": 0.05, "adadelta": 1.0}.get(
        optimizer, 0.01
    )
    config = TrainConfig(epochs=4, batch_size=32, optimizer=optimizer, lr=lr, device="cpu")
    summary = Trainer(None, moons, config, model=model).run()
    assert summary["state"] == "finished"
    assert summary["val_loss"] < 0.8 * start


@pytest.mark.parametrize("schedule", SCHEDULES)
def test_every_schedule_lowers_the_loss(moons, schedule):
    model = mlp()
    start = initial_val_loss(model, moons)
    config = TrainConfig(
        epochs=4, batch_size=32, lr=0.01, schedule=schedule, step_size=2, log_every=1, device="cpu"
    )
    trainer = Trainer(None, moons, config, model=model)
    summary = trainer.run()
    assert summary["val_loss"] < 0.8 * start
    lrs = [e["lr"] for e in trainer.events_since(0)[0] if e["kind"] == "step"]
    if schedule == "step":
        assert lrs[0] == pytest.approx(0.01) and lrs[-1] == pytest.approx(0.001)
    if schedule == "cosine":
        assert lrs[-1] < lrs[0]
    if schedule == "onecycle":
        assert max(lrs) > lrs[0] and max(lrs) > lrs[-1]
    if schedule == "none":
        assert set(lrs) == {0.01}


def test_plateau_schedule_lowers_the_lr_when_val_loss_stalls():
    ds = _contradicting_validation_set()
    config = TrainConfig(epochs=6, lr=0.01, schedule="plateau", gamma=0.5, device="cpu")
    trainer = Trainer(None, ds, config, model=mlp())
    trainer.run()
    epochs = [e for e in trainer.events_since(0)[0] if e["kind"] == "epoch"]
    assert epochs[-1]["lr"] < 0.01


def _contradicting_validation_set():
    """A set whose validation labels are the opposite of the training rule: val loss only rises."""
    x = torch.randn(300, 2).numpy()
    y = (x[:, 0] > 0).astype("int64")
    ds = split_and_standardise("contra", x, y, task="classification", class_names=["0", "1"])
    ds.y_val = 1 - ds.y_val
    return ds


def test_early_stopping_stops_and_restores_the_best_weights():
    ds = _contradicting_validation_set()
    config = TrainConfig(epochs=30, lr=0.01, early_stopping_patience=2, device="cpu")
    trainer = Trainer(None, ds, config, model=mlp())
    summary = trainer.run()
    assert summary["state"] == "finished"
    assert trainer.epochs_done == trainer.best_epoch + 2 < 30
    for name, value in trainer.model.state_dict().items():
        assert torch.equal(value, trainer.best_state[name])
    messages = [e["message"] for e in trainer.events_since(0)[0] if e["kind"] == "status"]
    assert any("early stopping" in m for m in messages)


def test_same_seed_repeats_a_run_exactly(moons):
    runs = []
    for _ in range(2):
        torch.manual_seed(1)
        model = mlp()
        Trainer(None, moons, TrainConfig(epochs=2, seed=5, device="cpu"), model=model).run()
        runs.append(model.state_dict())
    for name in runs[0]:
        assert torch.equal(runs[0][name], runs[1][name])


def test_events_follow_the_design_contract_and_any_number_of_readers_see_them(moons):
    trainer = Trainer(None, moons, TrainConfig(epochs=2, log_every=3, device="cpu"), model=mlp())
    trainer.run()
    first, cursor = trainer.events_since(0)
    second, _ = trainer.events_since(0)
    assert first == second and cursor == len(first)
    assert trainer.events_since(cursor) == ([], cursor)
    kinds = {e["kind"] for e in first}
    assert kinds == {"status", "step", "epoch"}
    for event in first:
        assert {"run", "kind", "epoch", "step", "time"} <= set(event)
    step = next(e for e in first if e["kind"] == "step")
    assert {"split", "loss", "accuracy", "lr", "samples_per_s"} <= set(step)
    splits = [e["split"] for e in first if e["kind"] == "epoch"]
    assert splits == ["train", "val", "train", "val"]


def test_train_loss_in_epoch_event_is_the_sample_weighted_mean(moons):
    # 320 samples in batches of 100: the last batch of 20 must weigh less than the others.
    trainer = Trainer(
        None, moons, TrainConfig(epochs=1, batch_size=100, lr=1e-9, device="cpu"), model=mlp()
    )
    trainer.run()
    model = trainer.model
    with torch.no_grad():
        expected = float(nn.functional.cross_entropy(model(moons.x_train), moons.y_train))
    assert trainer.history["train_loss"][0] == pytest.approx(expected, rel=1e-3)


def test_layer_stats_are_keyed_by_node_id_with_dead_relu_fraction():
    arch = Architecture.load(f"{TEMPLATES}/mlp_digits.json")
    ds = load_dataset("digits", n_samples=300)
    trainer = Trainer(arch, ds, TrainConfig(epochs=1, stats_every=2, device="cpu"))
    trainer.run()
    stats = trainer.layer_stats
    linear = [n for n in arch.node_ids if arch.type_of(n) == "Linear"]
    relu = [n for n in arch.node_ids if arch.type_of(n) == "ReLU"]
    for node in linear:
        assert stats[node]["grad_norm"] > 0 and stats[node]["weight_norm"] > 0
        assert 0 < stats[node]["update_ratio"] < 1
    for node in relu:
        assert 0.0 <= stats[node]["dead_fraction"] <= 1.0
        assert stats[node]["act_mean"] >= 0


def test_binary_single_logit_model_trains_with_bce(moons):
    trainer = Trainer(
        None, moons, TrainConfig(epochs=3, lr=0.01, device="cpu"), model=mlp(outputs=1)
    )
    summary = trainer.run()
    assert summary["state"] == "finished" and summary["val_accuracy"] > 0.8


def test_l1_penalty_shrinks_the_weights(moons):
    norms = []
    for l1 in (0.0, 0.01):
        torch.manual_seed(0)
        model = mlp()
        Trainer(None, moons, TrainConfig(epochs=3, lr=0.01, l1=l1, device="cpu"), model=model).run()
        norms.append(sum(p.abs().sum() for p in model.parameters() if p.dim() > 1))
    assert norms[1] < 0.8 * norms[0]


def test_unknown_setting_is_a_builder_error_naming_the_field():
    with pytest.raises(BuilderError) as info:
        TrainConfig.from_dict({"epochs": 3, "learning_rate": 0.1})
    assert info.value.field == "learning_rate"
    with pytest.raises(BuilderError, match="unknown optimizer"):
        TrainConfig.from_dict({"optimizer": "lion"})


def test_config_round_trips_through_a_dict():
    config = TrainConfig(epochs=3, optimizer="nesterov", schedule="cosine", l1=1e-4)
    assert TrainConfig.from_dict(config.to_dict()) == config


def test_regression_loss_rejects_class_labels(moons):
    trainer = Trainer(None, moons, TrainConfig(epochs=1, loss="mse", device="cpu"), model=mlp())
    summary = trainer.run()
    assert summary["state"] == "failed" and "for regression" in summary["message"]


@pytest.mark.slow
def test_small_mlp_on_moons_reaches_95_percent():
    arch = Architecture.load(f"{TEMPLATES}/mlp_moons.json")
    trainer = Trainer(arch, load_dataset("moons"), TrainConfig(epochs=30, lr=0.01, device="cpu"))
    assert trainer.run()["val_accuracy"] >= 0.95


@pytest.mark.slow
def test_sine_regression_ends_well_below_the_target_variance():
    arch = Architecture.load(f"{TEMPLATES}/mlp_sine.json")
    trainer = Trainer(arch, load_dataset("sine"), TrainConfig(epochs=60, lr=0.01, device="cpu"))
    summary = trainer.run()
    assert summary["val_loss"] < 0.1 * summary["target_variance"]


@pytest.mark.slow
def test_denoising_autoencoder_halves_its_reconstruction_loss():
    ds = load_dataset("digits", task="reconstruction", noise=0.2)
    model = nn.Sequential(
        nn.Flatten(),
        nn.Linear(64, 32),
        nn.ReLU(),
        nn.Linear(32, 64),
        nn.Sigmoid(),
        nn.Unflatten(1, (1, 8, 8)),
    )
    trainer = Trainer(None, ds, TrainConfig(epochs=15, lr=3e-3, device="cpu"), model=model)
    trainer.run()
    assert trainer.history["val_loss"][-1] < 0.5 * trainer.history["val_loss"][0]


def test_augmentation_settings_change_training_batches_only():
    from builder.data import load_dataset
    from builder.templates import load_template
    from builder.training import TrainConfig, Trainer

    arch = load_template("mlp_digits")
    data = load_dataset("digits", n_samples=256)
    config = TrainConfig(epochs=1, batch_size=64, device="cpu", augment_shift=1, augment_noise=0.1)
    trainer = Trainer(arch, data, config)
    assert trainer.augment_config().enabled
    trainer.run()
    assert trainer.state == "finished"
    epoch_events = [e for e in trainer.events_since(0)[0] if e["kind"] == "epoch"]
    assert epoch_events and all(math.isfinite(e["loss"]) for e in epoch_events)


def test_validation_keeps_its_predictions_for_the_live_view(moons):
    # Every sample's predicted class from the epoch's own validation pass, and the first
    # raw outputs: the dashboard draws its live confusion matrix from them.
    torch.manual_seed(0)
    model = mlp()
    trainer = Trainer(None, moons, TrainConfig(epochs=2, batch_size=32, device="cpu"), model=model)
    trainer.run()
    picks = trainer.validation_picks
    assert picks.epoch == 2
    model.eval()
    with torch.no_grad():
        out = model(moons.x_val)
    assert trainer.best_epoch == 2  # so the weights kept are the ones validated last
    assert torch.equal(picks.predicted, out.argmax(dim=1))
    torch.testing.assert_close(picks.first_outputs, out[:12])
    assert picks.predicted.shape == (moons.n_val,) and picks.first_outputs.shape == (12, 2)
    accuracy = (picks.predicted == moons.y_val).float().mean().item()
    assert accuracy == pytest.approx(trainer.history["val_accuracy"][-1])
