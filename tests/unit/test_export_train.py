"""The bundle's train.py: one device, torchrun with two gloo ranks, resume, and ruff-clean code."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from builder.compile import compile_model
from builder.export import write_bundle
from builder.graph import Architecture
from builder.templates import DESCRIPTIONS
from builder.training import TrainConfig

ROOT = Path(__file__).resolve().parents[2]
TEMPLATES = ROOT / "assets" / "templates"
VENV_BIN = Path(sys.executable).parent
RUFF = VENV_BIN / "ruff"
TORCHRUN = VENV_BIN / "torchrun"

# Rank 0 and rank 1 each dump the weights they end with, so the test can compare them.
DDP_PROBE = """\
import os
import sys

import torch

import train

net = train.main(sys.argv[1:])
torch.save(net.state_dict(), f"rank{os.environ['RANK']}.pt")
"""


def bundle(tmp_path: Path, stem: str, dataset: str, **config) -> Path:
    arch = Architecture.load(TEMPLATES / f"{stem}.json")
    out = tmp_path / stem
    settings = TrainConfig(batch_size=64, lr=1e-2, **config)
    write_bundle(arch, out, config=settings, dataset_name=dataset, onnx=False)
    return out


def run(args: list[str], cwd: Path) -> str:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run(
        args, cwd=cwd, env=env, capture_output=True, text=True, timeout=240, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def epochs_logged(run_dir: Path) -> list[dict]:
    return [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]


@pytest.mark.slow
def test_train_script_runs_one_epoch_on_one_device(tmp_path):
    # Regression, with a plateau schedule, early stopping and L1 (the resume test runs a CNN).
    folder = bundle(
        tmp_path, "mlp_sine", "sine", schedule="plateau", early_stopping_patience=2, l1=1e-4
    )
    settings = json.loads((folder / "config.json").read_text())
    assert settings["schedule"] == "plateau" and settings["early_stopping_patience"] == 2
    output = run([sys.executable, "train.py", "--epochs", "1", "--device", "cpu"], folder)
    assert "epoch 1/1" in output
    [epoch] = epochs_logged(folder / "runs")
    assert epoch["epoch"] == 1 and epoch["train_loss"] > 0
    # The saved weights load into the app's own module for the same graph.
    arch = Architecture.load(folder / "graph.json")
    compile_model(arch).load_state_dict(torch.load(folder / "runs" / "model.pt"))


@pytest.mark.slow
def test_torchrun_two_ranks_end_with_identical_weights_and_lower_loss(tmp_path):
    folder = bundle(tmp_path, "mlp_digits", "digits")
    (folder / "ddp_probe.py").write_text(DDP_PROBE)
    launch = [str(TORCHRUN), "--standalone", "--nproc_per_node=2", "ddp_probe.py"]
    run([*launch, "--epochs", "3", "--device", "cpu", "--out", "ddp"], folder)
    rank0, rank1 = torch.load(folder / "rank0.pt"), torch.load(folder / "rank1.pt")
    assert rank0.keys() == rank1.keys()
    assert all(torch.equal(rank0[k], rank1[k]) for k in rank0)
    saved = torch.load(folder / "ddp" / "model.pt")  # written by rank 0 only
    assert all(torch.equal(saved[k], rank0[k]) for k in rank0)
    losses = [e["train_loss"] for e in epochs_logged(folder / "ddp")]
    assert len(losses) == 3 and losses[-1] < losses[0]

    # Gradients are averaged over the ranks: two processes with half the global batch
    # each take the same steps as one process with the whole batch.
    run([sys.executable, "train.py", "--epochs", "3", "--device", "cpu", "--out", "one"], folder)
    single = torch.load(folder / "one" / "model.pt")
    assert all(torch.allclose(single[k], rank0[k], rtol=1e-4, atol=1e-4) for k in rank0)


@pytest.mark.slow
def test_resume_continues_the_epoch_count_and_matches_an_unbroken_run(tmp_path):
    folder = bundle(tmp_path, "lenet_digits", "digits")  # dropout: resume must restore the RNG
    first = run([sys.executable, "train.py", "--epochs", "1", "--device", "cpu"], folder)
    assert "epoch 1/1" in first
    resumed = run(
        [sys.executable, "train.py", "--epochs", "2", "--device", "cpu", "--resume"], folder
    )
    assert "epoch 1/" not in resumed and "epoch 2/2" in resumed
    assert [e["epoch"] for e in epochs_logged(folder / "runs")] == [1, 2]
    assert torch.load(folder / "runs" / "checkpoint.pt")["progress"]["epoch"] == 2
    arch = Architecture.load(folder / "graph.json")  # the weights fit the app's own module
    compile_model(arch).load_state_dict(torch.load(folder / "runs" / "model.pt"))

    run([sys.executable, "train.py", "--epochs", "2", "--device", "cpu", "--out", "b"], folder)
    unbroken, continued = (
        torch.load(folder / "b" / "model.pt"),
        torch.load(folder / "runs" / "model.pt"),
    )
    assert all(torch.equal(unbroken[k], continued[k]) for k in unbroken)


def test_bundled_train_and_model_scripts_pass_ruff(tmp_path):
    files = []
    for stem, (dataset, _, _) in DESCRIPTIONS.items():
        arch = Architecture.load(TEMPLATES / f"{stem}.json")
        options = {"task": "reconstruction"} if stem == "conv_autoencoder" else None
        folder = tmp_path / stem
        write_bundle(arch, folder, dataset_name=dataset, dataset_options=options, onnx=False)
        files += [folder / "train.py", folder / "model.py"]
    write_bundle(arch, tmp_path / "file", data_path="data.npz", onnx=False)
    files += [tmp_path / "file" / "train.py"]
    config = ["--config", str(ROOT / "pyproject.toml")]
    # In the bundle, model.py sits beside train.py: ruff must see it as first-party.
    first_party = ["--config", 'lint.isort.known-first-party = ["model"]']
    check = subprocess.run(
        [str(RUFF), "check", *config, *first_party, *map(str, files)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert check.returncode == 0, check.stdout
    # A user's ruff or black with no config of ours sees nothing to change or flag.
    isolated = subprocess.run(
        [str(RUFF), "format", "--check", "--isolated", *map(str, files)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert isolated.returncode == 0, isolated.stdout
    for folder in {f.parent for f in files}:  # run inside the bundle: model.py is local
        plain = subprocess.run(
            [str(RUFF), "check", "--isolated", "."],
            capture_output=True, text=True, check=False, cwd=folder,
        )  # fmt: skip
        assert plain.returncode == 0, plain.stdout


def import_bundle_train(folder: Path, monkeypatch):
    """The bundle's train.py as a module, with its model.py importable as `model`."""
    for name in ("model", "train"):
        spec = importlib.util.spec_from_file_location(name, folder / f"{name}.py")
        module = importlib.util.module_from_spec(spec)
        monkeypatch.setitem(sys.modules, name, module)
        spec.loader.exec_module(module)
    return sys.modules["train"]


def test_early_stopping_restores_the_best_epochs_weights(tmp_path, monkeypatch):
    folder = bundle(tmp_path, "mlp_moons", "moons", early_stopping_patience=2)
    train = import_bundle_train(folder, monkeypatch)
    val_losses = iter([0.5, 0.4, 0.6, 0.7, 0.1])  # best after epoch 2, then two worse epochs
    kept = {}

    def evaluate(net, data, context):
        loss = next(val_losses)
        kept[loss] = {k: v.clone() for k, v in net.state_dict().items()}
        return loss, 0.5

    monkeypatch.setattr(train, "evaluate", evaluate)
    net = train.main(["--epochs", "5", "--device", "cpu", "--out", str(tmp_path / "runs")])
    assert [e["epoch"] for e in epochs_logged(tmp_path / "runs")] == [1, 2, 3, 4]
    assert all(torch.equal(net.state_dict()[k], kept[0.4][k]) for k in kept[0.4])
    assert not all(torch.equal(net.state_dict()[k], kept[0.7][k]) for k in kept[0.7])
