"""compile_model: the generated string, exec'd fresh, is the module that trains and exports."""

from __future__ import annotations

import subprocess
import sys
import traceback

import pytest
import torch

from builder.codegen import generate_source
from builder.compile import compile_model, compile_source, example_inputs
from builder.templates import load_template


def test_compiled_model_carries_exactly_the_generated_source():
    arch = load_template("lenet5")
    model = compile_model(arch)
    assert model.layercraft_source == generate_source(arch)
    assert type(model).__name__ == "LeNet5"


def test_compiled_class_lives_in_a_fresh_namespace():
    model = compile_model(load_template("mlp_digits"))
    namespace = type(model).forward.__globals__
    assert not any(name.startswith("builder") for name in namespace)
    assert {"nn"} <= set(namespace) and "Architecture" not in namespace


def test_traceback_shows_the_generated_line():
    model = compile_model(load_template("lenet5"))
    try:
        model(torch.randn(2, 1, 28, 28))  # too small for the second convolution chain
    except RuntimeError:
        text = traceback.format_exc()
    else:
        pytest.fail("a 28x28 input should not fit LeNet-5's 400-wide fc1")
    assert "<layercraft:LeNet5:" in text
    assert "x = self.fc1(x)  # (N, 120)" in text


def test_compile_source_returns_the_named_class():
    cls = compile_source("from torch import nn\n\nclass Tiny(nn.Module):\n    pass\n", "Tiny")
    assert issubclass(cls, torch.nn.Module)


def test_example_inputs_match_input_dtypes_and_vocab():
    arch = load_template("lstm_text")
    (tokens,) = example_inputs(arch, batch_size=5)
    assert tokens.dtype == torch.int64 and tokens.shape == (5, 32)
    assert int(tokens.max()) < 500


STANDALONE = """
import importlib.util, sys
import torch
for case in sys.argv[1:]:
    spec = importlib.util.spec_from_file_location("model", f"{case}/model.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    model = getattr(module, open(f"{case}/class.txt").read())()
    model.load_state_dict(torch.load(f"{case}/weights.pt", weights_only=True))
    model.eval()
    inputs = torch.load(f"{case}/inputs.pt", weights_only=True)
    with torch.no_grad():
        torch.save(model(*inputs), f"{case}/out.pt")
assert not any(name == "builder" or name.startswith("builder.") for name in sys.modules)
"""
STANDALONE_STEMS = ["lenet5", "resnet_small", "inception_block", "transformer_text", "gru_text"]


def test_exported_source_runs_without_builder_and_matches_compiled(tmp_path, forward):
    expected = {}
    for stem in STANDALONE_STEMS:
        arch = load_template(stem)
        model = compile_model(arch)
        inputs = example_inputs(arch, batch_size=3)
        expected[stem] = forward(model, inputs)
        case = tmp_path / stem
        case.mkdir()
        (case / "model.py").write_text(model.layercraft_source)
        (case / "class.txt").write_text(type(model).__name__)
        torch.save(model.state_dict(), case / "weights.pt")
        torch.save(inputs, case / "inputs.pt")
    # -I: isolated mode, so neither the project folder nor PYTHONPATH is importable.
    cases = [str(tmp_path / stem) for stem in STANDALONE_STEMS]
    subprocess.run([sys.executable, "-I", "-c", STANDALONE, *cases], check=True, cwd=tmp_path)
    for stem in STANDALONE_STEMS:
        out = torch.load(tmp_path / stem / "out.pt", weights_only=True)
        assert torch.allclose(out, expected[stem], atol=1e-6), stem
