"""With MLFLOW_TRACKING_URI set, every run is also logged to MLflow (here a file store)."""

import pytest

from builder.data import load_dataset
from builder.runs import RunStore
from builder.templates import load_template
from builder.training import TrainConfig, Trainer

mlflow = pytest.importorskip("mlflow", reason="mlflow-skinny is an optional extra")


def test_a_finished_run_is_logged_with_params_metrics_and_artifacts(tmp_path, monkeypatch):
    uri = (tmp_path / "mlruns").as_uri()
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    # MLflow 3 keeps the file store only on request; it is the store the issue asks to test.
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")
    store = RunStore(home=tmp_path / "home")
    trainer = Trainer(
        load_template("mlp_digits"),
        load_dataset("digits", n_samples=300),
        TrainConfig(epochs=2, lr=0.01, device="cpu"),
        store=store,
        project="tracked",
    )
    trainer.run()
    rec = store.get(trainer.run_id)
    assert "mlflow_error" not in rec.extra, rec.extra.get("mlflow_error")
    client = mlflow.MlflowClient(tracking_uri=uri)
    run = client.get_run(rec.extra["mlflow_run"])
    assert run.data.params["lr"] == "0.01" and run.data.params["dataset"] == "digits"
    assert run.data.tags["layercraft.run"] == trainer.run_id
    history = client.get_metric_history(run.info.run_id, "val_accuracy")
    assert [m.step for m in history] == [1, 2]
    assert history[-1].value == pytest.approx(rec.summary["val_accuracy"])
    artifacts = {a.path for a in client.list_artifacts(run.info.run_id)}
    assert artifacts == {"graph.json", "model.py", "weights.safetensors"}
    assert run.info.status == "FINISHED"


def test_an_unreachable_tracking_server_does_not_fail_the_run(tmp_path, monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://127.0.0.1:9")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "2")
    store = RunStore(home=tmp_path)
    trainer = Trainer(
        load_template("mlp_digits"),
        load_dataset("digits", n_samples=200),
        TrainConfig(epochs=1, device="cpu"),
        store=store,
    )
    assert trainer.run()["state"] == "finished"
    rec = store.get(trainer.run_id)
    assert rec.status == "finished" and "mlflow_error" in rec.extra
