"""Compressed models and distilled students are runs too: one record each in the run store."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from builder.compress.output import MODEL_FILES

INT8_FILE = "model_int8.pt"


def record_result(store, result, request, trained, dataset_name: str, project=None) -> str:
    """Write result as a finished run (kind compress / distill) whose parent is the original.

    A distillation also records the student trained alone, linked from extra["alone_run"],
    so the two curves can be drawn side by side from the store.
    """
    from builder.codegen import generate_source

    kind = "distill" if request.method == "distill" else "compress"
    parent = trained.run_id
    extra: dict[str, Any] = {"compress": result.report, "request": _request_dict(request)}
    if result.baseline_events:
        alone_id = store.create(
            kind="train",
            project=project,
            graph=result.arch.to_json(),
            config=extra["request"],
            dataset=dataset_name,
            parent=parent,
            note="student trained alone (distillation baseline)",
        )
        store.add_events(alone_id, _tagged(result.baseline_events, alone_id))
        alone_metric = result.report.get("student_alone_metric")
        store.finish(alone_id, summary={"val_accuracy": alone_metric})
        extra["alone_run"] = alone_id
    run_id = store.create(
        kind=kind,
        project=project,
        graph=result.arch.to_json(),
        config=extra["request"],
        dataset=dataset_name,
        source=None if result.quantized else generate_source(result.arch),
        parent=parent,
        note=result.report["method"],
        extra=extra,
    )
    store.add_events(run_id, _tagged(result.events, run_id))
    state = None if result.quantized else result.model.state_dict()
    store.finish(run_id, summary=_summary(result.report), state_dict=state)
    if result.quantized:
        int8 = next(p for p in result.files if p.name in MODEL_FILES)
        (store.run_dir(run_id) / INT8_FILE).write_bytes(int8.read_bytes())
    return run_id


def _summary(report: dict[str, Any]) -> dict[str, Any]:
    summary = dict(report)
    summary[str(report.get("metric", "metric"))] = report["metric_after"]
    return summary


def _tagged(events: list[dict[str, Any]], run_id: str) -> list[dict[str, Any]]:
    return [{**event, "run": run_id} for event in events]


def _request_dict(request) -> dict[str, Any]:
    data = asdict(request)
    data.pop("teacher", None)
    data.pop("student", None)
    if request.teacher is not None:
        data["teacher"] = request.teacher.origin
    return data
