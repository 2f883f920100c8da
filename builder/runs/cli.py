"""`python -m builder runs list|show ID|compare ID ID...|export ID -o DIR [--home DIR]`.

Text for people first, then exactly one JSON line that scripts can read (as `train` does).
"""

from __future__ import annotations

import argparse
import json
import time
from typing import Any

from builder.runs.compare import best_val_metric, compare_runs, config_diff, graph_diff
from builder.runs.store import RunRecord, RunStore


def add_parser(commands) -> None:
    """The `runs` command and its four subcommands."""
    runs = commands.add_parser("runs", help="list, show, compare and export recorded runs")
    sub = runs.add_subparsers(dest="runs_command", required=True)
    home = argparse.ArgumentParser(add_help=False)
    home.add_argument("--home", metavar="DIR", help="LayerCraft home (default $LAYERCRAFT_HOME)")
    listing = sub.add_parser("list", parents=[home], help="runs, newest first")
    listing.add_argument("--project", help="only this project's runs")
    listing.add_argument("--kind", help="only runs of this kind (train, gan, trial ...)")
    listing.set_defaults(run=run_list)
    show = sub.add_parser("show", parents=[home], help="one run in full")
    show.add_argument("run_id")
    show.set_defaults(run=run_show)
    compare = sub.add_parser("compare", parents=[home], help="config, graph and metric diffs")
    compare.add_argument("run_ids", nargs="+", metavar="ID")
    compare.set_defaults(run=run_compare)
    export = sub.add_parser("export", parents=[home], help="the run's bundle with its weights")
    export.add_argument("run_id")
    export.add_argument("-o", "--out", required=True, help="output folder")
    export.add_argument("--onnx", action=argparse.BooleanOptionalAction, default=True)
    export.set_defaults(run=run_export)


def run_list(args: argparse.Namespace) -> int:
    store = RunStore(home=args.home)
    records = store.list(project=args.project, kind=args.kind)
    rows = [
        (
            "id",
            "kind",
            "status",
            "project",
            "owner",
            "dataset",
            "epochs",
            "best",
            "duration",
            "note",
        )
    ]
    rows += [_row(r) for r in records]
    if not any(r.owner for r in records):  # no sign-in: the column would only hold dashes
        owner = rows[0].index("owner")
        rows = [row[:owner] + row[owner + 1 :] for row in rows]
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        print("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())
    print(json.dumps({"runs": [brief(r) for r in records], "count": len(records)}))
    return 0


def run_show(args: argparse.Namespace) -> int:
    store = RunStore(home=args.home)
    rec = store.get(args.run_id)
    events = store.events(rec.id)
    info = brief(rec)
    for key in ("kind", "status", "project", "owner", "dataset", "parent", "note"):
        print(f"{key}: {info.get(key)}")
    print(f"started: {_when(rec.started)}  duration: {_duration(rec.duration)}")
    print(f"config: {json.dumps(rec.config)}")
    print(f"summary: {json.dumps(rec.summary)}")
    if rec.extra.get("warm_start"):
        ws = rec.extra["warm_start"]
        print(f"warm start from {ws['source']}: {len(ws['loaded'])} loaded")
        for skip in ws["skipped"]:
            print(f"  skipped {skip['tensor']}: {skip['reason']}")
    print(f"events: {len(events)}  weights: {'yes' if rec.has_weights else 'no'}")
    print(
        json.dumps(
            {
                **info,
                "config": rec.config,
                "summary": rec.summary,
                "extra": rec.extra,
                "events": len(events),
            }
        )
    )
    return 0


def run_compare(args: argparse.Namespace) -> int:
    if len(args.run_ids) < 2:
        from builder.errors import BuilderError

        raise BuilderError("compare needs two or more run ids", field="run")
    store = RunStore(home=args.home)
    records = [store.get(run_id) for run_id in args.run_ids]
    base = records[0]
    for other in records[1:]:
        print(f"== {base.id} -> {other.id}")
        diff = config_diff(base.config, other.config)
        print("config: same" if not diff else "config:")
        for key, (a, b) in diff.items():
            print(f"  {key}: {a} -> {b}")
        gdiff = graph_diff(base.graph, other.graph)
        print("graph: same" if gdiff.same else "graph:")
        for node in gdiff.added:
            print(f"  + {node}")
        for node in gdiff.removed:
            print(f"  - {node}")
        for node, what in gdiff.changed.items():
            print(f"  ~ {node}: {', '.join(what)}")
    print("metrics:")
    for rec in records:
        metric = best_val_metric(rec.summary)
        headline = f"{metric[0]} {metric[1]:.4f}" if metric else "-"
        print(f"  {rec.id} [{rec.status}] {headline}")
    print(json.dumps(compare_runs(records)))
    return 0


def run_export(args: argparse.Namespace) -> int:
    written = export_run(RunStore(home=args.home), args.run_id, args.out, onnx=args.onnx)
    for path in written:
        print(path)
    for note in getattr(written, "notes", []):
        print(f"note: {note}")
    print(
        json.dumps({"run": args.run_id, "out": str(args.out), "files": [str(p) for p in written]})
    )
    return 0


def export_run(store: RunStore, run_id: str, out, *, onnx: bool = True):
    """Write the run's bundle (graph, model.py, train.py, its trained weights) into out."""
    from builder.export import write_bundle

    return write_bundle(out_dir=out, onnx=onnx, **bundle_options(store, run_id))


def bundle_options(store: RunStore, run_id: str) -> dict[str, Any]:
    """write_bundle / bundle_zip keywords for a run: its graph, config, data and trained model."""
    from builder.compile import compile_model
    from builder.errors import BuilderError
    from builder.graph import Architecture

    rec = store.get(run_id)
    if not rec.graph or rec.kind == "gan":
        raise BuilderError(
            f"run {run_id} has no single graph to export", field="run", hint="Export a train run."
        )
    arch = Architecture.from_json(rec.graph)
    options: dict[str, Any] = {"arch": arch, "config": rec.config}
    tensors = store.load_state_dict(run_id)
    if tensors is not None:
        model = compile_model(arch)
        model.load_state_dict(tensors)
        options["model"] = model
    if rec.extra.get("data_path"):
        options["data_path"] = rec.extra["data_path"]
    elif rec.dataset:
        options["dataset_name"] = rec.dataset
        options["dataset_options"] = {
            **rec.extra.get("dataset_options", {}),
            "seed": rec.config.get("seed", 0),
        }
    return options


def brief(rec: RunRecord) -> dict[str, Any]:
    """The record's headline fields as JSON (no graph, source or events)."""
    metric = best_val_metric(rec.summary)
    return {
        "id": rec.id,
        "kind": rec.kind,
        "status": rec.status,
        "project": rec.project,
        "dataset": rec.dataset,
        "epochs": rec.summary.get("epochs"),
        "best": None if metric is None else {"name": metric[0], "value": metric[1]},
        "started": rec.started,
        "ended": rec.ended,
        "duration": rec.duration,
        "parent": rec.parent,
        "note": rec.note,
        "owner": rec.owner,  # the signed-in user who made it in the app; None without sign-in
    }


def _row(rec: RunRecord) -> tuple[str, ...]:
    metric = best_val_metric(rec.summary)
    epochs = rec.summary.get("epochs")
    return (
        rec.id,
        rec.kind,
        rec.status,
        rec.project or "-",
        rec.owner or "-",
        rec.dataset or "-",
        "-" if epochs is None else str(epochs),
        "-" if metric is None else f"{metric[1]:.4f}",
        _duration(rec.duration),
        rec.note,
    )


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    seconds = int(seconds)
    return f"{seconds // 60}:{seconds % 60:02d}"


def _when(epoch_s: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(epoch_s))
