"""Explanations: Captum attributions (images, tokens) and permutation importance (features)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from builder.compile import compile_model
from builder.data import load_dataset
from builder.data.dataset import Dataset
from builder.errors import BuilderError
from builder.explain import (
    integrated_gradients,
    permutation_importance,
    saliency,
    token_attributions,
)
from builder.templates import load_template
from builder.training import TrainConfig, Trainer
from tests.conftest import chain


@pytest.fixture(scope="module")
def lenet_on_digits():
    digits = load_dataset("digits", seed=0)
    trainer = Trainer(load_template("lenet_digits"), digits, TrainConfig(epochs=2, device="cpu"))
    trainer.run()
    return trainer.model.cpu().eval(), digits


def test_integrated_gradients_on_digits_satisfy_completeness_within_one_percent(lenet_on_digits):
    model, digits = lenet_on_digits
    x = digits.x_val[:16]
    result = integrated_gradients(model, x)
    with torch.no_grad():
        gap = (model(x) - model(torch.zeros_like(x)))[range(16), result.targets].numpy()
    total = result.values.reshape(16, -1).sum(axis=1)
    assert np.all(np.abs(total - gap) <= 0.01 * np.abs(gap))


def test_saliency_is_one_non_negative_value_per_pixel_for_the_predicted_class(lenet_on_digits):
    model, digits = lenet_on_digits
    result = saliency(model, digits.x_val[:4])
    assert result.values.shape == (4, 1, 8, 8) and (result.values >= 0).all()
    with torch.no_grad():
        assert result.targets == model(digits.x_val[:4]).argmax(1).tolist()


def test_gradient_attributions_refuse_token_ids():
    with pytest.raises(BuilderError, match="token"):
        saliency(compile_model(load_template("lstm_text")), torch.zeros(2, 32, dtype=torch.long))


def test_token_attributions_give_one_value_per_token_and_add_up():
    arch = load_template("lstm_text")
    model = compile_model(arch).eval()
    x = torch.randint(1, 500, (2, 32))
    result = token_attributions(model, arch, x, target=1)
    assert result.values.shape == (2, 32)
    with torch.no_grad():
        gap = (model(x) - model(torch.zeros_like(x)))[:, 1].numpy()
    assert np.allclose(result.values.sum(axis=1), gap, atol=0.01 * np.abs(gap).max() + 1e-4)


def test_permutation_importance_ranks_the_only_informative_feature_first():
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(600, 3, generator=generator)
    y = (x[:, 1] > 0).long()  # only feature 1 decides the class
    data = Dataset("toy", x[:500], y[:500], x[500:], y[500:], (3,), "float32", "classification",
                   class_names=["no", "yes"])  # fmt: skip
    arch = chain((3,), ("Linear", {"out_features": 16}), "ReLU", ("Linear", {"out_features": 2}))
    trainer = Trainer(arch, data, TrainConfig(epochs=15, lr=1e-2, device="cpu"))
    trainer.run()
    result = permutation_importance(trainer.model, data)
    assert int(np.argmax(result["importances_mean"])) == 1
    assert result["importances_mean"][1] > 0.3


def test_permutation_importance_refuses_images(lenet_on_digits):
    model, digits = lenet_on_digits
    with pytest.raises(BuilderError, match="feature vectors"):
        permutation_importance(model, digits)
