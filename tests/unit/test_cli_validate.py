"""python -m builder validate / export: tables, totals, exit codes, no tracebacks."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from builder.cli import main
from builder.templates import TEMPLATE_DIR

LENET = str(TEMPLATE_DIR / "lenet5.json")


def test_validate_lenet5_reports_61706_parameters(capsys):
    assert main(["validate", LENET]) == 0
    out = capsys.readouterr().out
    assert "LeNet-5: 61,706 parameters" in out
    assert "conv1     Conv2d     (6, 28, 28)      156  117,600" in out
    header = out.splitlines()[0].split()
    assert header == ["node", "type", "output", "shape", "params", "MACs"]


def test_validate_as_a_module_exits_0_with_the_table():
    result = subprocess.run(
        [sys.executable, "-m", "builder", "validate", LENET], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    assert "61,706" in result.stdout and result.stderr == ""


def _write(tmp_path, data) -> str:
    path = tmp_path / "graph.json"
    path.write_text(data if isinstance(data, str) else json.dumps(data))
    return str(path)


def test_validate_bad_graph_exits_1_with_the_node_and_fix(tmp_path, capsys):
    graph = {
        "format": "layercraft",
        "version": 1,
        "nodes": [
            {"id": "x", "type": "Input", "params": {"shape": [16, 5, 5]}},
            {"id": "fc1", "type": "Linear", "params": {"out_features": 10}},
        ],
        "edges": [{"source": "x", "target": "fc1"}],
    }
    assert main(["validate", _write(tmp_path, graph)]) == 1
    captured = capsys.readouterr()
    assert (
        "fc1: expects a flat input but gets (16, 5, 5). Insert Flatten before fc1." in captured.err
    )
    assert any(
        line.split() == ["fc1", "Linear", "error", "0", "0"] for line in captured.out.splitlines()
    )
    assert "Traceback" not in captured.err


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{broken", "not valid JSON"),
        ('{"format": "layercraft", "version": 1, "nodes": [], "edges": [], "x": 1}', "unknown key"),
        (
            '{"format": "layercraft", "version": 1, "nodes": [{"id": "a", "type": "Magic"}]}',
            "Magic",
        ),
    ],
)
def test_validate_unreadable_graph_exits_1_naming_the_problem(tmp_path, capsys, content, message):
    assert main(["validate", _write(tmp_path, content)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: ") and message in err and err.count("\n") == 1


def test_validate_missing_file_names_it(tmp_path, capsys):
    assert main(["validate", str(tmp_path / "nope.json")]) == 1
    assert "nope.json: cannot read the file" in capsys.readouterr().err


def test_validate_prints_warnings(tmp_path, capsys):
    graph = {
        "format": "layercraft",
        "version": 1,
        "nodes": [
            {"id": "x", "type": "Input", "params": {"shape": [4]}},
            {"id": "fc1", "type": "Linear"},
            {"id": "probs", "type": "Softmax"},
        ],
        "edges": [{"source": "x", "target": "fc1"}, {"source": "fc1", "target": "probs"}],
    }
    assert main(["validate", _write(tmp_path, graph)]) == 0
    assert "warning: probs: Softmax as the last layer" in capsys.readouterr().out


def test_export_writes_model_and_graph(tmp_path, capsys):
    out = tmp_path / "bundle"
    assert main(["export", LENET, "-o", str(out), "--no-onnx"]) == 0
    assert (out / "model.py").read_text().count("class LeNet5(nn.Module)") == 1
    assert json.loads((out / "graph.json").read_text())["name"] == "LeNet-5"


def test_export_with_unreadable_weights_exits_1(tmp_path, capsys):
    weights = tmp_path / "w.safetensors"
    weights.write_bytes(b"not weights")
    assert main(["export", LENET, "-o", str(tmp_path / "b"), "--weights", str(weights)]) == 1
    assert "w.safetensors" in capsys.readouterr().err


def test_export_with_weights_writes_the_trained_weights(tmp_path, capsys):
    import torch
    from safetensors.torch import load_file, save_file

    from builder.compile import compile_model
    from builder.graph import Architecture

    model = compile_model(Architecture.load(LENET))
    weights = {k: v.contiguous() for k, v in model.state_dict().items()}
    save_file(weights, tmp_path / "trained.safetensors")
    out = tmp_path / "bundle"
    assert (
        main(
            [
                "export",
                LENET,
                "-o",
                str(out),
                "--weights",
                str(tmp_path / "trained.safetensors"),
                "--no-onnx",
            ]
        )
        == 0
    )
    exported = list(out.glob("*.safetensors"))
    assert exported, capsys.readouterr().out
    written = load_file(exported[0])
    assert all(torch.equal(written[k], weights[k]) for k in weights)
