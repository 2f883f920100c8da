"""The transfer-learning walkthrough: pretrain the digits CNN on 0-4, fine-tune it on a small
share of 5-9 with its convolutions frozen, and train the same network from scratch on that
share. All three are runs in the store (compare them in the Runs tab).

    python -m builder.runs.walkthrough [--fraction 0.05] [--project P] [--home DIR]

Ends with one JSON line: the three run ids and their best validation accuracies.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

TEMPLATE = "lenet_digits"
PRETRAIN_CLASSES = [0, 1, 2, 3, 4]
TARGET_CLASSES = [5, 6, 7, 8, 9]
FROZEN = ["conv1", "bn1", "conv2", "bn2"]  # the convolutional feature extractor


def run_walkthrough(
    store,
    project: str | None = None,
    fraction: float = 0.05,
    pretrain_epochs: int = 15,
    finetune_epochs: int = 30,
    seed: int = 0,
) -> dict[str, Any]:
    """Three recorded runs; returns their ids and best validation accuracies."""
    from builder.data import load_dataset
    from builder.runs.warm import warm_start
    from builder.templates import load_template
    from builder.training import TrainConfig, Trainer

    def train(arch, classes, share, epochs, note, init_from=None, lr=1e-3):
        data = load_dataset("digits", seed=seed, classes=classes, fraction=share)
        config = TrainConfig(epochs=epochs, lr=lr, seed=seed, device="cpu")
        options = {"classes": classes, "fraction": share}
        trainer = Trainer(
            arch,
            data,
            config,
            store=store,
            project=project,
            note=note,
            extra={"dataset_options": {k: v for k, v in options.items() if v is not None}},
        )
        if init_from is not None:
            warm_start(trainer, init_from, store)
        summary = trainer.run()
        return trainer.run_id, summary

    pre_id, pre = train(
        load_template(TEMPLATE), PRETRAIN_CLASSES, None, pretrain_epochs, "pretrain on digits 0-4"
    )
    frozen = load_template(TEMPLATE)
    for node in FROZEN:
        frozen.set_trainable(node, False)
    # A new head for the new classes: its id is not in the pretrained run, so the warm start
    # skips it (reported) and it starts fresh, as a swapped head should.
    frozen.rename_node("fc2", "head")
    fine_id, fine = train(
        frozen,
        TARGET_CLASSES,
        fraction,
        finetune_epochs,
        f"fine-tune on {fraction:.0%} of 5-9, convs frozen",
        init_from=pre_id,
        lr=1e-2,
    )
    scratch_id, scratch = train(
        load_template(TEMPLATE),
        TARGET_CLASSES,
        fraction,
        finetune_epochs,
        f"from scratch on {fraction:.0%} of 5-9",
        lr=1e-2,
    )
    return {
        "pretrain": {"run": pre_id, "best_val_accuracy": pre.get("best_val_accuracy")},
        "finetune": {"run": fine_id, "best_val_accuracy": fine.get("best_val_accuracy")},
        "scratch": {"run": scratch_id, "best_val_accuracy": scratch.get("best_val_accuracy")},
        "fraction": fraction,
    }


def main(argv: list[str] | None = None) -> int:
    from builder.errors import BuilderError
    from builder.runs.store import RunStore

    parser = argparse.ArgumentParser(prog="python -m builder.runs.walkthrough")
    parser.add_argument("--fraction", type=float, default=0.05)
    parser.add_argument("--pretrain-epochs", type=int, default=15)
    parser.add_argument("--finetune-epochs", type=int, default=30)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--project")
    parser.add_argument("--home")
    args = parser.parse_args(argv)
    try:
        result = run_walkthrough(
            RunStore(home=args.home),
            project=args.project,
            fraction=args.fraction,
            pretrain_epochs=args.pretrain_epochs,
            finetune_epochs=args.finetune_epochs,
            seed=args.seed,
        )
    except BuilderError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    for name in ("pretrain", "finetune", "scratch"):
        print(
            f"{name}: run {result[name]['run']} best val accuracy {result[name]['best_val_accuracy']:.4f}"
        )
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
