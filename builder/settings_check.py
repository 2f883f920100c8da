"""Type and range checks for training settings read from untrusted JSON (export --config,
a bundle's config.json), before any of them sizes an allocation or reaches int()/float().

Torch-free on purpose: `validate` and `export` must not import the trainer to check a file.
"""

from __future__ import annotations

import math
import numbers
from typing import Any

from .errors import BuilderError

# The most samples an embedded set may be asked for: beyond this a config is a memory bomb,
# not a dataset (the largest built-in default is 20,000).
MAX_SAMPLES = 2_000_000
MAX_SEED = 2**63 - 1

# setting -> (kind, low, high); None bounds are open. Kinds: int, float, bool, text.
TRAIN_FIELDS: dict[str, tuple[str, float | None, float | None]] = {
    "epochs": ("int", 1, 100_000),
    "batch_size": ("int", 1, 1_000_000),
    "optimizer": ("text", None, None),
    "lr": ("float", 1e-12, 1_000.0),
    "momentum": ("float", 0.0, 10.0),
    "weight_decay": ("float", 0.0, 100.0),
    "l1": ("float", 0.0, 100.0),
    "schedule": ("text", None, None),
    "step_size": ("int", 1, 1_000_000),
    "gamma": ("float", 0.0, 100.0),
    "loss": ("text", None, None),
    "clip_grad": ("float", 0.0, 1e9),
    "early_stopping_patience": ("int", 0, 1_000_000),
    "seed": ("int", 0, MAX_SEED),
    "data_seed": ("int", 0, MAX_SEED),
    "device": ("text", None, None),
    "amp": ("bool", None, None),
    "compile": ("bool", None, None),
    "stats_every": ("int", 0, 1_000_000),
    "log_every": ("int", 1, 1_000_000),
    "augment_shift": ("int", 0, 64),
    "augment_hflip": ("bool", None, None),
    "augment_noise": ("float", 0.0, 100.0),
    "dataset": ("text", None, None),
}

DATASET_FIELDS: dict[str, tuple[str, float | None, float | None]] = {
    "n_samples": ("int", 4, MAX_SAMPLES),
    "noise": ("float", 0.0, 100.0),
    "seed": ("int", 0, MAX_SEED),
    "val_fraction": ("float", 0.01, 0.99),
    "task": ("text", None, None),
    "turns": ("float", 0.1, 100.0),
    "centers": ("int", 1, 1_000),
    "channels": ("int", 1, 64),
    "height": ("int", 1, 1_024),
    "width": ("int", 1, 1_024),
    "num_classes": ("int", 2, 10_000),
}


def check_settings(data: Any, *, file: str | None = None) -> dict[str, Any]:
    """The settings dict, each known value checked for type and range; BuilderError names it.

    Unknown keys pass through (a bundle's config.json carries more than TrainConfig), but a
    nested `dataset_options` is checked too, and `label_column` must be text or a number.
    """
    if not isinstance(data, dict):
        raise BuilderError("must hold a JSON object of training settings", file=file)
    for name, value in data.items():
        if name in TRAIN_FIELDS and value is not None:
            check_number_or_text(name, value, TRAIN_FIELDS[name], file=file)
    options = data.get("dataset_options")
    if options is not None:
        check_dataset_options(options, file=file)
    return data


def check_dataset_options(
    options: Any, *, file: str | None = None, prefix: str = "dataset_options."
) -> dict[str, Any]:
    """How an embedded set is loaded (n_samples, noise, maker options), checked; errors
    name the field as prefix + name."""
    if not isinstance(options, dict):
        raise BuilderError(
            "must be a JSON object", field="dataset_options", file=file, hint='e.g. {"noise": 0.1}'
        )
    for name, value in options.items():
        field = f"{prefix}{name}"
        if name == "label_column":
            if value is not None and (not isinstance(value, str | int) or isinstance(value, bool)):
                raise BuilderError("must be a column name or number", field=field, file=file)
        elif name in DATASET_FIELDS:
            if value is not None:
                check_number_or_text(field, value, DATASET_FIELDS[name], file=file)
        else:
            raise BuilderError(
                f"unknown dataset option {str(name)[:40]!r}",
                field="dataset_options",
                file=file,
                hint=f"Known options: {', '.join(sorted([*DATASET_FIELDS, 'label_column']))}.",
            )
    return options


def check_number_or_text(
    field: str, value: Any, rule: tuple[str, float | None, float | None], *, file=None
) -> None:
    """One value against its (kind, low, high) rule."""
    kind, low, high = rule
    where = {"field": field, "file": file}
    if kind == "text":
        if not isinstance(value, str) or len(value) > 100:
            raise BuilderError("must be a short text", **where)
        return
    if kind == "bool":
        if not isinstance(value, bool):
            raise BuilderError("must be true or false", **where)
        return
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise BuilderError(f"must be a number, not {type(value).__name__}", **where)
    whole = isinstance(value, numbers.Integral) or (
        isinstance(value, float) and math.isfinite(value) and value.is_integer()
    )
    if kind == "int" and not whole:
        raise BuilderError("must be a whole number", **where)
    try:
        finite = math.isfinite(value)
    except OverflowError:
        finite = False
    if not finite or (low is not None and value < low) or (high is not None and value > high):
        raise BuilderError(
            f"must be between {_bound(low)} and {_bound(high)}",
            **where,
            hint="Fix the value in the settings file.",
        )


def _bound(value: float | None) -> str:
    if value is None:
        return "any"
    return f"{int(value):,}" if float(value).is_integer() else f"{value:g}"
