"""Training a graph whose loss is made of parts: a VAE's reconstruction plus its KL term."""

import pytest
import torch
from torch import nn

from builder.compile import compile_model
from builder.data import load_dataset
from builder.graph import Architecture
from builder.training import TrainConfig, Trainer


def small_vae() -> Architecture:
    arch = Architecture("digits VAE")
    arch.add_node("Input", {"shape": [1, 8, 8]}, id="x")
    layers = [
        ("Flatten", {}, "flat", ["x"]),
        ("Linear", {"out_features": 32}, "fc1", ["flat"]),
        ("ReLU", {}, "relu1", ["fc1"]),
        ("Linear", {"out_features": 4}, "fc_mu", ["relu1"]),
        ("Linear", {"out_features": 4}, "fc_logvar", ["relu1"]),
        ("Reparameterize", {}, "z", ["fc_mu", "fc_logvar"]),
        ("Linear", {"out_features": 64}, "fc2", ["z"]),
        ("Sigmoid", {}, "sigmoid", ["fc2"]),
        ("Unflatten", {"unflattened_size": [1, 8, 8]}, "image", ["sigmoid"]),
        ("Output", {}, "recon", ["image"]),
        ("Output", {}, "mu", ["fc_mu"]),
        ("Output", {}, "logvar", ["fc_logvar"]),
    ]
    for type_name, params, node, sources in layers:
        arch.add_node(type_name, params, id=node)
        for src in sources:
            arch.connect(src, node)
    return arch


@pytest.mark.slow
def test_vae_trains_on_reconstruction_plus_kl():
    torch.manual_seed(0)
    data = load_dataset("digits", task="reconstruction")
    arch = small_vae()
    model = compile_model(arch)
    config = TrainConfig(epochs=1, batch_size=128, lr=3e-3, device="cpu", kl_weight=0.5)
    summary = Trainer(arch, data, config, model=model).run()
    assert summary["state"] == "finished", summary
    model.eval()
    with torch.no_grad():
        recon, mu, logvar = model(data.x_val)
        mse = nn.functional.mse_loss(recon, data.y_val)
        kl = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp()) / len(mu)
    # The reported validation loss is the sum of its parts (one batch: the set is small).
    assert abs(summary["val_loss"] - float(mse + 0.5 * kl)) < 1e-4
    assert float(kl) > 0


def test_adadelta_is_an_optimizer_choice():
    from builder.training import OPTIMIZERS, make_optimizer

    assert "adadelta" in OPTIMIZERS
    optimizer = make_optimizer(
        TrainConfig(optimizer="adadelta", lr=1.0), [nn.Parameter(torch.ones(2))]
    )
    assert isinstance(optimizer, torch.optim.Adadelta)
