"""Search costs, in one run: pruning's time saving and the per-trial overhead of searching.

    .venv/bin/python bench/search_pruning.py [--trials 30] [--epochs 10] [--device cpu]

The digits MLP template searches fc1's width (16..256, log) and the learning rate
(1e-5..1e-1, log) with TPE (seed 0), each trial training --epochs epochs (20, the template's). Three timings:
  1. the search without pruning (pruner none);
  2. the same search with the median pruner;
  3. every trial of search 1 trained again alone: the same graph and TrainConfig through
     a plain Trainer (started in its thread and joined), no Optuna, no run store.
Figures: time(2) / time(1) (target < 0.60) and time(1) / time(3) - 1, the search's
overhead per trial (target < 5%). Searches use a SQLite study file and a run store in a
temporary folder, as the app and CLI do by default.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from builder.data import load_dataset
from builder.search import SearchSettings, apply_trial, prepare_search
from builder.templates import load_template
from builder.training import TrainConfig, Trainer

SPACE = {
    "params": {"fc1": {"out_features": {"low": 16, "high": 256, "log": True}}},
    "train": {"lr": {"low": 1e-5, "high": 1e-1, "log": True}},
}


def timed_search(arch, dataset, config, pruner: str, trials: int, home: Path):
    settings = SearchSettings(
        study=f"bench-{pruner}-{trials}",
        n_trials=trials,
        sampler="tpe",
        pruner=pruner,
        seed=0,
        home=str(home),
    )
    search = prepare_search(arch, dataset, config, settings)
    start = time.perf_counter()
    summary = search.optimize()
    return time.perf_counter() - start, summary, search


def retrain_alone(arch, dataset, config, search) -> float:
    """Train each trial's graph and settings again with a bare Trainer; total seconds."""
    total = 0.0
    for trial in search.study.trials:
        start = time.perf_counter()
        trial_arch, trial_config = apply_trial(arch, config, trial.params, search.space)
        trainer = Trainer(trial_arch, dataset, trial_config)
        trainer.start()  # in its own thread, as the app, the CLI and a search trial train
        trainer.join()
        total += time.perf_counter() - start
    return total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=30)
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    arch = load_template("mlp_digits")
    arch.search = SPACE
    dataset = load_dataset("digits", seed=0)
    config = TrainConfig(epochs=args.epochs, device=args.device)
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp)
        warm = Trainer(arch, dataset, TrainConfig(epochs=1, device=args.device))
        warm.start()  # warm-up: first-call costs stay out of both timings
        warm.join()
        # SQLAlchemy compiles each query on first use (~0.7 s once per process): warm it too.
        timed_search(arch, dataset, TrainConfig(epochs=1, device=args.device), "median", 2, home)
        plain_s, plain, search = timed_search(arch, dataset, config, "none", args.trials, home)
        alone_s = retrain_alone(arch, dataset, config, search)
        pruned_s, pruned, _ = timed_search(arch, dataset, config, "median", args.trials, home)
    result = {
        "trials": args.trials,
        "epochs": args.epochs,
        "search_no_pruning_s": round(plain_s, 2),
        "search_median_pruning_s": round(pruned_s, 2),
        "pruning_time_ratio": round(pruned_s / plain_s, 3),
        "n_pruned": pruned["n_pruned"],
        "best_no_pruning": plain["best_value"],
        "best_with_pruning": pruned["best_value"],
        "same_trials_trained_alone_s": round(alone_s, 2),
        "search_overhead": round(plain_s / alone_s - 1, 4),
    }
    print(json.dumps(result))
    ok = result["pruning_time_ratio"] < 0.6 and result["search_overhead"] < 0.05
    print(
        f"pruning: {result['pruning_time_ratio']:.3f}x the time (target < 0.60); "
        f"overhead per trial: {result['search_overhead']:+.1%} (target < 5%)"
        + ("" if ok else "  [target not met]"),
        file=sys.stderr,
    )


if __name__ == "__main__":
    main()
