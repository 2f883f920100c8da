"""`runs list|show|compare|export`, warm start by node id, and the per-node trainable switch."""

import json

import pytest
import torch

from builder.cli import main
from builder.compile import compile_model
from builder.data import load_dataset
from builder.errors import BuilderError
from builder.export import render_bundle, train_settings
from builder.graph import Architecture
from builder.runs import RunStore
from builder.runs.compare import config_diff, graph_diff
from builder.runs.warm import load_matching
from builder.templates import load_template
from builder.training import TrainConfig, Trainer
from tests.unit.test_export_train import import_bundle_train

MLP = "assets/templates/mlp_digits.json"


def _last_json(text: str) -> dict:
    return json.loads(text.strip().splitlines()[-1])


def _train(home, *extra, graph=MLP, capsys=None) -> dict:
    args = ["train", graph, "--dataset", "digits", "--n-samples", "300", "--epochs", "2"]
    code = main([*args, "--device", "cpu", "--quiet", "--home", str(home), *extra])
    out = capsys.readouterr().out
    assert code == 0, out
    return _last_json(out)


def _wider_head_graph(tmp_path) -> str:
    with open(MLP) as handle:
        graph = json.load(handle)
    for node in graph["nodes"]:
        if node["id"] == "fc1":
            node["params"]["out_features"] = 32
    path = tmp_path / "mlp32.json"
    path.write_text(json.dumps(graph))
    return str(path)


# ---- graph JSON: the trainable switch ----------------------------------------------------


def test_trainable_false_round_trips_and_old_files_load_unchanged():
    arch = Architecture.load(MLP)
    assert all(arch.trainable_of(n) for n in arch.node_ids)
    assert all("trainable" not in node for node in arch.to_json()["nodes"])
    arch.set_trainable("fc1", False)
    data = arch.to_json()
    assert [n["id"] for n in data["nodes"] if n.get("trainable") is False] == ["fc1"]
    assert not Architecture.from_json(data).trainable_of("fc1")


def test_trainable_must_be_a_boolean():
    data = Architecture.load(MLP).to_json()
    data["nodes"][2]["trainable"] = "no"
    with pytest.raises(BuilderError) as err:
        Architecture.from_json(data)
    assert err.value.node == data["nodes"][2]["id"] and err.value.field == "trainable"


def trained_two_epochs(arch):
    """A finished two-epoch run on 300 digits: (trainer, state before, state after)."""
    trainer = Trainer(
        arch, load_dataset("digits", n_samples=300), TrainConfig(epochs=2, device="cpu")
    )
    before = {k: v.clone() for k, v in trainer.model.state_dict().items()}
    assert trainer.run()["state"] == "finished"
    return trainer, before, trainer.model.state_dict()


def test_trainer_keeps_frozen_weights_and_trains_the_rest():
    arch = Architecture.load(MLP)
    arch.set_trainable("fc1", False)
    trainer, before, after = trained_two_epochs(arch)
    assert torch.equal(after["fc1.weight"], before["fc1.weight"])
    assert not torch.equal(after["fc2.weight"], before["fc2.weight"])
    assert trainer.summary()["frozen"] == ["fc1"]


def test_freezing_every_layer_fails_with_a_clear_message():
    arch = Architecture.load(MLP)
    for node in ("fc1", "fc2"):
        arch.set_trainable(node, False)
    trainer = Trainer(arch, load_dataset("digits", n_samples=200), TrainConfig(device="cpu"))
    trainer.run()
    assert trainer.state == "failed" and "every layer with weights is frozen" in trainer.message


def written_bundle(arch, tmp_path):
    """The export bundle (one epoch, digits) as files in tmp_path/bundle: (files, folder)."""
    files, _ = render_bundle(arch, config=TrainConfig(epochs=1), dataset_name="digits", onnx=False)
    folder = tmp_path / "bundle"
    folder.mkdir()
    for name, data in files.items():
        (folder / name).write_bytes(data)
    return files, folder


def test_exported_train_py_freezes_the_same_layers(tmp_path, monkeypatch):
    arch = Architecture.load(MLP)
    arch.set_trainable("fc1", False)
    assert train_settings(arch, TrainConfig(), dataset_name="digits")["frozen"] == ["fc1"]
    files, folder = written_bundle(arch, tmp_path)
    assert json.loads(files["graph.json"])["nodes"][2]["trainable"] is False
    train = import_bundle_train(folder, monkeypatch)
    torch.manual_seed(0)
    start = train.Net().state_dict()["fc1.weight"].clone()
    net = train.main(["--epochs", "1", "--device", "cpu", "--out", str(tmp_path / "runs")])
    assert not net.fc1.weight.requires_grad and net.fc2.weight.requires_grad
    assert torch.equal(net.state_dict()["fc1.weight"], start)


# ---- warm start ---------------------------------------------------------------------------


def test_warm_start_loads_matching_nodes_and_says_why_others_were_skipped(tmp_path):
    source = Architecture.load(MLP)
    target = Architecture.load(_wider_head_graph(tmp_path))
    trained = compile_model(source)
    model = compile_model(target)
    report = load_matching(model, target, trained.state_dict(), source, source="run1")
    assert report.loaded == ["fc2.bias"]
    reasons = {s["tensor"]: s["reason"] for s in report.skipped}
    assert reasons["fc1.weight"] == "shape [64, 64] in the source, [32, 64] here"
    assert torch.equal(model.fc2.bias, trained.fc2.bias)


def test_train_init_from_a_run_records_parent_and_what_loaded(tmp_path, capsys):
    first = _train(tmp_path, capsys=capsys)
    second = _train(tmp_path, "--init-from", first["run"], "--freeze", "fc1", capsys=capsys)
    assert second["warm_start"] == {"loaded": 4, "skipped": []} and second["frozen"] == ["fc1"]
    rec = RunStore(home=tmp_path).get(second["run"])
    assert rec.parent == first["run"]
    assert rec.extra["warm_start"]["loaded"] == ["fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias"]
    assert next(n for n in rec.graph["nodes"] if n.get("trainable") is False)["id"] == "fc1"
    # Frozen and loaded: fc1 ends exactly as the first run left it.
    store = RunStore(home=tmp_path)
    w1, w2 = store.load_state_dict(first["run"]), store.load_state_dict(second["run"])
    assert torch.equal(w1["fc1.weight"], w2["fc1.weight"])
    assert not torch.equal(w1["fc2.weight"], w2["fc2.weight"])


def test_train_init_from_a_weights_file_reports_skips(tmp_path, capsys):
    first = _train(tmp_path, capsys=capsys)
    main(
        [
            "runs",
            "export",
            first["run"],
            "-o",
            str(tmp_path / "b"),
            "--no-onnx",
            "--home",
            str(tmp_path),
        ]
    )
    capsys.readouterr()
    weights = str(tmp_path / "b" / "weights.safetensors")
    out = _train(tmp_path, "--init-from", weights, graph=_wider_head_graph(tmp_path), capsys=capsys)
    assert out["warm_start"]["loaded"] == 1
    assert {s["tensor"] for s in out["warm_start"]["skipped"]} == {
        "fc1.weight",
        "fc1.bias",
        "fc2.weight",
    }


@pytest.mark.parametrize(
    ("flag", "value", "field"),
    [("--init-from", "no_such_run", "run"), ("--freeze", "fc9", "freeze")],
)
def test_bad_init_or_freeze_exits_1_naming_the_field(tmp_path, capsys, flag, value, field):
    code = main(
        [
            "train",
            MLP,
            "--dataset",
            "digits",
            "--device",
            "cpu",
            "--home",
            str(tmp_path),
            flag,
            value,
        ]
    )
    assert code == 1
    assert f"error: {field}:" in capsys.readouterr().err


# ---- runs list / show / compare / export --------------------------------------------------


def test_runs_list_show_compare_and_export_each_end_with_one_json_line(tmp_path, capsys):
    a = _train(tmp_path, "--project", "p", capsys=capsys)
    b = _train(
        tmp_path, "--project", "p", "--lr", "0.01", graph=_wider_head_graph(tmp_path), capsys=capsys
    )
    home = ["--home", str(tmp_path)]

    assert main(["runs", "list", *home]) == 0
    listed = _last_json(capsys.readouterr().out)
    assert [r["id"] for r in listed["runs"]] == [b["run"], a["run"]] and listed["count"] == 2

    assert main(["runs", "show", a["run"], *home]) == 0
    shown = _last_json(capsys.readouterr().out)
    assert shown["status"] == "finished" and shown["summary"]["epochs"] == 2

    assert main(["runs", "compare", a["run"], b["run"], *home]) == 0
    out = capsys.readouterr().out
    assert "lr: 0.001 -> 0.01" in out and "~ fc1: out_features 64 -> 32" in out
    compared = _last_json(out)
    assert compared["config_diff"][b["run"]] == {"lr": [0.001, 0.01]}
    assert compared["graph_diff"][b["run"]]["changed"] == {"fc1": ["out_features 64 -> 32"]}
    assert set(compared["metrics"]) == {a["run"], b["run"]}

    target = tmp_path / "export"
    assert main(["runs", "export", b["run"], "-o", str(target), "--no-onnx", *home]) == 0
    exported = _last_json(capsys.readouterr().out)
    assert exported["run"] == b["run"]
    model = compile_model(Architecture.load(target / "graph.json"))
    from safetensors.torch import load_file

    model.load_state_dict(load_file(str(target / "weights.safetensors")))
    stored = RunStore(home=tmp_path).load_state_dict(b["run"])
    assert torch.equal(model.state_dict()["fc1.weight"], stored["fc1.weight"])


def test_runs_show_of_an_unknown_id_exits_1(tmp_path, capsys):
    assert main(["runs", "show", "zzz", "--home", str(tmp_path)]) == 1
    assert "error: run:" in capsys.readouterr().err


def test_graph_diff_finds_added_removed_changed_and_frozen_layers():
    a = Architecture.load(MLP)
    b = a.copy()
    b.set_params("fc1", {"out_features": 16})
    b.set_trainable("fc2", False)
    b.insert_after("fc1", "Dropout", {"p": 0.2})
    b.remove_node("relu1")
    diff = graph_diff(a.to_json(), b.to_json())
    assert diff.added == ["dropout1"] and diff.removed == ["relu1"]
    assert diff.changed["fc1"] == ["out_features 64 -> 16"]
    assert "frozen" in diff.changed["fc2"]
    assert config_diff({"lr": 1, "epochs": 2}, {"lr": 1, "epochs": 3}) == {"epochs": (2, 3)}


def test_a_frozen_batch_norm_keeps_its_statistics_in_the_trainer_and_in_train_py(
    tmp_path, monkeypatch
):
    arch = load_template("lenet_digits")
    for node in ("conv1", "bn1"):
        arch.set_trainable(node, False)
    _trainer, before, after = trained_two_epochs(arch)
    assert torch.equal(after["bn1.running_mean"], before["bn1.running_mean"])
    assert not torch.equal(after["bn2.running_mean"], before["bn2.running_mean"])  # not frozen
    _files, folder = written_bundle(arch, tmp_path)
    train = import_bundle_train(folder, monkeypatch)
    torch.manual_seed(0)
    start = train.Net().state_dict()["bn1.running_var"].clone()
    net = train.main(["--epochs", "1", "--device", "cpu", "--out", str(tmp_path / "runs")])
    assert torch.equal(net.state_dict()["bn1.running_var"], start)


def test_runs_list_shows_an_owner_column_only_when_a_run_has_an_owner(tmp_path, capsys):
    store = RunStore(home=tmp_path)
    store.create(kind="train", project="p")  # the CLI, or the app without sign-in
    home = ["--home", str(tmp_path)]
    assert main(["runs", "list", *home]) == 0
    header = capsys.readouterr().out.splitlines()[0].split()
    assert "owner" not in header and header[:4] == ["id", "kind", "status", "project"]

    mine = store.owned_by("ada@example.com").create(kind="train", project="p")
    assert main(["runs", "list", *home]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split()[3:5] == ["project", "owner"]
    row = next(line.split() for line in lines if line.startswith(mine))
    assert row[4] == "ada@example.com"
