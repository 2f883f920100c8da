"""`python -m builder search GRAPH.json --dataset D --n-trials N [--storage URL] [--study NAME]`.

One line per finished trial on stderr; exactly one JSON line on stdout at the end:
best_value, best_params, n_trials, n_pruned, study (and a few more counts). Run the same
command on several machines with one --storage URL and --study name to share the work.
"""

from __future__ import annotations

import argparse
import json
import sys


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The search flags (everything after GRAPH.json)."""
    from builder.data import DATASETS
    from builder.search.study import PRUNERS, SAMPLERS

    parser.add_argument("graph", help="graph JSON file with a search section")
    parser.add_argument("--dataset", choices=DATASETS, required=True, help="an embedded dataset")
    parser.add_argument("--n-trials", type=int, default=20, help="trials this worker runs (20)")
    parser.add_argument(
        "--storage",
        help="Optuna storage: sqlite:///F.db, postgresql://..., mysql://..., journal:F.log "
        "(default: SQLite under $LAYERCRAFT_HOME/search/)",
    )
    parser.add_argument("--study", default=None, help="study name (default: the graph's name)")
    parser.add_argument("--timeout", type=float, help="stop starting trials after S seconds")
    parser.add_argument("--epochs", type=int, help="epochs per trial (default: the template's)")
    parser.add_argument("--sampler", choices=SAMPLERS, default="tpe")
    parser.add_argument("--pruner", choices=PRUNERS, default="median")
    parser.add_argument("--seed", type=int, default=0, help="sampler and training seed")
    parser.add_argument("--device", choices=("auto", "cpu", "cuda", "mps"), default="auto")
    parser.add_argument(
        "--home", help="LayerCraft home for the run store (default $LAYERCRAFT_HOME)"
    )
    parser.add_argument("--export", metavar="DIR", help="write the best trial's bundle here")
    parser.add_argument("--quiet", action="store_true", help="no per-trial lines on stderr")


def run(args: argparse.Namespace) -> int:
    """Search as the flags say; prints the summary JSON line. Returns the exit code."""
    from builder.data import load_dataset
    from builder.graph import Architecture
    from builder.search.study import SearchSettings, prepare_search

    arch = Architecture.load(args.graph)
    settings = SearchSettings(
        study=args.study or _study_name(arch.name),
        storage=args.storage,
        n_trials=args.n_trials,
        timeout=args.timeout,
        sampler=args.sampler,
        pruner=args.pruner,
        seed=args.seed,
        home=args.home,
    )
    config = base_config(args.graph, epochs=args.epochs, seed=args.seed, device=args.device)
    dataset = load_dataset(args.dataset, seed=args.seed)
    search = prepare_search(arch, dataset, config, settings)
    if not args.quiet:
        search.on_trial = _print_trial
    try:
        summary = search.optimize()
    except KeyboardInterrupt:
        search.stop()
        raise
    if args.export and summary["best_trial"] is not None:
        from builder.search.export import export_best

        summary["exported"] = [str(p) for p in export_best(search.study, args.export, search.store)]
    print(json.dumps(summary), flush=True)
    return 0


def base_config(graph_path: str, *, epochs: int | None, seed: int, device: str):
    """The template's suggested settings (when the graph is a template) with the flags on top."""
    from pathlib import Path

    from builder.templates import DESCRIPTIONS
    from builder.training import TrainConfig

    suggested = DESCRIPTIONS.get(Path(graph_path).stem, (None, None, {}))[2]
    values = {**suggested, "seed": seed, "device": device}
    if epochs is not None:
        values["epochs"] = epochs
    return TrainConfig.from_dict(values)


def _study_name(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_" else "_" for c in name.lower())[:100] or "search"


def _print_trial(frozen) -> None:
    value = "" if frozen.value is None else f" value={frozen.value:.4f}"
    why = frozen.user_attrs.get("infeasible", "")
    print(
        f"trial {frozen.number}: {frozen.state.name.lower()}{value} {json.dumps(frozen.params)}"
        + (f" ({why})" if why else ""),
        file=sys.stderr,
        flush=True,
    )
