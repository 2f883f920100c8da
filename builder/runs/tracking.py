"""Optional MLflow logging: when MLFLOW_TRACKING_URI is set, each run that ends is also logged
there (params, per-epoch metrics, graph.json / model.py / weights as artifacts).

Uses `mlflow-skinny` (the light client) when it is installed; without it, or when the
server cannot be reached, the run is unaffected and the reason is returned.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

ENV = "MLFLOW_TRACKING_URI"
EXPERIMENT = "LayerCraft"


def tracking_enabled() -> bool:
    return bool(os.environ.get(ENV))


def log_run(store, run_id: str) -> str | None:
    """Log one ended run to MLflow; returns the MLflow run id (None when not enabled)."""
    if not tracking_enabled():
        return None
    import mlflow

    rec = store.get(run_id)
    client = mlflow.MlflowClient(tracking_uri=os.environ[ENV])
    experiment = client.get_experiment_by_name(rec.project or EXPERIMENT)
    experiment_id = (
        experiment.experiment_id
        if experiment is not None
        else client.create_experiment(rec.project or EXPERIMENT)
    )
    tags = {"layercraft.run": rec.id, "layercraft.kind": rec.kind, "layercraft.status": rec.status}
    if rec.parent:
        tags["layercraft.parent"] = rec.parent
    run = client.create_run(experiment_id, run_name=f"{rec.kind}-{rec.id}", tags=tags)
    mlflow_id = run.info.run_id
    params = {k: str(v)[:500] for k, v in rec.config.items()}
    params["dataset"] = str(rec.dataset)
    for key, value in params.items():
        client.log_param(mlflow_id, key, value)
    for event in store.events(run_id):
        if event.get("kind") != "epoch":
            continue
        for name in ("loss", "accuracy"):
            value = event.get(name)
            if isinstance(value, int | float):
                split = event.get("split", "train")
                client.log_metric(
                    mlflow_id, f"{split}_{name}", float(value), step=int(event["epoch"])
                )
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        if rec.graph:
            (folder / "graph.json").write_text(json.dumps(rec.graph, indent=2), encoding="utf-8")
        if rec.source:
            (folder / "model.py").write_text(rec.source, encoding="utf-8")
        for path in folder.iterdir():
            client.log_artifact(mlflow_id, str(path))
        if rec.has_weights:
            client.log_artifact(mlflow_id, str(rec.weights_path))
    status = {"finished": "FINISHED", "stopped": "KILLED"}.get(rec.status, "FAILED")
    client.set_terminated(mlflow_id, status=status)
    return mlflow_id
