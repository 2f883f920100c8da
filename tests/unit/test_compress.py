"""Compression of a trained bundle: pruning, int8 quantization, distillation, the CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from builder.cli import main
from builder.compress import CompressRequest, compress_model, load_trained, prune, quantize
from builder.compress.data import dataset_for
from builder.compress.distill import DistillConfig, check_teacher_fits, distill
from builder.errors import BuilderError
from builder.export import write_bundle
from builder.templates import load_template
from builder.training import TrainConfig, Trainer


def _trained_bundle(folder: Path, stem: str, dataset_name: str, epochs: int) -> Path:
    from builder.data import load_dataset

    arch = load_template(stem)
    dataset = load_dataset(dataset_name, seed=0)
    config = TrainConfig(epochs=epochs, device="cpu", seed=0)
    trainer = Trainer(arch, dataset, config)
    trainer.run()
    assert trainer.state == "finished"
    write_bundle(arch, folder, config=config, dataset=dataset, dataset_name=dataset_name,
                 model=trainer.model, onnx=False)  # fmt: skip
    return folder


@pytest.fixture(scope="module")
def lenet(tmp_path_factory) -> Path:
    return _trained_bundle(tmp_path_factory.mktemp("lenet"), "lenet_digits", "digits", 3)


@pytest.fixture(scope="module")
def digits():
    return dataset_for("digits", {})


def _plain_python(code: str, cwd: Path) -> str:
    """Run code in a plain interpreter in cwd: no PYTHONPATH, no project import, torch only."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    done = subprocess.run(
        [sys.executable, "-E", "-s", "-c", code], cwd=cwd, env=env, capture_output=True, text=True,
        timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_global_prune_zeroes_the_asked_fraction_and_leaves_plain_weights(lenet, digits, tmp_path):
    result = compress_model(
        load_trained(lenet), digits, CompressRequest("prune", sparsity=0.6), tmp_path / "out"
    )
    assert abs(prune.weight_sparsity(result.model) - 0.6) < 0.01
    assert not any(k.endswith(("_orig", "_mask")) for k in result.model.state_dict())
    report = result.report
    assert report["params_after"] < 0.6 * report["params_before"]
    assert report["metric_before"] > 0.5 and 0 <= report["metric_after"] <= 1
    assert json.loads((tmp_path / "out" / "compress.json").read_text())["method"].startswith(
        "prune"
    )


def test_fine_tuning_keeps_pruned_weights_at_zero(lenet, digits, tmp_path):
    request = CompressRequest("prune", sparsity=0.5, finetune_epochs=1)
    result = compress_model(load_trained(lenet), digits, request, tmp_path / "out")
    assert prune.weight_sparsity(result.model) >= 0.5 - 1e-3
    assert any(e["kind"] == "epoch" for e in result.events)


@pytest.mark.parametrize("bad", [0, 1, 1.5, -0.2, float("nan")])
def test_sparsity_outside_zero_one_is_refused(bad):
    with pytest.raises(BuilderError, match="between 0 and 1") as err:
        CompressRequest("prune", sparsity=bad).validate()
    assert err.value.field == "prune"


def test_structured_prune_shrinks_layers_and_writes_the_widths_into_the_graph(
    lenet, digits, tmp_path
):
    trained = load_trained(lenet)
    result = compress_model(
        trained, digits, CompressRequest("prune", sparsity=0.5, structured=True), tmp_path / "out"
    )
    assert result.arch.params_of("conv1")["out_channels"] == 8
    assert result.arch.params_of("conv2")["out_channels"] == 16
    assert result.arch.params_of("fc1")["out_features"] == 32
    assert result.arch.params_of("fc2")["out_features"] == 10  # the classes stay
    assert result.arch.params_of("conv1")["kernel_size"] == 3  # other params kept
    saved = json.loads((tmp_path / "out" / "graph.json").read_text())
    assert {n["id"]: n["params"] for n in saved["nodes"]}["conv2"]["out_channels"] == 16
    assert result.report["params_after"] < result.report["params_before"] / 2


def test_structured_prune_refuses_a_token_model_naming_the_first_layer_it_cannot_resize():
    from builder.compile import compile_model

    arch = load_template("lstm_text")
    with pytest.raises(BuilderError, match="cannot resize Embedding") as err:
        prune.prune_channels(
            arch, compile_model(arch), 0.5, (torch.zeros(2, 32, dtype=torch.long),)
        )
    assert err.value.node == "embed1"


def test_dynamic_quantization_refuses_conv_naming_the_node():
    with pytest.raises(BuilderError, match="no kernel for Conv2d") as err:
        quantize.check_quantizable(load_template("lenet_digits"), "dynamic")
    assert err.value.node == "conv1"
    assert "static" in err.value.hint


def test_static_quantization_refuses_token_models_naming_the_node():
    with pytest.raises(BuilderError, match="token ids") as err:
        quantize.check_quantizable(load_template("lstm_text"), "static")
    assert err.value.node == "tokens"


def test_static_int8_bundle_runs_in_a_plain_python_with_torch_only(lenet, digits, tmp_path):
    out = tmp_path / "int8"
    result = compress_model(
        load_trained(lenet), digits, CompressRequest("quantize", quantization="static"), out
    )
    assert abs(result.report["metric_after"] - result.report["metric_before"]) < 0.05
    assert "torch.jit.load" in (out / "README.md").read_text()
    x = digits.x_val[:5]
    torch.save(x, out / "x.pt")
    printed = _plain_python(
        "import torch\n"
        "m = torch.jit.load('model_int8.pt')\n"
        "print(m(torch.load('x.pt')).argmax(1).tolist())\n",
        out,
    )
    with torch.no_grad():
        expected = result.model(x).argmax(1).tolist()
    assert json.loads(printed) == expected


def test_pruned_bundle_loads_without_layercraft(lenet, digits, tmp_path):
    out = tmp_path / "pruned"
    compress_model(
        load_trained(lenet), digits, CompressRequest("prune", sparsity=0.5, structured=True), out
    )
    printed = _plain_python(
        "import torch\nfrom safetensors.torch import load_file\nfrom model import LeNetDigits\n"
        "m = LeNetDigits(); m.load_state_dict(load_file('weights.safetensors')); m.eval()\n"
        "print(tuple(m(torch.randn(3, 1, 8, 8)).shape))\n",
        out,
    )
    assert printed.strip() == "(3, 10)"


def test_dynamic_int8_shrinks_the_mlp_file(tmp_path, digits):
    bundle = _trained_bundle(tmp_path / "mlp", "mlp_digits", "digits", 2)
    result = compress_model(
        load_trained(bundle), digits, CompressRequest("quantize"), tmp_path / "q"
    )
    assert result.report["bytes_after"] < result.report["bytes_before"]
    assert abs(result.report["metric_after"] - result.report["metric_before"]) < 0.05
    archive = tmp_path / "q" / "model_int8.pt"
    assert result.report["bytes_after"] == archive.stat().st_size  # the whole file the user loads
    records = torch._C.PyTorchFileReader(str(archive)).get_all_records()
    assert not [r for r in records if r.endswith(".debug_pkl")]
    loaded = torch.jit.load(str(archive))
    x = digits.x_val[:64]
    with torch.no_grad():
        assert torch.allclose(loaded(x), result.model(x), atol=1e-5)


def test_int8_archive_without_debug_tables_still_loads_and_matches():
    from torch import nn

    model = quantize.quantize_dynamic(nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 3)))
    x = torch.randn(4, 8)
    data = quantize.torchscript_bytes(model, (x,))
    import io

    plain = io.BytesIO()
    torch.jit.save(torch.jit.script(model), plain)
    assert len(data) < len(plain.getvalue())
    loaded = torch.jit.load(io.BytesIO(data))
    with torch.no_grad():
        assert torch.equal(loaded(x), model(x))
    import zipfile

    records = zipfile.ZipFile(io.BytesIO(data)).infolist()
    assert {r.compress_type for r in records} == {zipfile.ZIP_DEFLATED}
    assert not [r.filename for r in records if "serialization_id" in r.filename]


def test_int8_archive_falls_back_to_torchs_own_when_the_repacked_one_is_refused(monkeypatch):
    import io

    from torch import nn

    model = quantize.quantize_dynamic(nn.Sequential(nn.Linear(8, 4)))
    x = torch.randn(2, 8)
    monkeypatch.setattr(quantize, "_slimmed", lambda data: b"not a zip archive")
    data = quantize.torchscript_bytes(model, (x,))
    with torch.no_grad():
        assert torch.equal(torch.jit.load(io.BytesIO(data))(x), model(x))


def test_distillation_refuses_a_teacher_with_other_outputs_naming_both_shapes(lenet, digits):
    from builder.compile import compile_model
    from tests.conftest import chain

    student = compile_model(chain((1, 8, 8), "Flatten", ("Linear", {"out_features": 5})))
    with pytest.raises(BuilderError, match=r"\(10,\).*\(5,\)"):
        check_teacher_fits(load_trained(lenet).model, student, digits)


def test_distilled_student_and_student_alone_share_start_and_epochs(lenet, digits):
    from tests.conftest import chain

    student = chain((1, 8, 8), "Flatten", ("Linear", {"out_features": 16}), "ReLU",
                    ("Linear", {"out_features": 10}), name="Student")  # fmt: skip
    config = DistillConfig(epochs=2, temperature=4, alpha=0.7)
    distilled, alone = distill(load_trained(lenet).model, student, digits, config)
    assert len(distilled.curve("val")) == len(alone.curve("val")) == 2
    assert distilled.curve("val") != alone.curve("val")  # the teacher's part changed training


def test_cli_compress_ends_with_one_json_line(lenet, tmp_path, capsys):
    code = main(
        ["compress", str(lenet), "--dataset", "digits", "--prune", "0.5", "-o", str(tmp_path / "o")]
    )
    assert code == 0
    report = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    for key in ("params_before", "params_after", "bytes_before", "bytes_after", "latency_ms_before",
                "latency_ms_after", "metric_before", "metric_after"):  # fmt: skip
        assert isinstance(report[key], (int, float))


def test_cli_compress_rejects_bad_sparsity_with_one_line(lenet, tmp_path, capsys):
    code = main(
        ["compress", str(lenet), "--dataset", "digits", "--prune", "1.5", "-o", str(tmp_path / "o")]
    )
    assert code == 1
    err = capsys.readouterr().err
    assert "between 0 and 1" in err and "Traceback" not in err
    assert not (tmp_path / "o").exists()


def test_compressing_a_run_records_a_compress_run_with_the_original_as_parent(digits, tmp_path):
    from builder.runs import RunStore

    store = RunStore(home=tmp_path / "home")
    arch = load_template("mlp_digits")
    trainer = Trainer(arch, digits, TrainConfig(epochs=2, device="cpu"), store=store)
    trainer.run()
    code = main(["compress", trainer.run_id, "--dataset", "digits", "--prune", "0.5",
                 "--home", str(tmp_path / "home"), "-o", str(tmp_path / "o")])  # fmt: skip
    assert code == 0
    (record,) = store.list(kind="compress")
    assert record.parent == trainer.run_id and record.status == "finished"
    assert record.summary["params_after"] < record.summary["params_before"]
    weights = store.load_state_dict(record.id)
    assert sum(int((w == 0).sum()) for w in weights.values()) > 0


def test_an_unknown_run_id_is_a_clear_error(tmp_path, capsys):
    code = main(["compress", "nosuchrun", "--dataset", "digits", "--prune", "0.5",
                 "--home", str(tmp_path), "-o", str(tmp_path / "o")])  # fmt: skip
    assert code == 1
    assert "no run 'nosuchrun'" in capsys.readouterr().err


def test_cli_distill_from_a_teacher_with_other_outputs_is_refused_and_writes_nothing(
    lenet, tmp_path, capsys
):
    from tests.conftest import chain

    student = tmp_path / "student.json"
    chain((1, 8, 8), "Flatten", ("Linear", {"out_features": 3}), name="Small").save(student)
    code = main(["compress", "--distill-from", str(lenet), "--student", str(student),
                 "--dataset", "digits", "--epochs", "1", "-o", str(tmp_path / "o")])  # fmt: skip
    assert code == 1
    err = capsys.readouterr().err
    assert "teacher outputs (10,)" in err and "student outputs (3,)" in err
    assert not (tmp_path / "o").exists()


def test_cli_distills_on_a_share_of_the_training_split_and_validates_on_all(
    lenet, tmp_path, capsys
):
    from tests.conftest import chain

    student = tmp_path / "student.json"
    chain((1, 8, 8), "Flatten", ("Linear", {"out_features": 10}), name="Small").save(student)
    code = main(["compress", "--distill-from", str(lenet), "--student", str(student),
                 "--dataset", "digits", "--fraction", "0.05", "--epochs", "2", "--no-record",
                 "-o", str(tmp_path / "o")])  # fmt: skip
    assert code == 0
    report = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    whole = dataset_for("digits", {})
    assert report["train_samples"] == round(0.05 * len(whole.x_train)) < len(whole.x_train)
    assert report["metric_before"] > 0.5  # the teacher, on the whole validation split


@pytest.mark.parametrize("bad", ["0", "1.5", "-0.1"])
def test_a_share_of_training_data_outside_zero_one_is_refused_with_one_line(
    lenet, tmp_path, capsys, bad
):
    code = main(["compress", str(lenet), "--dataset", "digits", "--prune", "0.5",
                 "--fraction", bad, "-o", str(tmp_path / "o")])  # fmt: skip
    assert code == 1
    err = capsys.readouterr().err
    assert "fraction: fraction must be a share in (0, 1]" in err and "Traceback" not in err
    assert not (tmp_path / "o").exists()
