"""The study loop: trials are runs, infeasible trials fail cleanly, pruning stops training,
bad storage changes nothing, and two worker processes share one study."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import optuna
import pytest

from builder.cli import main
from builder.data import load_dataset
from builder.errors import BuilderError
from builder.graph import Architecture
from builder.runs import RunStore
from builder.search import SearchSettings, prepare_search
from builder.templates import TEMPLATE_DIR
from builder.training import TrainConfig

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def digits():
    return load_dataset("digits", seed=0)


def mlp(search) -> Architecture:
    data = json.loads((TEMPLATE_DIR / "mlp_digits.json").read_text())
    data["search"] = search
    return Architecture.from_json(data)


def settings(tmp_path, **changes) -> SearchSettings:
    values = {"study": "s", "n_trials": 3, "sampler": "random", "pruner": "none", "home": tmp_path}
    return SearchSettings(**{**values, **changes})


def test_every_trial_is_a_trial_run_naming_its_study_and_params(tmp_path, digits):
    arch = mlp({"params": {"fc1": {"out_features": {"low": 8, "high": 32}}}})
    search = prepare_search(arch, digits, TrainConfig(epochs=1), settings(tmp_path))
    summary = search.optimize()
    assert summary["n_trials"] == 3 and summary["n_complete"] == 3 and summary["study"] == "s"
    assert 0.3 < summary["best_value"] <= 1.0
    runs = RunStore(tmp_path).list(kind="trial")
    assert sorted(r.extra["trial"] for r in runs) == [0, 1, 2]
    best = RunStore(tmp_path).get(summary["best_run"])
    assert best.status == "finished" and best.extra["study"] == "s"
    assert best.extra["params"] == summary["best_params"]
    assert (
        best.graph["nodes"][2]["params"]["out_features"]
        == summary["best_params"]["fc1.out_features"]
    )
    assert "search" not in best.graph  # the run keeps the concrete graph it trained


def test_trial_whose_graph_does_not_analyse_is_failed_with_its_message_not_a_crash(
    tmp_path, digits
):
    # A 16x16 pooling window cannot slide over the 8x8 digits: that trial's graph fails.
    data = mlp(None).to_json()
    data["nodes"].insert(2, {"id": "pool", "type": "MaxPool2d", "params": {"kernel_size": 2}})
    data["edges"] = [
        {"source": "x", "target": "pool"},
        {"source": "pool", "target": "flatten1"},
        {"source": "flatten1", "target": "fc1"},
        {"source": "fc1", "target": "relu1"},
        {"source": "relu1", "target": "fc2"},
    ]
    data["search"] = {"params": {"pool": {"kernel_size": {"choices": [2, 16]}}}}
    arch = Architecture.from_json(data)
    search = prepare_search(
        arch, digits, TrainConfig(epochs=1), settings(tmp_path, sampler="grid", n_trials=2)
    )
    summary = search.optimize()
    assert summary["n_complete"] == 1 and summary["n_failed"] == 1
    failed = next(t for t in search.study.trials if t.state == optuna.trial.TrialState.FAIL)
    assert failed.params == {"pool.kernel_size": 16}
    assert "infeasible" in failed.user_attrs["infeasible"]
    assert "pool" in failed.user_attrs["infeasible"]
    run = RunStore(tmp_path).get(failed.user_attrs["run_id"])
    assert run.status == "failed" and run.kind == "trial" and "pool" in run.note


class PruneAtOnce(optuna.pruners.BasePruner):
    def prune(self, study, trial) -> bool:
        return True


def test_a_pruned_trial_stops_its_training_after_the_reported_epoch(tmp_path, digits):
    arch = mlp({"train": {"lr": {"low": 1e-3, "high": 1e-2, "log": True}}})
    search = prepare_search(arch, digits, TrainConfig(epochs=6), settings(tmp_path, n_trials=1))
    search.study.pruner = PruneAtOnce()
    summary = search.optimize()
    assert summary["n_pruned"] == 1
    trial = search.study.trials[0]
    assert list(trial.intermediate_values) == [1]
    run = RunStore(tmp_path).get(trial.user_attrs["run_id"])
    assert run.status == "stopped" and "pruned" in run.note
    assert run.summary["epochs"] < 6


def test_bad_input_is_a_builder_error_and_creates_no_study(tmp_path, digits):
    arch = mlp({"params": {"fc1": {"out_features": {"low": 8, "high": 32}}}})
    with pytest.raises(BuilderError) as info:
        prepare_search(
            arch,
            digits,
            TrainConfig(epochs=1),
            settings(tmp_path, storage="postgresql://me:secret@127.0.0.1:9/db"),
        )
    assert info.value.field == "storage" and "secret" not in str(info.value)
    with pytest.raises(BuilderError, match="storage"):
        missing = tmp_path / "no" / "such" / "dir" / "s.db"
        prepare_search(
            arch, digits, TrainConfig(epochs=1), settings(tmp_path, storage=f"sqlite:///{missing}")
        )
    assert not (tmp_path / "no").exists()
    with pytest.raises(BuilderError, match="nothing to search"):
        prepare_search(mlp(None), digits, TrainConfig(epochs=1), settings(tmp_path))
    with pytest.raises(BuilderError, match="step"):
        arch = mlp({"train": {"lr": {"low": 1e-3, "high": 1e-2}}})
        prepare_search(arch, digits, TrainConfig(epochs=1), settings(tmp_path, sampler="grid"))
    assert not (tmp_path / "search").exists() and not (tmp_path / "runs").exists()


def test_cli_rejects_an_empty_range_with_exit_1_naming_the_node(tmp_path, monkeypatch, capsys):
    graph = tmp_path / "g.json"
    data = mlp({"params": {"fc1": {"out_features": {"low": 8, "high": 32}}}}).to_json()
    data["search"]["params"]["fc1"]["out_features"] = {"low": 32, "high": 8}
    graph.write_text(json.dumps(data))
    monkeypatch.setenv("LAYERCRAFT_HOME", str(tmp_path / "home"))
    code = main(["search", str(graph), "--dataset", "digits", "--n-trials", "1"])
    err = capsys.readouterr().err
    assert code == 1 and "fc1.out_features" in err and "empty" in err
    assert not (tmp_path / "home").exists()


def test_two_worker_processes_share_one_study_without_losing_or_repeating_trials(tmp_path):
    # About 25 s on 2 busy cores: two real processes (each importing torch) are the point.
    graph = tmp_path / "g.json"
    search = {"params": {"fc1": {"out_features": {"low": 8, "high": 64}}}}
    graph.write_text(json.dumps(mlp(search).to_json()))
    args = ("--n-trials", "3", "--epochs", "1", "--pruner", "none", "--study", "shared", "--quiet")
    workers = [_search_cli(tmp_path, graph, *args, "--seed", str(i), wait=False) for i in (1, 2)]
    outputs = [w.communicate(timeout=300) for w in workers]
    assert [w.returncode for w in workers] == [0, 0], [err for _, err in outputs]
    last = [json.loads(out.strip().splitlines()[-1]) for out, _ in outputs]
    assert {line["study"] for line in last} == {"shared"}
    storage = f"sqlite:///{tmp_path / 'home' / 'search' / 'studies.db'}"
    trials = optuna.load_study(study_name="shared", storage=storage).trials
    assert sorted(t.number for t in trials) == list(range(6))
    assert all(t.state == optuna.trial.TrialState.COMPLETE for t in trials)
    runs = RunStore(tmp_path / "home").list(kind="trial")
    assert sorted(r.extra["trial"] for r in runs) == list(range(6))
    assert sorted(t.user_attrs["run_id"] for t in trials) == sorted(r.id for r in runs)
    pids = {w.pid for w in workers}
    assert {r.pid for r in runs} == pids  # both workers contributed
    assert all(sum(r.pid == pid for r in runs) == 3 for pid in pids)


def _search_cli(tmp_path, graph, *args, wait=False):
    env = {**os.environ, "LAYERCRAFT_HOME": str(tmp_path / "home")}
    command = [sys.executable, "-m", "builder", "search", str(graph), "--dataset", "digits", *args]
    return subprocess.Popen(
        command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def test_best_trial_exports_as_a_bundle_naming_its_study_and_trial(tmp_path, digits):
    from safetensors.torch import load_file

    from builder.search.export import export_best

    arch = mlp({"params": {"fc1": {"out_features": {"low": 8, "high": 32}}}})
    search = prepare_search(arch, digits, TrainConfig(epochs=1), settings(tmp_path, n_trials=2))
    summary = search.optimize()
    export_best(search.study, tmp_path / "out", search.store, onnx=False)  # ONNX: test_export_onnx
    config = json.loads((tmp_path / "out" / "config.json").read_text())
    assert config["search"]["study"] == "s" and config["search"]["trial"] == summary["best_trial"]
    assert config["search"]["run"] == summary["best_run"] and config["lr"] == 1e-3
    readme = (tmp_path / "out" / "README.md").read_text()
    assert f"Trial {summary['best_trial']} of the LayerCraft search study `s`" in readme
    graph = json.loads((tmp_path / "out" / "graph.json").read_text())
    assert graph["nodes"][2]["params"]["out_features"] == summary["best_params"]["fc1.out_features"]
    trained = RunStore(tmp_path).load_state_dict(summary["best_run"])
    exported = load_file(tmp_path / "out" / "weights.safetensors")
    assert all((exported[k] == v).all() for k, v in trained.items())


def test_stopping_a_background_search_ends_the_running_trial_and_the_study(tmp_path, digits):
    from builder.search.background import BackgroundSearch

    arch = mlp({"params": {"fc1": {"out_features": {"low": 8, "high": 32}}}})
    job = BackgroundSearch(arch, digits, TrainConfig(epochs=500), settings(tmp_path, n_trials=50))
    job.start()
    run_started = lambda: any(r.status == "running" for r in RunStore(tmp_path).list())  # noqa: E731
    for _ in range(600):
        if run_started():
            break
        time.sleep(0.05)
    ended = []
    job.add_end_callback(ended.append)  # how the app's job cap frees the slot
    job.stop()
    assert job.join(60) and job.state == "stopped", job.message
    assert ended == [job]
    (trial,) = job.study.trials
    assert trial.user_attrs["note"] == "stopped by the user"
    assert RunStore(tmp_path).get(trial.user_attrs["run_id"]).status == "stopped"


def test_hyperband_pruner_runs_a_search(tmp_path, digits):
    arch = mlp({"train": {"lr": {"low": 1e-3, "high": 1e-2, "log": True}}})
    search = prepare_search(
        arch, digits, TrainConfig(epochs=2), settings(tmp_path, n_trials=2, pruner="hyperband")
    )
    summary = search.optimize()
    assert summary["n_trials"] == 2 and summary["n_complete"] + summary["n_pruned"] == 2


@pytest.mark.parametrize(
    "race", ["UNIQUE constraint failed: version_info", "table study_directions already exists"]
)
def test_a_worker_that_loses_the_schema_race_opens_the_storage_a_moment_later(
    tmp_path, monkeypatch, race
):
    from builder.search import storage as storage_module

    real = optuna.storages.RDBStorage
    calls = []

    def racing(url, **kwargs):
        calls.append(url)
        if len(calls) == 1:  # the other worker created the tables first
            raise RuntimeError(f"(sqlite3.OperationalError) {race}")
        return real(url, **kwargs)

    monkeypatch.setattr(optuna.storages, "RDBStorage", racing)
    monkeypatch.setattr(storage_module.time, "sleep", lambda _: None)
    assert storage_module.open_storage(None, home=tmp_path) is not None
    assert len(calls) == 2
