"""Where a trained model comes from: an exported bundle folder, or a run in the run store."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from torch import nn

from builder.errors import BuilderError
from builder.graph import Architecture


@dataclass
class Trained:
    """A trained model with its graph and the settings it was trained with."""

    arch: Architecture
    model: nn.Module
    settings: dict[str, Any] = field(default_factory=dict)  # config.json of a bundle / run config
    origin: str = ""  # the folder or run id it was read from
    run_id: str | None = None


def load_trained(ref: str | Path, store=None) -> Trained:
    """Read a bundle folder (graph.json + weights.safetensors) or a finished run by id."""
    path = Path(ref)
    if path.is_dir():
        return _from_bundle(path)
    if path.suffix or "/" in str(ref):
        raise BuilderError(
            "is not an exported bundle folder",
            file=str(ref),
            hint="Pass the folder that `python -m builder train --save DIR` or Export wrote, or a run id.",
        )
    return _from_run(str(ref), store)


def _from_bundle(folder: Path) -> Trained:
    from builder.compile import compile_model
    from builder.export import load_weights

    graph_file = folder / "graph.json"
    weights_file = folder / "weights.safetensors"
    for needed in (graph_file, weights_file):
        if not needed.is_file():
            raise BuilderError(
                f"the bundle has no {needed.name}",
                file=str(folder),
                hint="Export the trained model again (with weights) and compress that folder.",
            )
    arch = Architecture.load(graph_file)
    model = load_weights(compile_model(arch), weights_file, arch=arch)
    settings = _read_settings(folder / "config.json")
    return Trained(arch, model.eval(), settings, origin=str(folder))


def _read_settings(path: Path) -> dict[str, Any]:
    if not path.is_file():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise BuilderError(f"config.json cannot be read ({err})", file=str(path)) from None
    if not isinstance(data, dict):
        raise BuilderError("config.json must hold a JSON object", file=str(path))
    return data


def _from_run(run_id: str, store) -> Trained:
    from builder.compile import compile_model
    from builder.runs import RunStore

    store = store or RunStore()
    record = store.get(run_id)  # BuilderError(field="run") for an unknown id
    state = store.load_state_dict(run_id)
    if state is None:
        raise BuilderError(
            f"run {run_id} has no saved weights",
            field="run",
            hint="Compress a run that finished training (an int8 run cannot be compressed again).",
        )
    arch = Architecture.from_json(record.graph)
    model = compile_model(arch)
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError:
        raise BuilderError(
            f"the weights of run {run_id} do not fit its graph", field="run"
        ) from None
    settings = dict(record.config or {})
    settings.setdefault("dataset", record.dataset)
    settings.setdefault("dataset_options", (record.extra or {}).get("dataset_options") or {})
    return Trained(arch, model.eval(), settings, origin=f"run {run_id}", run_id=run_id)
