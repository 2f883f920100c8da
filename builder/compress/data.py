"""The dataset a model was trained on, rebuilt with the same split so val figures stay honest."""

from __future__ import annotations

from typing import Any


def dataset_for(name: str, settings: dict[str, Any], fraction: float | None = None):
    """Load the built-in set `name`; a bundle's config.json gives the seed and split it used.

    fraction: train on that share of the training split only (the validation split is whole).
    """
    from builder.data import load_dataset

    options: dict[str, Any] = {}
    seed = 0
    if settings.get("dataset") == name:
        options = dict(settings.get("dataset_options") or {})
        seed = int(settings.get("data_seed", settings.get("seed", 0)) or 0)
        if settings.get("val_fraction") is not None:
            options["val_fraction"] = float(settings["val_fraction"])
        if settings.get("task") == "reconstruction":
            options["task"] = "reconstruction"
    options.pop("seed", None)
    if fraction is not None:
        options["fraction"] = fraction
    return load_dataset(name, seed=seed, **options)
