"""The export bundle: files, exact weights round trip, load_weights errors, untrusted strings."""

from __future__ import annotations

import ast
import io
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
import torch

from builder import cli
from builder.codegen import class_name_for, generate_source
from builder.compile import compile_model, example_inputs
from builder.data.embedded import load_dataset
from builder.errors import BuilderError
from builder.export import (
    bundle_zip,
    load_weights,
    render_train_script,
    train_settings,
    weights_bytes,
    write_bundle,
)
from builder.graph import Architecture
from builder.training import TrainConfig, Trainer

TEMPLATES = Path(__file__).resolve().parents[2] / "assets" / "templates"


def template(stem: str) -> Architecture:
    return Architecture.load(TEMPLATES / f"{stem}.json")


def train_one_epoch(stem: str):
    """A digits template after one real epoch in the app's trainer."""
    arch = template(stem)
    dataset = load_dataset("digits", seed=0)
    config = TrainConfig(epochs=1, batch_size=64, lr=1e-2, device="cpu", seed=1)
    trainer = Trainer(arch, dataset, config)
    trainer.run()
    assert trainer.state == "finished"
    return arch, dataset, config, trainer.model


@pytest.fixture(scope="module")
def trained_digits():
    return train_one_epoch("lenet_digits")  # convolutions, BatchNorm buffers and dropout


def test_bundle_holds_the_exact_trained_source_and_the_graph(tmp_path):
    arch = template("lenet5")
    written = write_bundle(arch, tmp_path, onnx=False)
    names = {p.name for p in written}
    assert {
        "model.py",
        "train.py",
        "graph.json",
        "config.json",
        "requirements.txt",
        "README.md",
    } <= names
    assert (tmp_path / "model.py").read_text() == generate_source(arch)
    reopened = Architecture.from_json((tmp_path / "graph.json").read_text())
    assert reopened.to_json() == arch.to_json()
    assert "weights.safetensors" not in names  # no trained model given


def test_bundle_weights_give_the_trained_modules_outputs_exactly(tmp_path, trained_digits):
    arch, dataset, config, model = trained_digits
    write_bundle(arch, tmp_path, config=config, dataset=dataset, model=model, onnx=False)
    x = dataset.x_val[:64]
    torch.save(x, tmp_path / "x.pt")
    # A fresh, isolated interpreter: only the bundle folder is importable, never builder.
    script = (
        "import sys, torch; sys.path.insert(0, sys.argv[1])\n"
        "from safetensors.torch import load_file\n"
        f"from model import {class_name_for(arch)} as Net\n"
        "net = Net().eval()\n"
        "net.load_state_dict(load_file(sys.argv[1] + '/weights.safetensors'))\n"
        "with torch.no_grad():\n"
        "    torch.save(net(torch.load(sys.argv[1] + '/x.pt')), sys.argv[1] + '/y.pt')\n"
        "assert not any(m == 'builder' or m.startswith('builder.') for m in sys.modules)\n"
    )
    subprocess.run(
        [sys.executable, "-I", "-c", script, str(tmp_path)],
        env={**os.environ, "OMP_NUM_THREADS": "1"},
        check=True,
        timeout=120,
    )
    model.eval()
    with torch.no_grad():
        expected = model(x)
    assert torch.equal(torch.load(tmp_path / "y.pt"), expected)


def test_bundle_zip_holds_the_same_files_as_the_folder(tmp_path):
    arch = template("mlp_moons")
    write_bundle(arch, tmp_path, dataset_name="moons", onnx=False)
    with zipfile.ZipFile(io.BytesIO(bundle_zip(arch, dataset_name="moons", onnx=False))) as z:
        names = z.namelist()
        assert all(n.startswith("mlpmoons/") for n in names)
        for name in names:
            assert z.read(name) == (tmp_path / name.split("/", 1)[1]).read_bytes()


def test_load_weights_round_trips_bytes_and_files(tmp_path, trained_digits):
    arch, _, _, model = trained_digits
    data = weights_bytes(model, arch)
    (tmp_path / "w.safetensors").write_bytes(data)
    for source in (data, tmp_path / "w.safetensors"):
        fresh = load_weights(compile_model(arch), source)
        for name, tensor in model.state_dict().items():
            assert torch.equal(fresh.state_dict()[name], tensor)


def test_load_weights_names_the_tensor_with_the_wrong_shape():
    small = template("mlp_moons")
    wide = Architecture.from_json(small.to_json())
    wide.set_params("fc1", {"out_features": 32})
    with pytest.raises(BuilderError) as caught:
        load_weights(compile_model(small), weights_bytes(compile_model(wide)))
    assert "fc1.weight" in str(caught.value)  # the first tensor that differs
    assert "(32, 2)" in str(caught.value) and "(16, 2)" in str(caught.value)
    assert caught.value.hint


def test_load_weights_names_a_missing_tensor():
    arch = template("mlp_moons")
    tensors = compile_model(arch).state_dict()
    del tensors["fc3.bias"]
    from safetensors.torch import save

    with pytest.raises(BuilderError, match=r"fc3\.bias is missing"):
        load_weights(compile_model(arch), save(dict(tensors)))


def test_load_weights_rejects_a_file_that_is_not_safetensors():
    with pytest.raises(BuilderError) as caught:
        load_weights(compile_model(template("mlp_moons")), b"\x80\x04not a safetensors file")
    assert caught.value.file == "weights.safetensors"


def test_graph_strings_cannot_escape_into_train_script():
    arch = template("mlp_moons")
    arch.name = 'evil"""\nimport os; os.system("echo pwned")\n"""'
    settings = train_settings(arch, data_path="/tmp/x'\n__import__('os').system('id')#.npz")
    source = render_train_script(arch, settings)
    tree = ast.parse(source)
    assignment = next(
        node
        for node in tree.body
        if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", "") == "SETTINGS"
    )
    assert ast.literal_eval(assignment.value) == settings
    calls = [n for n in ast.walk(tree) if isinstance(n, ast.Attribute) and n.attr == "system"]
    assert calls == []
    imports = [n for n in tree.body if isinstance(n, ast.Import | ast.ImportFrom)]
    assert all(not any(a.name == "os" and a.asname for a in n.names) for n in imports)


def test_settings_follow_the_train_config():
    config = TrainConfig(
        epochs=7,
        batch_size=16,
        optimizer="nesterov",
        lr=0.05,
        schedule="onecycle",
        loss="huber",
        clip_grad=1.5,
        early_stopping_patience=3,
        seed=9,
    )
    settings = train_settings(template("mlp_sine"), config, dataset_name="sine")
    assert settings["epochs"] == 7 and settings["batch_size"] == 16
    assert settings["optimizer"] == "nesterov" and settings["schedule"] == "onecycle"
    assert settings["loss"] == "huber" and settings["clip_grad"] == 1.5
    assert settings["early_stopping_patience"] == 3 and settings["seed"] == 9
    assert settings["task"] == "regression" and settings["dataset"] == "sine"


def test_auto_loss_is_bce_for_a_single_logit_classifier():
    arch = template("mlp_moons")
    arch.set_params("fc3", {"out_features": 1})
    assert train_settings(arch, dataset_name="moons")["loss"] == "bce"
    assert train_settings(template("mlp_moons"), dataset_name="moons")["loss"] == "cross_entropy"


def test_unknown_optimizer_is_a_builder_error_naming_the_field():
    with pytest.raises(BuilderError) as caught:
        train_settings(template("mlp_moons"), {"optimizer": "lbfgs"})
    assert caught.value.field == "optimizer"


def test_file_dataset_bundle_asks_for_the_file(tmp_path):
    arch = template("mlp_moons")
    write_bundle(arch, tmp_path, data_path="/home/me/points.npz", onnx=False)
    config = json.loads((tmp_path / "config.json").read_text())
    assert config["dataset"] is None and config["data_file"] == "points.npz"
    assert "--data PATH" in (tmp_path / "README.md").read_text()


def test_missing_onnx_packages_are_explained(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "onnxscript", None)  # makes `import onnxscript` fail
    written = write_bundle(template("mlp_moons"), tmp_path)
    assert "model.onnx" not in {p.name for p in written}
    assert any("pip install onnx onnxscript" in note for note in written.notes)
    assert "pip install onnx onnxscript" in (tmp_path / "README.md").read_text()


def test_unwritable_folder_is_a_builder_error_naming_it(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(BuilderError) as caught:
        write_bundle(template("mlp_moons"), blocker / "bundle", onnx=False)
    assert caught.value.file == str(blocker / "bundle")


def test_export_command_includes_given_weights_and_keeps_the_configs_dataset(
    tmp_path, trained_digits, capsys
):
    arch, _, _, model = trained_digits
    graph = tmp_path / "g.json"
    arch.save(graph)
    (tmp_path / "w.safetensors").write_bytes(weights_bytes(model, arch))
    config = {"epochs": 3, "dataset": "digits", "dataset_options": {"n_samples": 500}}
    (tmp_path / "c.json").write_text(json.dumps(config))
    out = tmp_path / "out"
    command = ["export", str(graph), "-o", str(out), "--no-onnx"]
    command += ["--weights", str(tmp_path / "w.safetensors"), "--config", str(tmp_path / "c.json")]
    assert cli.main(command) == 0
    settings = json.loads((out / "config.json").read_text())
    assert settings["epochs"] == 3 and settings["dataset"] == "digits"
    assert settings["dataset_options"] == {"n_samples": 500}
    restored = load_weights(compile_model(arch), out / "weights.safetensors")
    x = example_inputs(arch)[0]
    model.eval()
    restored.eval()
    assert torch.equal(restored(x), model(x))
    assert "weights.safetensors" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"lrr": 0.1}, "unknown training setting 'lrr'"),
        ({"dataset": "mnistt"}, "unknown dataset 'mnistt'"),
    ],
)
def test_export_refuses_a_config_it_would_silently_ignore(tmp_path, capsys, config, message):
    graph = tmp_path / "g.json"
    template("mlp_digits").save(graph)
    (tmp_path / "c.json").write_text(json.dumps(config))
    out = tmp_path / "out"
    command = [
        "export",
        str(graph),
        "-o",
        str(out),
        "--no-onnx",
        "--config",
        str(tmp_path / "c.json"),
    ]
    assert cli.main(command) == 1
    error = capsys.readouterr().err
    assert message in error and "c.json" in error
    assert not out.exists()


def test_a_bundles_own_config_json_is_accepted_back(tmp_path):
    graph = tmp_path / "g.json"
    template("mlp_digits").save(graph)
    first, second = tmp_path / "first", tmp_path / "second"
    assert cli.main(["export", str(graph), "-o", str(first), "--no-onnx"]) == 0
    command = ["export", str(graph), "-o", str(second), "--no-onnx"]
    assert cli.main([*command, "--config", str(first / "config.json")]) == 0


def test_a_given_dataset_is_rebuilt_with_the_seed_that_made_it():
    arch = template("mlp_moons")
    made_with_default_seed = load_dataset("moons")  # the app loads embedded sets with seed 0
    settings = train_settings(arch, TrainConfig(seed=7), dataset=made_with_default_seed)
    assert settings["data_seed"] == 0 and settings["seed"] == 7
    notes = []
    resized = load_dataset("moons", n_samples=300, seed=3)  # options the caller did not pass on
    train_settings(arch, TrainConfig(seed=7), dataset=resized, notes=notes)
    assert any("could not rebuild" in note for note in notes)


def test_bundle_carries_the_standardisation_the_model_was_trained_with(tmp_path):
    import numpy as np

    sine = load_dataset("sine", n_samples=200)
    write_bundle(template("mlp_sine"), tmp_path, dataset=sine, onnx=False)
    stats = json.loads((tmp_path / "standardisation.json").read_text())
    raw_x = sine.x_train.numpy() * np.array(stats["input_std"]) + np.array(stats["input_mean"])
    assert np.abs(raw_x).max() > 5  # back in the data's units (±2π)
    assert stats["target_std"] > 0 and "target_mean" in stats
    readme = (tmp_path / "README.md").read_text()
    assert 'stats["input_std"]' in readme and 'stats["target_mean"]' in readme
    digits = load_dataset("digits", n_samples=200)
    write_bundle(template("mlp_digits"), tmp_path / "d", dataset=digits, onnx=False)
    stats = json.loads((tmp_path / "d" / "standardisation.json").read_text())
    assert set(stats) == {"input_mean", "input_std"}  # images: one number each; no targets
    assert isinstance(stats["input_mean"], float)
    text = load_dataset("sentiment", n_samples=64)
    write_bundle(template("lstm_text"), tmp_path / "t", dataset=text, onnx=False)
    assert not (tmp_path / "t" / "standardisation.json").exists()  # token ids are not scaled
