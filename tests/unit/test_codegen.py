"""Generated source: readable, ruff-clean, runnable without builder, and the exact code that runs."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch

from builder.codegen import attribute_names, class_name_for, generate_source
from builder.compile import compile_model, example_inputs
from builder.graph import Architecture
from builder.templates import list_templates, load_template
from tests.conftest import chain

TEMPLATES = [stem for stem, _, _ in list_templates()]
RUFF = Path(sys.executable).with_name("ruff")


@pytest.mark.parametrize("stem", TEMPLATES)
def test_generated_source_passes_ruff(stem, tmp_path):
    path = tmp_path / "model.py"
    path.write_text(generate_source(load_template(stem)))
    result = subprocess.run([RUFF, "check", "--no-cache", "--isolated", "--select", "E,F,W,I,B,UP", str(path)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout


def test_lenet_source_reads_like_hand_written_code(lenet_arch):
    source = generate_source(lenet_arch)
    assert "class LeNet5(nn.Module):" in source
    assert "self.conv1 = nn.Conv2d(1, 6, 5)" in source
    assert "x = self.pool1(x)  # (N, 6, 14, 14)" in source
    assert source.rstrip().endswith("return x")
    assert "import builder" not in source and "layercraft" not in source.split('"""')[2]


def test_skip_connection_keeps_branch_variables():
    source = generate_source(load_template("resnet_small"))
    assert "b1_add = b1_bn2 + stem_relu" in source.replace("h = b1_bn2", "b1_add = b1_bn2") or "+ stem_relu" in source


def test_several_outputs_return_a_tuple():
    arch = chain((4,), [("Linear", {"out_features": 3})])
    arch.add_node("Linear", {"out_features": 5}, id="head2")
    arch.connect("x", "head2")
    out = compile_model(arch)(*example_inputs(arch))
    assert isinstance(out, tuple) and [o.shape[1] for o in out] == [3, 5]


def test_exported_model_runs_with_only_torch_and_matches_compiled(tmp_path, lenet_arch):
    model = compile_model(lenet_arch).eval()
    (tmp_path / "model.py").write_text(model.layercraft_source)
    torch.save(model.state_dict(), tmp_path / "weights.pt")
    x = torch.randn(4, 1, 32, 32)
    torch.save(x, tmp_path / "x.pt")
    expected = model(x)
    script = textwrap.dedent(
        """
        import sys, torch
        sys.modules["builder"] = None  # the exported file must not need LayerCraft
        from model import LeNet5
        m = LeNet5().eval()
        m.load_state_dict(torch.load("weights.pt"))
        torch.save(m(torch.load("x.pt")), "y.pt")
        """
    )
    subprocess.run([sys.executable, "-c", script], cwd=tmp_path, check=True)
    assert torch.equal(torch.load(tmp_path / "y.pt"), expected)


def test_compiled_model_carries_the_exact_generated_source(lenet_arch):
    assert compile_model(lenet_arch).layercraft_source == generate_source(lenet_arch)


def test_traceback_shows_generated_line():
    arch = chain((4,), [("Linear", {"out_features": 3})])
    model = compile_model(arch)
    try:
        model(torch.randn(2, 5))
    except RuntimeError:
        import traceback

        assert "self.fc1(x)" in traceback.format_exc()


def test_hostile_names_never_reach_code_unescaped():
    arch = Architecture('Evil"""; import os; os.system("x") #')
    arch.add_node("Input", {"shape": [2]}, id="class")
    arch.insert_after("class", "Linear", {"out_features": 2})
    source = generate_source(arch)
    assert "os.system" not in source and "import os" not in source
    assert class_name_for(arch).isidentifier()
    compile_model(arch)  # the renamed attribute `class_` compiles


def test_attribute_names_avoid_python_and_torch_names():
    arch = Architecture()
    for node_id in ("self", "torch", "nn", "print", "Conv"):
        arch.add_node("Identity", id=node_id)
    names = attribute_names(arch)
    assert len(set(names.values())) == 5
    assert all(n.isidentifier() and n not in {"self", "torch", "nn", "print"} for n in names.values())
