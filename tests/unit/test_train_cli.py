"""`python -m builder train`: one JSON line on stdout, progress on stderr, clean errors."""

import json
import subprocess
import sys

import numpy as np
import pytest

from builder import train_cli
from builder.cli import main

MLP_DIGITS = "assets/templates/mlp_digits.json"


def _summary(stdout: str) -> dict:
    lines = [line for line in stdout.splitlines() if line.strip()]
    assert len(lines) == 1, stdout
    return json.loads(lines[0])


def test_train_prints_one_json_summary_and_writes_metric_events(tmp_path, capsys):
    metrics = tmp_path / "run" / "metrics.jsonl"
    code = main(
        ["train", MLP_DIGITS, "--dataset", "digits", "--epochs", "2", "--device", "cpu",
         "--n-samples", "400", "--metrics-out", str(metrics)]
    )  # fmt: skip
    out, err = capsys.readouterr()
    assert code == 0
    summary = _summary(out)
    assert {"epochs", "train_loss", "val_loss", "val_accuracy", "samples_per_s", "device"} <= set(
        summary
    )
    assert summary["epochs"] == 2 and summary["device"] == "cpu"
    assert "epoch 2/2" in err
    events = [json.loads(line) for line in metrics.read_text().splitlines()]
    assert {e["kind"] for e in events} == {"status", "step", "epoch"}
    assert events[-1]["state"] == "finished"


def test_train_passes_every_config_flag_through():
    parser = train_cli.argparse.ArgumentParser()
    train_cli.add_arguments(parser)
    args = parser.parse_args(
        ["--dataset", "moons", "--optimizer", "nesterov", "--lr", "0.05", "--schedule", "onecycle",
         "--l1", "1e-4", "--weight-decay", "1e-3", "--clip-grad", "1", "--patience", "3",
         "--loss", "cross_entropy", "--stats-every", "5", "--amp", "--seed", "9"]
    )  # fmt: skip
    config = train_cli.config_from_args(args)
    assert (config.optimizer, config.lr, config.schedule) == ("nesterov", 0.05, "onecycle")
    assert (config.l1, config.weight_decay, config.clip_grad) == (1e-4, 1e-3, 1.0)
    assert (config.early_stopping_patience, config.stats_every, config.amp, config.seed) == (
        3,
        5,
        True,
        9,
    )


def test_train_on_a_mismatched_dataset_exits_1_with_the_fix(capsys):
    code = main(["train", "assets/templates/lenet5.json", "--dataset", "digits", "--device", "cpu"])
    out, err = capsys.readouterr()
    assert code == 1 and out == ""
    assert "digits gives 1×8×8 images but the Input expects 1×32×32" in err
    assert "Traceback" not in err


def test_train_on_a_bad_file_names_the_file_and_exits_1(tmp_path, capsys):
    path = tmp_path / "broken.npz"
    np.savez(path, x=np.zeros((10, 1, 8, 8)), y=np.zeros(3))
    code = main(["train", MLP_DIGITS, "--data", str(path), "--device", "cpu"])
    _, err = capsys.readouterr()
    assert code == 1
    assert err.startswith("error: broken.npz: x has 10 samples but y has 3")


def test_train_trains_from_a_csv_file(tmp_path, capsys):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(200, 2))
    y = (x[:, 0] > 0).astype(int)
    path = tmp_path / "points.csv"
    path.write_text(
        "a,b,label\n" + "\n".join(f"{a},{b},{c}" for (a, b), c in zip(x, y, strict=True))
    )
    code = main(
        ["train", "assets/templates/mlp_moons.json", "--data", str(path), "--label-column", "label",
         "--epochs", "5", "--lr", "0.01", "--device", "cpu"]
    )  # fmt: skip
    assert code == 0
    assert _summary(capsys.readouterr().out)["val_accuracy"] > 0.8


def test_train_saves_the_trained_bundle(tmp_path, capsys):
    out_dir = tmp_path / "bundle"
    code = main(
        ["train", MLP_DIGITS, "--dataset", "digits", "--epochs", "1", "--n-samples", "200",
         "--device", "cpu", "--save", str(out_dir)]
    )  # fmt: skip
    assert code == 0
    assert (out_dir / "model.py").exists() and (out_dir / "graph.json").exists()
    assert _summary(capsys.readouterr().out)["saved"] == str(out_dir)


@pytest.mark.slow
def test_digits_mlp_template_reaches_95_percent_from_the_command_line():
    result = subprocess.run(
        [sys.executable, "-m", "builder", "train", MLP_DIGITS, "--dataset", "digits",
         "--epochs", "20", "--device", "cpu"],
        capture_output=True, text=True, timeout=240,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert _summary(result.stdout)["val_accuracy"] >= 0.95
    assert "Traceback" not in result.stderr


def test_train_records_the_run_in_the_store(tmp_path, capsys):
    from builder.runs import RunStore

    code = main(
        [
            "train",
            MLP_DIGITS,
            "--dataset",
            "digits",
            "--n-samples",
            "200",
            "--epochs",
            "2",
            "--device",
            "cpu",
            "--quiet",
            "--home",
            str(tmp_path),
            "--project",
            "p9",
            "--note",
            "from the cli",
        ]
    )
    assert code == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    rec = RunStore(home=tmp_path).get(summary["run"])
    assert (rec.status, rec.project, rec.note, rec.dataset) == (
        "finished",
        "p9",
        "from the cli",
        "digits",
    )
    assert rec.extra["dataset_options"] == {"n_samples": 200}
    assert rec.summary["epochs"] == 2 and rec.has_weights


def test_a_failing_run_exits_1_with_a_terminal_state_in_the_json_and_the_store(tmp_path, capsys):
    from builder.runs import RunStore

    code = main(
        [
            "train",
            MLP_DIGITS,
            "--dataset",
            "digits",
            "--n-samples",
            "200",
            "--epochs",
            "3",
            "--device",
            "cpu",
            "--quiet",
            "--home",
            str(tmp_path),
            "--optimizer",
            "sgd",
            "--lr",
            "1e30",
        ]
    )
    out, err = capsys.readouterr()
    summary = json.loads(out.strip().splitlines()[-1])
    assert code == 1 and summary["state"] == "failed" and "error:" in err
    assert RunStore(home=tmp_path).get(summary["run"]).status == "failed"


def test_no_record_leaves_the_store_empty(tmp_path, capsys):
    from builder.runs import RunStore

    code = main(
        [
            "train",
            MLP_DIGITS,
            "--dataset",
            "digits",
            "--n-samples",
            "100",
            "--epochs",
            "1",
            "--device",
            "cpu",
            "--quiet",
            "--home",
            str(tmp_path),
            "--no-record",
        ]
    )
    assert code == 0
    assert RunStore(home=tmp_path).list() == []


def test_gan_pair_from_the_cli_records_one_gan_run(tmp_path, capsys):
    from builder.runs import RunStore

    code = main(
        [
            "train",
            "assets/templates/gan_generator.json",
            "--discriminator",
            "assets/templates/gan_discriminator.json",
            "--dataset",
            "digits",
            "--n-samples",
            "64",
            "--epochs",
            "1",
            "--device",
            "cpu",
            "--quiet",
            "--home",
            str(tmp_path),
        ]
    )
    assert code == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    rec = RunStore(home=tmp_path).get(summary["run"])
    assert rec.kind == "gan" and rec.status == "finished"
    assert "discriminator_graph" in rec.extra
