"""The live confusion matrix while a classifier trains: drawn from the trainer's own last
validation pass, with no model run of the page's; after training, from the final model."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
import torch

from builder.data import load_dataset
from builder.training.parts import ValidationPicks
from components import live_predictions, predictions


@pytest.fixture(scope="module")
def digits():
    return load_dataset("digits")


def no_model_run(*_args, **_kwargs):
    raise AssertionError("the live view ran the model while it trains")


def test_while_training_the_view_is_the_last_validation_pass(digits, monkeypatch):
    monkeypatch.setattr(predictions, "snapshot", no_model_run)
    predicted = torch.arange(digits.n_val) % 10
    outputs = torch.eye(10)[predicted[:12]] * 5
    picks = ValidationPicks(3, predicted, outputs)
    trainer = SimpleNamespace(running=True, dataset=digits, validation_picks=picks)

    view = live_predictions._compute_view(trainer, {})

    truth = digits.y_val.numpy()
    expected = predictions.confusion_matrix(truth, predicted.numpy(), 10)
    assert np.array_equal(view["confusion"], expected) and view["epoch"] == 3
    shown, confidence = view["samples"]
    assert list(shown) == list(predicted[:12].numpy()) and confidence.min() > 0.9
    # A poll with no new epoch keeps the very same view, so its figures are not rebuilt.
    assert live_predictions._compute_view(trainer, view) is view
    later = SimpleNamespace(
        running=True, dataset=digits, validation_picks=ValidationPicks(4, predicted, outputs)
    )
    assert live_predictions._compute_view(later, view) is not view


def test_before_the_first_validation_it_waits_and_after_training_it_runs_the_final_model(
    digits, monkeypatch
):
    monkeypatch.setattr(predictions, "snapshot", no_model_run)
    waiting = SimpleNamespace(running=True, dataset=digits, validation_picks=None)
    assert live_predictions._compute_view(waiting, {}) == {"waiting": True}

    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(64, 10))
    monkeypatch.setattr(predictions, "snapshot", lambda m: m.eval())
    done = SimpleNamespace(running=False, dataset=digits, validation_picks=None, model=model)
    view = live_predictions._compute_view(done, {})
    with torch.no_grad():
        final = model(digits.x_val).argmax(dim=1).numpy()
    assert np.array_equal(
        view["confusion"], predictions.confusion_matrix(digits.y_val.numpy(), final, 10)
    )


def test_the_live_curves_put_loss_left_and_accuracy_right_on_a_frame_built_once():
    from components.train_curves import _curves_layout, curves_figure

    curves = {
        "step_x": [0.5],
        "step_loss": [1.0],
        "step_acc": [0.5],
        "epochs": {"train": {1: (0.9, 0.6)}, "val": {1: (0.8, 0.7)}},
    }
    fig = curves_figure(curves, classification=True)
    axes = {t.name: (t.xaxis or "x", t.yaxis or "y") for t in fig.data}
    assert axes["val loss"] == ("x", "y") and axes["val accuracy"] == ("x2", "y2")
    assert [a.text for a in fig.layout.annotations] == ["Loss", "Accuracy"]
    assert list(fig.layout.yaxis2.range) == [0, 1.02]
    fig.layout.title = "changed"  # a figure's own layout is a copy: the frame stays clean
    assert "title" not in _curves_layout(True) or not _curves_layout(True)["title"]
    assert len(curves_figure(curves, classification=False).data) == 3
