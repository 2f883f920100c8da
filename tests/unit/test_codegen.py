"""generate_source: one clean, ruff-clean nn.Module; no graph string reaches it unescaped."""

from __future__ import annotations

import ast
import math
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from builder.codegen import attribute_names, class_name_for, generate_source
from builder.compile import compile_model
from builder.errors import BuilderError
from builder.graph import Architecture
from builder.templates import list_templates, load_template
from tests.conftest import chain

RUFF = Path(sys.executable).with_name("ruff")
STEMS = [stem for stem, _, _ in list_templates()]


def test_generated_source_of_every_template_passes_ruff_check_and_format(tmp_path):
    for stem in STEMS:
        (tmp_path / f"{stem}.py").write_text(generate_source(load_template(stem)))
    result = subprocess.run(
        [
            str(RUFF),
            "check",
            "--no-cache",
            "--isolated",
            "--select",
            "E,F,W,I,B,UP,SIM",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    # Already in ruff format's layout: it reads like code a careful person wrote.
    result = subprocess.run(
        [str(RUFF), "format", "--check", "--no-cache", "--isolated", str(tmp_path)],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("stem", STEMS)
def test_generated_source_imports_only_torch(stem):
    tree = ast.parse(generate_source(load_template(stem)))
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            imported.add(node.module.split(".")[0])
    assert imported == {"torch"}
    classes = [n for n in tree.body if isinstance(n, ast.ClassDef)]
    assert len(classes) == 1


def test_lenet5_reads_like_hand_written_code():
    source = generate_source(load_template("lenet5"))
    assert "class LeNet5(nn.Module):" in source
    assert "        self.conv1 = nn.Conv2d(1, 6, 5)\n" in source
    assert "        self.fc1 = nn.Linear(400, 120)\n" in source
    assert "    def forward(self, x):\n        x = self.conv1(x)  # (N, 6, 28, 28)\n" in source
    assert source.rstrip().endswith("return x")


def test_every_forward_line_carries_a_shape_comment():
    source = generate_source(load_template("inception_block"))
    forward = source.split("def forward")[1].splitlines()[1:]
    body = [line for line in forward if line.strip() and not line.strip().startswith("return")]
    assert body and all("  # (N, " in line for line in body)


def test_several_outputs_return_a_tuple():
    arch = Architecture("two heads")
    arch.add_node("Input", {"shape": [4]}, id="x")
    arch.add_node("Linear", {"out_features": 3}, id="cls")
    arch.add_node("Linear", {"out_features": 1}, id="reg")
    arch.connect("x", "cls")
    arch.connect("x", "reg")
    source = generate_source(arch)
    assert "cls = self.cls(x)  # (N, 3)\n" in source
    assert source.endswith("        return cls, reg\n")
    from builder.compile import compile_model

    out = compile_model(arch)(torch.randn(2, 4))
    assert isinstance(out, tuple) and [tuple(t.shape) for t in out] == [(2, 3), (2, 1)]


def test_several_inputs_become_forward_arguments_in_input_order():
    arch = Architecture()
    arch.add_node("Input", {"shape": [4]}, id="image")
    arch.add_node("Input", {"shape": [4]}, id="meta")
    arch.add_node("Add", id="join")
    arch.connect("meta", "join")
    arch.connect("image", "join")
    source = generate_source(arch)
    assert "def forward(self, image, meta):" in source
    assert "x = meta + image" in source


@pytest.mark.parametrize(
    "node_id",
    ["self", "class", "torch", "nn", "train", "forward", "training", "list", "parameters", "to"],
)
def test_reserved_ids_are_renamed_to_safe_attributes(node_id, build_chain):
    arch = build_chain((4,), ("Linear", {"out_features": 2}))
    arch.rename_node("fc1", node_id)
    name = attribute_names(arch)[node_id]
    assert name != node_id and name.isidentifier()
    from builder.compile import compile_model

    model = compile_model(arch)
    assert callable(model.train) and callable(model.forward)  # nothing shadowed


def test_ids_differing_only_in_case_get_distinct_attributes():
    arch = Architecture()
    arch.add_node("Input", {"shape": [4]}, id="x")
    arch.add_node("ReLU", id="Act")
    arch.add_node("ReLU", id="act")
    arch.connect("x", "Act")
    arch.connect("Act", "act")
    names = attribute_names(arch)
    assert len(set(names.values())) == 3


def test_chain_variable_never_overwrites_a_value_read_later(forward):
    arch = Architecture()
    for node_id in ("x", "h", "out"):
        arch.add_node("Input", {"shape": [4]}, id=node_id)
    arch.add_node("Add", id="sum1")
    arch.add_node("ReLU", id="r")
    arch.add_node("Add", id="sum2")
    for src in ("x", "h"):
        arch.connect(src, "sum1")
    arch.connect("sum1", "r")
    arch.connect("r", "sum2")
    arch.connect("out", "sum2")
    assert "def forward(self, x, h, out):" in generate_source(arch)
    from builder.compile import compile_model

    x, h, out = torch.randn(3, 2, 4)
    result = forward(compile_model(arch), [x, h, out])
    assert torch.equal(result, torch.relu(x + h) + out)


def test_input_read_after_the_chain_starts_keeps_its_name(forward):
    arch = Architecture()
    arch.add_node("Input", {"shape": [4]}, id="x")
    arch.add_node("ReLU", id="a")
    arch.add_node("Tanh", id="b")
    arch.add_node("Add", id="skip")
    arch.connect("x", "a")
    arch.connect("a", "b")
    arch.connect("b", "skip")
    arch.connect("x", "skip")
    source = generate_source(arch)
    assert "h = self.a(x)" in source
    from builder.compile import compile_model

    x = torch.randn(2, 4)
    assert torch.equal(forward(compile_model(arch), [x]), torch.tanh(torch.relu(x)) + x)


@pytest.mark.parametrize(
    "name",
    ['"""; import os; """', "a\nb", "LeNet-5", "", "123", "class", "x" * 500, "é ü ∑", "torch.nn"],
)
def test_hostile_graph_names_make_safe_class_names(name, build_chain):
    arch = build_chain((4,), "ReLU")
    arch.name = name
    class_name = class_name_for(arch)
    assert class_name.isidentifier() and class_name[0].isupper()
    tree = ast.parse(generate_source(arch))
    # Whatever the name holds, the module is a docstring, torch imports and one class.
    kinds = [type(node).__name__ for node in tree.body]
    assert kinds[0] == "Expr" and kinds[-1] == "ClassDef"
    assert set(kinds[1:-1]) <= {"Import", "ImportFrom"}
    assert all(isinstance(n, ast.FunctionDef | ast.Expr) for n in tree.body[-1].body)
    assert "import torch\n" not in generate_source(arch)  # unused here, so not imported


def test_generation_is_deterministic():
    arch = load_template("resnet_small")
    assert generate_source(arch) == generate_source(Architecture.from_json(arch.to_json()))


def test_broken_graph_raises_its_error_instead_of_generating(build_chain):
    with pytest.raises(BuilderError, match="Flatten"):
        generate_source(build_chain((3, 4, 4), "Linear"))


def _long_id(prefix: str) -> str:
    return (prefix + "_" + "very_long_layer_name" * 4)[:64]


def test_longest_ids_still_give_ruff_clean_code_for_every_layer(tmp_path):
    from test_layers import CASES, MERGE_CASES

    for i, (type_name, shape, dtype, params) in enumerate(CASES):
        arch = Architecture(f"long ids {i}")
        arch.add_node("Input", {"shape": list(shape), "dtype": dtype}, id=_long_id("input"))
        arch.add_node(type_name, params, id=_long_id(type_name.lower()))
        arch.connect(_long_id("input"), _long_id(type_name.lower()))
        arch.add_node("Identity", id=_long_id("tail"))
        arch.connect(_long_id(type_name.lower()), _long_id("tail"))
        arch.add_node("Identity", id=_long_id("other"))
        arch.connect(_long_id(type_name.lower()), _long_id("other"))
        (tmp_path / f"single_{i}.py").write_text(generate_source(arch))
    for i, (type_name, shapes, params) in enumerate(MERGE_CASES):
        arch = Architecture(f"long merge {i}")
        merge = arch.add_node(type_name, params, id=_long_id("merge"))
        for k, shape in enumerate(shapes * 2 if type_name == "Concat" else shapes * 3):
            source = arch.add_node("Input", {"shape": list(shape)}, id=_long_id(f"in{k}"))
            arch.connect(source, merge)
        (tmp_path / f"merge_{i}.py").write_text(generate_source(arch))
    result = subprocess.run(
        [str(RUFF), "check", "--no-cache", "--isolated", "--select", "E,F,W", str(tmp_path)],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout[-3000:]


def test_sequence_pooling_writes_readable_reductions():
    for reduce, expected in (
        ("mean", ".mean(dim=1)"),
        ("max", ".amax(dim=1)"),
        ("last", ".select(1, -1)"),
    ):
        arch = chain((10, 4), ("SequenceMean", {"reduce": reduce}))
        assert expected in generate_source(arch)


def test_sinusoidal_positions_bring_their_helper_once_and_train_nothing():
    fixed = ("PositionalEmbedding", {"max_len": 6, "encoding": "sinusoidal"})
    arch = chain((6, 4), fixed, fixed)
    source = generate_source(arch)
    assert source.count("def sinusoidal_positions(") == 1
    assert source.count("nn.Buffer(sinusoidal_positions(6, 4))") == 2
    model = compile_model(arch)
    assert not list(model.parameters())
    table = model.state_dict()["pos1"][0]  # a saved buffer: the export reloads it
    position, i = 3, 1  # sin at even features, cos at odd, frequency 10000^(-2i/dim)
    assert table[position, 2 * i].item() == pytest.approx(math.sin(position / 10000 ** (2 * i / 4)))
    assert table[position, 2 * i + 1].item() == pytest.approx(
        math.cos(position / 10000 ** (2 * i / 4))
    )
    learned = chain((6, 4), ("PositionalEmbedding", {"max_len": 6}))
    assert "sinusoidal_positions" not in generate_source(learned)


def test_default_dropout_and_upsample_options_are_written_out():
    source = generate_source(chain([1, 8, 8], "Dropout", ("Upsample", {"mode": "bilinear"})))
    assert "nn.Dropout(p=0.5)" in source  # p is not hidden behind the default
    assert 'mode="bilinear"' in source and "mode='" not in source


def test_exported_requirements_name_the_torch_that_has_nn_buffer():
    from builder.export import render_bundle

    files, _notes = render_bundle(load_template("transformer_text"), onnx=False)
    text, code = files["requirements.txt"].decode(), files["model.py"].decode()
    assert "nn.Buffer" in code  # the sinusoidal position table
    assert "torch>=2.5" in text.splitlines()  # nn.Buffer came in torch 2.5
