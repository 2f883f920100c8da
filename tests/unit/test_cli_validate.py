"""python -m builder validate / export, as a user runs them."""

from __future__ import annotations

import json
import subprocess
import sys


def _run(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "builder", *args], capture_output=True, text=True, cwd=cwd)


def test_validate_lenet_reports_61706_parameters():
    result = _run("validate", "assets/templates/lenet5.json")
    assert result.returncode == 0
    assert "LeNet-5: 61,706 parameters" in result.stdout
    assert "conv1     Conv2d     (6, 28, 28)      156" in result.stdout


def test_validate_bad_graph_exits_1_with_message_not_traceback(tmp_path):
    graph = {
        "format": "layercraft",
        "version": 1,
        "nodes": [{"id": "x", "type": "Input", "params": {"shape": [16, 5, 5]}}, {"id": "fc1", "type": "Linear", "params": {}}],
        "edges": [{"source": "x", "target": "fc1"}],
    }
    path = tmp_path / "g.json"
    path.write_text(json.dumps(graph))
    result = _run("validate", str(path))
    assert result.returncode == 1
    assert "fc1: expects a flat input but gets (16, 5, 5). Insert Flatten before it." in result.stderr
    assert "Traceback" not in result.stderr


def test_validate_unreadable_file_names_it(tmp_path):
    result = _run("validate", str(tmp_path / "nope.json"))
    assert result.returncode == 1 and "nope.json" in result.stderr and "Traceback" not in result.stderr


def test_export_writes_model_and_graph(tmp_path):
    result = _run("export", "assets/templates/mlp_digits.json", "-o", str(tmp_path / "out"))
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "out" / "model.py").read_text().startswith('"""MLP digits')
    assert json.loads((tmp_path / "out" / "graph.json").read_text())["name"] == "MLP digits"
