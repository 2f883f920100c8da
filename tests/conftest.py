"""Shared helpers for the core tests: tiny graphs built in one line."""

from __future__ import annotations

import pytest
import torch

from builder.graph import Architecture


def chain(input_shape, *layers, dtype="float32", name="Test net") -> Architecture:
    """Input -> layers in a line; each layer is a type name or (type, params)."""
    arch = Architecture(name)
    prev = arch.add_node("Input", {"shape": list(input_shape), "dtype": dtype}, id="x")
    for layer in layers:
        type_name, params = (layer, {}) if isinstance(layer, str) else layer
        node = arch.add_node(type_name, params)
        arch.connect(prev, node)
        prev = node
    return arch


def run_forward(model: torch.nn.Module, inputs: list[torch.Tensor]):
    """One forward pass in eval mode without gradients (dropout off, BatchNorm steady)."""
    model.eval()
    with torch.no_grad():
        return model(*inputs)


@pytest.fixture(autouse=True)
def _seeded():
    # Random inputs and initial weights are repeatable from test to test.
    torch.manual_seed(0)


@pytest.fixture
def build_chain():
    """The `chain` helper as a fixture: build_chain((1, 8, 8), "Flatten", ("Linear", {...}))."""
    return chain


@pytest.fixture
def forward():
    """The `run_forward` helper as a fixture."""
    return run_forward


@pytest.fixture(autouse=True)
def _private_home(tmp_path_factory, monkeypatch):
    # Every training records itself in the run store: keep tests out of ~/.layercraft.
    monkeypatch.setenv("LAYERCRAFT_HOME", str(tmp_path_factory.mktemp("home")))
