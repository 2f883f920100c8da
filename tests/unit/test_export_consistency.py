"""Issue 13 probe: train the MLP, change fc1 out_features to 48, export. The export never
pairs the new model.py with the old weights."""

import io
import zipfile

import pytest
import torch
from safetensors.torch import load

from builder.compile import compile_source
from builder.data import load_dataset
from builder.errors import BuilderError
from builder.export import bundle_zip, check_weights_fit, plan_export, render_bundle
from builder.export.consistency import LAST_RUN
from builder.templates import load_template
from builder.training import TrainConfig, Trainer


@pytest.fixture(scope="module")
def trained():
    torch.manual_seed(0)
    arch = load_template("mlp_digits")
    trainer = Trainer(arch, load_dataset("digits"), TrainConfig(epochs=1, device="cpu"))
    trainer.run()
    assert trainer.state == "finished"
    return trainer


def edited(trainer, out_features=48):
    arch = trainer.arch.copy()
    arch.update_params("fc1", out_features=out_features)
    return arch


def test_new_code_with_old_weights_is_refused(trained):
    with pytest.raises(
        BuilderError, match=r"fc1\.weight is \[64, 64\] but model.py builds \[48, 64\]"
    ):
        render_bundle(edited(trained), model=trained.model, onnx=False)


def test_export_after_an_edit_holds_the_current_graph_without_trained_weights_and_says_so(trained):
    plan = plan_export(edited(trained), trained.arch, trained.model)
    assert plan.changed and plan.model is None and "fc1" in plan.note
    files, notes = render_bundle(plan.arch, model=plan.model, onnx=False, note=plan.note)
    assert "weights.safetensors" not in files
    assert "nn.Linear(64, 48)" in files["model.py"].decode()
    assert plan.note in notes and "no trained weights" in files["README.md"].decode()


def test_export_of_the_last_run_pairs_its_graph_with_its_weights(trained):
    plan = plan_export(edited(trained), trained.arch, trained.model, use=LAST_RUN)
    assert plan.model is trained.model and "last run's graph" in plan.note
    data = bundle_zip(plan.arch, model=plan.model, onnx=False, note=plan.note)
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        names = {n.split("/", 1)[1]: n for n in archive.namelist()}
        source = archive.read(names["model.py"]).decode()
        weights = load(archive.read(names["weights.safetensors"]))
    assert "nn.Linear(64, 64)" in source
    net = compile_source(source, source.split("class ")[1].split("(")[0])()
    net.load_state_dict(weights, strict=True)  # the files fit together


def test_renaming_or_moving_nodes_keeps_the_trained_weights(trained):
    arch = trained.arch.copy()
    arch.name = "Renamed"
    arch.set_pos("fc1", (500.0, 20.0))
    plan = plan_export(arch, trained.arch, trained.model)
    assert plan.model is trained.model and not plan.changed
    check_weights_fit(plan.arch, plan.model)


def test_cli_export_refuses_weights_of_another_version_even_when_every_shape_fits(
    trained, tmp_path, capsys
):
    from builder.cli import main
    from builder.export import weights_bytes

    weights = tmp_path / "weights.safetensors"
    weights.write_bytes(weights_bytes(trained.model, trained.arch))
    same = tmp_path / "same.json"
    trained.arch.save(same)
    assert main(["export", str(same), "--weights", str(weights), "-o", str(tmp_path / "a")]) == 0
    changed = trained.arch.copy()
    changed.insert_after("fc1", "Tanh")  # no weights of its own: every tensor still fits
    changed_file = tmp_path / "changed.json"
    changed.save(changed_file)
    capsys.readouterr()
    code = main(["export", str(changed_file), "--weights", str(weights), "-o", str(tmp_path / "b")])
    assert code == 1
    err = capsys.readouterr().err
    assert "different version of this graph" in err and "weights.safetensors" in err
    assert not (tmp_path / "b" / "model.py").exists()
