"""Does search earn its keep? A 20-trial search against the template's own settings, one run.

    .venv/bin/python bench/search_quality.py [--trials 20] [--epochs 20] [--seed 0]

Both sides train the digits MLP template for the same number of epochs (20, the
template's) on the same split (seed 0):
  - default: the template as shipped (fc1 64 wide, Adam, lr 1e-3, batch 64);
  - search:  TPE (seed 0) with the median pruner over fc1's width (32..512, log), the
             learning rate (1e-4..3e-2, log) and the batch size (32 | 64 | 128).
The figure is the final-epoch validation accuracy of each (the search's best trial),
and the ratio of the error rates (search / default; below 1 means search won).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from builder.data import load_dataset
from builder.search import SearchSettings, prepare_search
from builder.templates import load_template, template_settings
from builder.training import TrainConfig, Trainer

SPACE = {
    "params": {"fc1": {"out_features": {"low": 32, "high": 512, "log": True}}},
    "train": {
        "lr": {"low": 1e-4, "high": 3e-2, "log": True},
        "batch_size": {"choices": [32, 64, 128]},
    },
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=20)
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    arch = load_template("mlp_digits")
    dataset = load_dataset("digits", seed=args.seed)
    values = {**template_settings("mlp_digits"), "epochs": args.epochs, "seed": args.seed}
    config = TrainConfig(**values, device=args.device)
    default = Trainer(arch, dataset, config)
    default.start()
    default.join()
    default_acc = default.summary()["val_accuracy"]
    searched = arch.copy()
    searched.search = SPACE
    with tempfile.TemporaryDirectory() as tmp:
        settings = SearchSettings(
            study="quality", n_trials=args.trials, seed=args.seed, pruner="median", home=tmp
        )
        summary = prepare_search(searched, dataset, config, settings).optimize()
    result = {
        "epochs": args.epochs,
        "default_val_accuracy": round(default_acc, 4),
        "search_best_val_accuracy": round(summary["best_value"], 4),
        "best_params": summary["best_params"],
        "n_trials": summary["n_trials"],
        "n_pruned": summary["n_pruned"],
        "error_ratio": round((1 - summary["best_value"]) / max(1 - default_acc, 1e-9), 3),
    }
    print(json.dumps(result))
    won = summary["best_value"] > default_acc
    print(
        f"default {default_acc:.4f} vs search {summary['best_value']:.4f} "
        + ("(search wins)" if won else "[target not met]"),
        file=sys.stderr,
    )


if __name__ == "__main__":
    main()
