"""The best trial as a normal export bundle whose config.json and README name its origin."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from builder.errors import BuilderError


def export_best(study, out_dir: str | Path, store, *, onnx: bool = True) -> list[Path]:
    """Write the study's best trial as a bundle into out_dir; returns the paths written."""
    from optuna.trial import TrialState

    if not any(t.state == TrialState.COMPLETE for t in study.get_trials(deepcopy=False)):
        raise BuilderError(
            f"study {study.study_name!r} has no finished trial yet",
            field="study",
            hint="Run some trials first.",
        )
    best = study.best_trial
    run_id = best.user_attrs.get("run_id")
    if run_id is None:
        raise BuilderError(f"trial {best.number} has no run to export", field="run")
    origin = {
        "study": study.study_name,
        "trial": best.number,
        "run": run_id,
        "value": best.value,
        "direction": study.direction.name.lower(),
        "params": best.params,
    }
    return export_trial_run(store, run_id, out_dir, origin, onnx=onnx)


def export_trial_run(
    store, run_id: str, out_dir: str | Path, origin: dict[str, Any] | None = None, *, onnx=True
):
    """A trial run (graph, config, weights from the run store) as a bundle naming its study and trial."""
    from builder.compile import compile_model
    from builder.export import write_bundle
    from builder.graph import Architecture

    record = store.get(run_id)
    origin = origin or {
        "study": record.extra.get("study"),
        "trial": record.extra.get("trial"),
        "run": run_id,
        "params": record.extra.get("params", {}),
    }
    arch = Architecture.from_json(record.graph)
    model = compile_model(arch)
    state = store.load_state_dict(run_id)
    if state is None:
        raise BuilderError(
            f"run {run_id} kept no weights", field="run", hint="Export a finished trial."
        )
    model.load_state_dict(state)
    written = write_bundle(
        arch, out_dir, config=record.config, dataset_name=record.dataset, model=model, onnx=onnx
    )
    _add_origin(Path(out_dir), origin)
    return written


def _add_origin(out: Path, origin: dict[str, Any]) -> None:
    config_path = out / "config.json"
    config = json.loads(config_path.read_text(encoding="utf-8"))
    config["search"] = origin
    config_path.write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")
    readme = out / "README.md"
    params = "\n".join(
        f"| `{k}` | `{json.dumps(v)}` |" for k, v in origin.get("params", {}).items()
    )
    value = "" if origin.get("value") is None else f" It scored {origin['value']:.4f}."
    section = (
        "\n## Where this model came from\n\n"
        f"Trial {origin.get('trial')} of the LayerCraft search study `{origin.get('study')}` "
        f"(run `{origin.get('run')}`).{value} The values the search chose:\n\n"
        "| searched value | chosen |\n|---|---|\n" + params + "\n"
    )
    readme.write_text(readme.read_text(encoding="utf-8") + section, encoding="utf-8")
