"""Search costs, in one run: pruning's time saving and the per-trial overhead of searching.

    .venv/bin/python bench/search_pruning.py [--trials 30] [--epochs 10] [--device cpu]

The digits MLP template searches fc1's width (16..256, log) and the learning rate
(1e-5..1e-1, log) with TPE (seed 0), each trial training --epochs epochs (20, the template's). Three timings:
  1. the search without pruning (pruner none);
  2. the same search with the median pruner;
  3. the per-trial overhead: pairs of one search trial and the same graph and TrainConfig
     trained alone as a user would (a Trainer started in its thread and joined, recorded
     in the run store like every training; no Optuna), back to back, alternating which
     goes first.
--template search_digits runs the same on the built-in CNN example and its own space,
whose trials last seconds rather than the MLP's ~0.3 s, where Optuna's fixed cost per
trial (~75 ms) weighs less.
Figures: time(2) / time(1) (each the mean of two runs, ordered none, median, median,
none; target < 0.60) and the median over pairs of search step / alone - 1 (target < 5%). Searches use a SQLite study file and a run store in a
temporary folder, as the app and CLI do by default.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import optuna
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from builder.data import load_dataset
from builder.runs import RunStore
from builder.search import SearchSettings, apply_trial, prepare_search
from builder.templates import load_template
from builder.training import TrainConfig, Trainer

SPACE = {
    "params": {"fc1": {"out_features": {"low": 16, "high": 256, "log": True}}},
    "train": {"lr": {"low": 1e-5, "high": 1e-1, "log": True}},
}


def timed_search(arch, dataset, config, pruner: str, trials: int, home: Path, tag: str = ""):
    settings = SearchSettings(
        study=f"bench-{pruner}-{trials}{tag}",
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


def train_alone(arch, dataset, config, params, space, store) -> float:
    """Seconds to build and train one trial's graph and settings as a user trains it by
    hand (a Trainer in its thread, recorded in the run store like every training)."""
    start = time.perf_counter()
    trial_arch, trial_config = apply_trial(arch, config, params, space)
    trainer = Trainer(trial_arch, dataset, trial_config, store=store)
    trainer.start()  # in its own thread, as the app, the CLI and a search trial train
    trainer.join()
    return time.perf_counter() - start


def overhead_pairs(arch, dataset, config, trials: int, home: Path) -> list[float]:
    """Per trial: (search step time) / (the same config trained alone) - 1, back to back.

    Each pair runs one search trial (sampling, storage, run store, training) and then the
    trial's config alone, alternating which goes first, so load from elsewhere on the
    machine hits both sides alike; the median of the pairs is the figure.
    """
    settings = SearchSettings(
        study="bench-overhead", n_trials=1, pruner="none", seed=0, home=str(home)
    )
    search = prepare_search(arch, dataset, config, settings)
    store = RunStore(home=home)
    ratios = []
    for k in range(trials):
        alone_first = k % 2 == 1
        if alone_first:  # the params are drawn first, so the alone run can go first
            trial = search.study.ask()
            params = search.space.suggest(trial)
            search.study.tell(trial, state=optuna.trial.TrialState.FAIL)
            alone = train_alone(arch, dataset, config, params, search.space, store)
            start = time.perf_counter()
            search.study.enqueue_trial(params)
            search.optimize()
            step = time.perf_counter() - start
        else:
            start = time.perf_counter()
            search.optimize()
            step = time.perf_counter() - start
            params = search.study.trials[-1].params
            alone = train_alone(arch, dataset, config, params, search.space, store)
        ratios.append(step / alone - 1)
    return ratios


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=30)
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--pairs", type=int, default=20, help="search-step / alone pairs")
    parser.add_argument(
        "--template",
        default="mlp_digits",
        help="mlp_digits (its fc1 width and lr searched) or a template with its own search "
        "section, e.g. search_digits (the built-in CNN example)",
    )
    args = parser.parse_args()
    # One torch thread: on a small shared machine, spinning OpenMP threads made timings
    # swing 2x between identical runs; the app trains with cores - 1 for the same reason.
    torch.set_num_threads(1)
    arch = load_template(args.template)
    if not arch.search:
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
        # The two searches twice, in the order none, median, median, none; each figure is
        # the mean of its two runs, so a busy spell on the machine hits both alike.
        plain_a, plain, _ = timed_search(arch, dataset, config, "none", args.trials, home, "a")
        pruned_a, pruned, _ = timed_search(arch, dataset, config, "median", args.trials, home, "b")
        pruned_b, _, _ = timed_search(arch, dataset, config, "median", args.trials, home, "c")
        plain_b, _, _ = timed_search(arch, dataset, config, "none", args.trials, home, "d")
        plain_s, pruned_s = (plain_a + plain_b) / 2, (pruned_a + pruned_b) / 2
        ratios = overhead_pairs(arch, dataset, config, args.pairs, home)
    result = {
        "template": args.template,
        "trials": args.trials,
        "epochs": args.epochs,
        "search_no_pruning_s": round(plain_s, 2),
        "search_median_pruning_s": round(pruned_s, 2),
        "pruning_time_ratio": round(pruned_s / plain_s, 3),
        "n_pruned": pruned["n_pruned"],
        "best_no_pruning": plain["best_value"],
        "best_with_pruning": pruned["best_value"],
        "search_runs_s": [round(t, 2) for t in (plain_a, pruned_a, pruned_b, plain_b)],
        "overhead_pairs": len(ratios),
        "search_overhead": round(statistics.median(ratios), 4),
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
