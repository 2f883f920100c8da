"""Datasets that ship with the app: generated or bundled with scikit-learn, never downloaded."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from sklearn import datasets as skdata

from builder.errors import BuilderError
from builder.settings_check import DATASET_FIELDS, check_dataset_options, check_number_or_text

from .dataset import Dataset, split_and_standardise
from .text import SEQUENCE_LENGTH, VOCAB_SIZE, make_sentiment

# name -> (make(rng, n_samples, noise, **options) -> (x, y, task, class_names, extras), help)
_MAKERS: dict[str, tuple[Callable, str]] = {}


def _register(name: str, help_text: str):
    def wrap(fn):
        _MAKERS[name] = (fn, help_text)
        return fn

    return wrap


# float32 values the synthetic image set may hold (1 GiB): its sizes come from settings files.
MAX_SYNTHETIC_VALUES = 2**28


def dataset_help(name: str) -> str:
    """One line describing an embedded set, for the dataset picker."""
    return _MAKERS[name][1]


def load_dataset(
    name: str,
    *,
    seed: int = 0,
    val_fraction: float = 0.2,
    n_samples: int | None = None,
    noise: float | None = None,
    task: str | None = None,
    **options,
) -> Dataset:
    """Build an embedded dataset by name; the same seed gives exactly the same split.

    `task="reconstruction"` turns an image or feature set into autoencoder data (target =
    input); then `noise` is the std of the noise added to inputs only (denoising).
    """
    if name not in _MAKERS:
        raise BuilderError(
            f"unknown dataset {name!r}",
            field="dataset",
            hint=f"Choose one of: {', '.join(DATASETS)}.",
        )
    make = _MAKERS[name][0]
    given = {"n_samples": n_samples, "noise": noise, **options}
    check_dataset_options({k: v for k, v in given.items() if k in DATASET_FIELDS}, prefix="")
    rng = np.random.default_rng(seed)
    # A share of the training split only, so a small-data run still validates on everything.
    fraction = options.pop("fraction", None)
    train_fraction = 1.0 if fraction is None else check_fraction(fraction)
    if task == "reconstruction":
        x, _, _, _, extra = make(rng, n_samples, None, **options)
        if extra.get("dtype") == "int64":
            raise BuilderError(
                f"{name} holds token ids and cannot be reconstructed",
                field="task",
                hint="Use an image set such as digits for an autoencoder.",
            )
        # Keep [0, 1] pixels unstandardised so a Sigmoid output can reproduce them.
        return split_and_standardise(
            name,
            x,
            x,
            task="reconstruction",
            seed=seed,
            val_fraction=val_fraction,
            standardise=not extra.get("unit_range", False),
            input_noise=float(noise or 0.0),
            train_fraction=train_fraction,
        )
    x, y, made_task, class_names, extra = make(rng, n_samples, noise, **options)
    if task not in (None, made_task):
        raise BuilderError(
            f"{name} is a {made_task} set, not {task}",
            field="task",
            hint="Pick a dataset made for that task.",
        )
    return split_and_standardise(
        name,
        x,
        y,
        task=made_task,
        class_names=class_names,
        seed=seed,
        val_fraction=val_fraction,
        standardise=extra.get("standardise", True),
        dtype=extra.get("dtype", "float32"),
        vocabulary=extra.get("vocabulary"),
        train_fraction=train_fraction,
    )


def check_fraction(fraction) -> float:
    """A share of the training split in (0, 1], or a BuilderError naming the field."""
    if isinstance(fraction, bool) or not isinstance(fraction, int | float) or not 0 < fraction <= 1:
        raise BuilderError("fraction must be a share in (0, 1]", field="fraction", hint="e.g. 0.1.")
    return float(fraction)


def _n(n_samples: int | None, default: int) -> int:
    if n_samples is None:
        return default
    check_number_or_text("n_samples", n_samples, DATASET_FIELDS["n_samples"])
    return int(n_samples)


def _noise(noise: float | None, default: float) -> float:
    return default if noise is None else float(noise)


def _seed_of(rng: np.random.Generator) -> int:
    return int(rng.integers(2**31 - 1))


@_register("digits", "8×8 handwritten digits (1,797 images, 10 classes), from scikit-learn")
def _digits(rng, n_samples, noise, classes=None, **options):
    bunch = skdata.load_digits()
    # Pixels are 0..16; scale to [0, 1] so reconstruction targets suit a Sigmoid output.
    x = (bunch.images / 16.0).astype(np.float32)[:, None, :, :]
    y = bunch.target.astype(np.int64)
    if n_samples is not None:
        keep = rng.permutation(len(x))[: _n(n_samples, len(x))]
        x, y = x[keep], y[keep]
    x, y = _digit_subset(x, y, classes)
    if noise:
        x = x + rng.normal(0, noise, x.shape).astype(np.float32)
    return x, y, "classification", [str(d) for d in range(10)], {"unit_range": True}


@_register("digits32", "the 8×8 digits scaled ×3 and padded to 1×32×32 (LeNet-5's input size)")
def _digits32(rng, n_samples, noise, classes=None, **options):
    x, y, task, names, extra = _digits(rng, n_samples, noise, classes)
    return pad_to_32(x), y, task, names, extra


def pad_to_32(x: np.ndarray) -> np.ndarray:
    """(n, 1, 8, 8) -> (n, 1, 32, 32): each pixel becomes 3×3, then a 4-pixel border."""
    big = x.repeat(3, axis=2).repeat(3, axis=3)
    return np.pad(big, ((0, 0), (0, 0), (4, 4), (4, 4)))


def _digit_subset(x, y, classes):
    """Only the listed digit classes, labels kept (5 stays 5): pretrain on some classes,
    fine-tune on others (transfer learning)."""
    if classes is None:
        return x, y
    ok = isinstance(classes, list | tuple) and classes
    ok = ok and all(isinstance(c, int) and not isinstance(c, bool) and 0 <= c <= 9 for c in classes)
    if not ok:
        raise BuilderError(
            "classes must be a list of digits 0-9", field="classes", hint="e.g. [0, 1, 2, 3, 4]."
        )
    mask = np.isin(y, np.asarray(classes))
    return x[mask], y[mask]


@_register("moons", "two interleaving half circles (2-D, 2 classes)")
def _moons(rng, n_samples, noise, **options):
    x, y = skdata.make_moons(
        _n(n_samples, 1000), noise=_noise(noise, 0.1), random_state=_seed_of(rng)
    )
    return x.astype(np.float32), y, "classification", ["0", "1"], {}


@_register("circles", "a ring around a disc (2-D, 2 classes)")
def _circles(rng, n_samples, noise, **options):
    x, y = skdata.make_circles(
        _n(n_samples, 1000), noise=_noise(noise, 0.05), factor=0.5, random_state=_seed_of(rng)
    )
    return x.astype(np.float32), y, "classification", ["outer", "inner"], {}


@_register("spiral", "two interleaved spirals (2-D, 2 classes), the hard Playground set")
def _spiral(rng, n_samples, noise, turns: float = 1.75, **options):
    n = _n(n_samples, 1000)
    label = np.arange(n) % 2
    t = rng.uniform(0.0, 1.0, n)
    angle = t * turns * 2 * np.pi + label * np.pi
    radius = t * 5
    x = np.stack([radius * np.sin(angle), radius * np.cos(angle)], axis=1)
    x += rng.normal(0, _noise(noise, 0.1), x.shape)
    return x.astype(np.float32), label, "classification", ["0", "1"], {}


@_register("xor", "four quadrants, opposite corners share a class (2-D, 2 classes)")
def _xor(rng, n_samples, noise, **options):
    n = _n(n_samples, 1000)
    x = rng.uniform(-5, 5, (n, 2))
    # Keep points off the axes so the classes are separable before noise.
    x += np.sign(x) * 0.3
    y = ((x[:, 0] > 0) ^ (x[:, 1] > 0)).astype(np.int64)
    x += rng.normal(0, _noise(noise, 0.1), x.shape)
    return x.astype(np.float32), y, "classification", ["0", "1"], {}


@_register("blobs", "Gaussian clusters (2-D, 3 classes by default)")
def _blobs(rng, n_samples, noise, centers: int = 3, **options):
    x, y = skdata.make_blobs(
        _n(n_samples, 1000),
        centers=int(centers),
        cluster_std=1.0 + 4 * _noise(noise, 0.0),
        random_state=_seed_of(rng),
    )
    return x.astype(np.float32), y, "classification", [str(c) for c in range(int(centers))], {}


@_register("sine", "noisy sine wave, y = sin(x) + noise (regression, 1 input)")
def _sine(rng, n_samples, noise, **options):
    n = _n(n_samples, 1000)
    x = rng.uniform(-2 * np.pi, 2 * np.pi, (n, 1))
    y = np.sin(x[:, 0]) + rng.normal(0, _noise(noise, 0.1), n)
    return x.astype(np.float32), y.astype(np.float32), "regression", [], {}


@_register("friedman", "Friedman #1 benchmark (regression, 5 inputs)")
def _friedman(rng, n_samples, noise, **options):
    x, y = skdata.make_friedman1(
        _n(n_samples, 1000), n_features=5, noise=_noise(noise, 1.0), random_state=_seed_of(rng)
    )
    return x.astype(np.float32), y.astype(np.float32), "regression", [], {}


@_register("synthetic", "random C×H×W images with labels, any size (for benchmarks)")
def _synthetic(rng, n_samples, noise, channels=1, height=32, width=32, num_classes=10, **options):
    n = _n(n_samples, 8192)
    values = n * int(channels) * int(height) * int(width)
    if values > MAX_SYNTHETIC_VALUES:
        raise BuilderError(
            f"{n:,} images of {channels}×{height}×{width} are {values * 4 / 2**30:,.1f} GiB",
            field="n_samples",
            hint=f"Ask for at most {MAX_SYNTHETIC_VALUES * 4 / 2**30:.0f} GiB of images.",
        )
    y = rng.integers(0, int(num_classes), n)
    x = rng.standard_normal((n, int(channels), int(height), int(width)), dtype=np.float32)
    # A class-dependent offset makes the labels learnable, so loss curves mean something.
    x += (y[:, None, None, None] / max(1, int(num_classes) - 1) - 0.5).astype(np.float32)
    return x, y, "classification", [str(c) for c in range(int(num_classes))], {}


@_register(
    "sentiment",
    f"generated review-style sentences as token ids (length {SEQUENCE_LENGTH}, vocabulary {VOCAB_SIZE}, 2 classes)",
)
def _sentiment(rng, n_samples, noise, **options):
    x, y, vocabulary = make_sentiment(rng, _n(n_samples, 20000))
    extra = {"dtype": "int64", "standardise": False, "vocabulary": vocabulary}
    return x, y, "classification", ["negative", "positive"], extra


DATASETS: list[str] = list(_MAKERS)
