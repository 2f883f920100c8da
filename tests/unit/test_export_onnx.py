"""model.onnx: ONNX Runtime gives torch's outputs for the feed-forward, conv and sequence templates."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from builder.compile import compile_model, example_inputs
from builder.export import onnx_bytes
from builder.graph import Architecture

ort = pytest.importorskip("onnxruntime", reason="onnxruntime is in requirements-dev.txt")

TEMPLATES = Path(__file__).resolve().parents[2] / "assets" / "templates"
FEED_FORWARD_AND_CONV = [
    "mlp_digits",
    "mlp_moons",
    "mlp_sine",
    "lenet5",
    "lenet_digits",
    "resnet_small",
    "inception_block",
    "conv_autoencoder",
]
SEQUENCE = ["lstm_text", "transformer_text"]  # gru_text exports too; it is the slowest


def onnx_matches_torch(stem: str) -> None:
    arch = Architecture.load(TEMPLATES / f"{stem}.json")
    torch.manual_seed(0)
    model = compile_model(arch).eval()
    session = ort.InferenceSession(onnx_bytes(arch, model))
    # A batch size other than the one exported with: the batch axis is dynamic.
    inputs = example_inputs(arch, batch_size=5)
    feed = {i.name: x.numpy() for i, x in zip(session.get_inputs(), inputs, strict=True)}
    with torch.no_grad():
        expected = model(*inputs)
    expected = expected if isinstance(expected, tuple) else (expected,)
    actual = session.run(None, feed)
    assert len(actual) == len(expected)
    for got, want in zip(actual, expected, strict=True):
        assert got.shape == tuple(want.shape)
        np.testing.assert_allclose(got, want.numpy(), rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("stem", FEED_FORWARD_AND_CONV)
def test_onnx_runtime_matches_torch_for_feed_forward_and_conv_templates(stem):
    onnx_matches_torch(stem)


@pytest.mark.slow
@pytest.mark.parametrize("stem", SEQUENCE)
def test_onnx_runtime_matches_torch_for_sequence_templates(stem):
    onnx_matches_torch(stem)


def two_named_outputs() -> Architecture:
    arch = Architecture("Two heads")
    arch.add_node("Input", {"shape": [8]}, id="x")
    for head, width in (("scores", 3), ("embedding", 4)):
        arch.add_node("Linear", {"out_features": width}, id=f"fc_{head}")
        arch.connect("x", f"fc_{head}")
        arch.add_node("Output", id=head)
        arch.connect(f"fc_{head}", head)
    return arch


def test_named_outputs_keep_their_names_in_model_py_and_in_onnx():
    from builder.export import model_source

    arch = two_named_outputs()
    source = model_source(arch)
    assert "    Returns:\n        scores (N, 3)\n        embedding (N, 4)\n" in source
    assert "return fc_scores, fc_embedding" in source  # the same order
    torch.manual_seed(0)
    session = ort.InferenceSession(onnx_bytes(arch, compile_model(arch).eval()))
    assert [o.name for o in session.get_outputs()] == ["scores", "embedding"]
