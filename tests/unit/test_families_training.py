"""Each family's template trains on its built-in data to the level the issue asks for."""

import pytest

from builder.data import load_dataset
from builder.templates import load_template
from builder.training import TrainConfig, Trainer

pytestmark = pytest.mark.slow


def _val_losses(trainer: Trainer) -> list[float]:
    events, _ = trainer.events_since(0)
    return [e["loss"] for e in events if e["kind"] == "epoch" and e.get("split") == "val"]


def test_autoencoder_val_reconstruction_loss_falls_by_half_from_its_first_epoch():
    data = load_dataset("digits", task="reconstruction")
    trainer = Trainer(load_template("conv_autoencoder"), data, TrainConfig(epochs=8, device="cpu"))
    summary = trainer.run()
    assert summary["state"] == "finished"
    losses = _val_losses(trainer)
    assert len(losses) == 8
    assert losses[-1] <= 0.5 * losses[0]


def test_denoising_autoencoder_learns_to_rebuild_clean_digits_from_noisy_ones():
    data = load_dataset("digits", task="reconstruction", noise=0.2)
    trainer = Trainer(load_template("conv_autoencoder"), data, TrainConfig(epochs=8, device="cpu"))
    trainer.run()
    losses = _val_losses(trainer)
    assert losses[-1] <= 0.5 * losses[0]


def test_lenet_style_cnn_reaches_97_percent_on_digits():
    data = load_dataset("digits")
    trainer = Trainer(load_template("lenet_digits"), data, TrainConfig(epochs=12, device="cpu"))
    assert trainer.run()["best_val_accuracy"] >= 0.97
