"""The Dataset every source turns into, and the split / standardise step they share."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

from builder.layers.base import Shape

TASKS = ("classification", "regression", "reconstruction")


@dataclass
class Dataset:
    """Train and validation tensors plus what the app needs to check them against a graph.

    x_* are float32 (standardised on the training part) or int64 token ids; y_* are
    int64 class indices (classification) or float32 targets of `target_shape`.
    """

    name: str
    x_train: torch.Tensor
    y_train: torch.Tensor
    x_val: torch.Tensor
    y_val: torch.Tensor
    input_shape: Shape
    dtype: str  # "float32" | "int64"
    task: str  # one of TASKS
    class_names: list[str] = field(default_factory=list)
    target_shape: Shape = ()
    # Standard deviation of the noise the trainer adds to training inputs (denoising autoencoder).
    input_noise: float = 0.0
    # Token id -> word, for text sets (id 0 is padding).
    vocabulary: list[str] | None = None
    # What standardisation did, so predictions can be mapped back (None: not standardised).
    input_mean: np.ndarray | float | None = None
    input_std: np.ndarray | float | None = None
    target_mean: float | None = None
    target_std: float | None = None

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    @property
    def n_train(self) -> int:
        return int(self.x_train.shape[0])

    @property
    def n_val(self) -> int:
        return int(self.x_val.shape[0])

    def describe(self) -> str:
        """One line for the UI: '1,437 train / 360 val, 1×8×8 images, 10 classes'."""
        what = f"{format_shape(self.input_shape)} {kind_of_input(self)}"
        if self.task == "classification":
            goal = f"{self.num_classes} classes"
        elif self.task == "regression":
            goal = f"regression to {format_shape(self.target_shape)}"
        else:
            goal = "reconstruction" + (f" (noise {self.input_noise:g})" if self.input_noise else "")
        return f"{self.n_train:,} train / {self.n_val:,} val, {what}, {goal}"


def format_shape(shape: Shape) -> str:
    return "×".join(str(s) for s in shape) if shape else "scalar"


def kind_of_input(dataset: Dataset) -> str:
    """'images', 'token sequences' or 'features': how messages talk about the input."""
    if dataset.dtype == "int64":
        return "token sequences"
    return "images" if len(dataset.input_shape) >= 2 else "features"


def split_and_standardise(
    name: str,
    x: np.ndarray,
    y: np.ndarray,
    *,
    task: str,
    class_names: list[str] | None = None,
    seed: int = 0,
    val_fraction: float = 0.2,
    standardise: bool = True,
    dtype: str = "float32",
    input_noise: float = 0.0,
    vocabulary: list[str] | None = None,
    train_fraction: float = 1.0,
) -> Dataset:
    """Shuffle with `seed`, split off `val_fraction`, fit standardisation on the train part only.

    `train_fraction` keeps only that share of the training part (the validation part stays
    whole), for small-data and transfer-learning runs.

    Images (2+ dims per sample) get one mean/std for all pixels; tabular features one per
    column; regression targets are standardised too so one learning rate fits every set.
    """
    if task not in TASKS:
        raise ValueError(f"unknown task {task!r}")
    n = len(x)
    order = np.random.default_rng(seed).permutation(n)
    n_val = min(max(1, round(n * val_fraction)), n - 1) if val_fraction > 0 else 0
    val_idx, train_idx = order[:n_val], order[n_val:]
    if train_fraction < 1.0:
        train_idx = train_idx[: max(1, round(len(train_idx) * train_fraction))]
    x_train, x_val = x[train_idx], x[val_idx]
    ds = Dataset(
        name=name,
        x_train=x_train,
        y_train=y[train_idx],
        x_val=x_val,
        y_val=y[val_idx],
        input_shape=tuple(int(s) for s in x.shape[1:]),
        dtype=dtype,
        task=task,
        class_names=list(class_names or []),
        input_noise=input_noise,
        vocabulary=vocabulary,
    )
    if dtype == "float32" and standardise:
        _standardise_inputs(ds)
    if task == "regression" and standardise:
        _standardise_targets(ds)
    _to_tensors(ds, seed)
    return ds


def _standardise_inputs(ds: Dataset) -> None:
    # The exported train.py (export_templates) computes this the same way, to the last bit.
    images = len(ds.input_shape) >= 2
    ds.x_train, ds.x_val = (_floats(x) for x in (ds.x_train, ds.x_val))
    mean, std = _moments(ds.x_train, per_column=not images)
    # Constant features (std 0) would divide by zero; leave them centred instead.
    std = np.where(std > 1e-12, std, 1.0)
    for part in (ds.x_train, ds.x_val):
        _standardise_in_place(part, mean, std)
    ds.input_mean, ds.input_std = (float(mean), float(std)) if images else (mean, std)


def _floats(x: np.ndarray) -> np.ndarray:
    return x if np.issubdtype(x.dtype, np.floating) else x.astype(np.float32)


_CHUNK_VALUES = 1 << 20  # the exported train.py uses the same size: same sums, same bits


def row_chunks(x: np.ndarray):
    """(first row, view) for consecutive rows of x, each view about _CHUNK_VALUES values:
    passes over a large upload then need only a few MiB of temporaries."""
    per_row = max(1, x[0].size if len(x) else 1)
    step = max(1, _CHUNK_VALUES // per_row)
    for start in range(0, len(x), step):
        yield start, x[start : start + step]


def _moments(x: np.ndarray, per_column: bool) -> tuple[np.ndarray, np.ndarray]:
    """Mean and standard deviation in float64 (per column, or of all values), accumulated
    chunk by chunk in two passes, so a large upload is never copied whole into float64."""
    axis = 0 if per_column else None
    total = np.zeros(x.shape[1:] if per_column else ())
    for _, chunk in row_chunks(x):
        total += chunk.sum(axis=axis, dtype=np.float64)
    count = max(1, len(x) if per_column else x.size)
    mean = total / count
    squares = np.zeros_like(mean)
    for _, chunk in row_chunks(x):
        squares += np.square(chunk - mean, dtype=np.float64).sum(axis=axis)
    return mean, np.sqrt(squares / count)


def _standardise_in_place(x: np.ndarray, mean: np.ndarray, std: np.ndarray) -> None:
    # In place: the split made x (fancy indexing copies), and a whole-array expression would
    # hold one more copy of the data.
    mean, std = mean.astype(x.dtype), std.astype(x.dtype)
    for _, chunk in row_chunks(x):
        chunk -= mean
        chunk /= std


def _standardise_targets(ds: Dataset) -> None:
    mean, std = float(ds.y_train.mean()), float(ds.y_train.std())
    std = std if std > 1e-12 else 1.0
    ds.target_mean, ds.target_std = mean, std
    ds.y_train = (ds.y_train - mean) / std
    ds.y_val = (ds.y_val - mean) / std


def _to_tensors(ds: Dataset, seed: int) -> None:
    x_type = torch.int64 if ds.dtype == "int64" else torch.float32
    ds.x_train = torch.as_tensor(np.ascontiguousarray(ds.x_train)).to(x_type)
    ds.x_val = torch.as_tensor(np.ascontiguousarray(ds.x_val)).to(x_type)
    if ds.task == "classification":
        ds.y_train = torch.as_tensor(ds.y_train).to(torch.int64).reshape(-1)
        ds.y_val = torch.as_tensor(ds.y_val).to(torch.int64).reshape(-1)
        ds.target_shape = ()
    elif ds.task == "regression":
        y_train = torch.as_tensor(np.ascontiguousarray(ds.y_train)).to(torch.float32)
        y_val = torch.as_tensor(np.ascontiguousarray(ds.y_val)).to(torch.float32)
        if y_train.dim() == 1:
            y_train, y_val = y_train[:, None], y_val[:, None]
        ds.y_train, ds.y_val = y_train, y_val
        ds.target_shape = tuple(y_train.shape[1:])
    else:
        # Target is the clean input; the trainer adds fresh noise to training inputs each step.
        ds.y_train, ds.y_val = ds.x_train, ds.x_val.clone()
        ds.target_shape = ds.input_shape
        if ds.input_noise > 0:
            # Validation inputs get one fixed draw of noise, so val loss is comparable across epochs.
            gen = torch.Generator().manual_seed(seed + 1)
            noise = torch.randn(ds.x_val.shape, generator=gen) * ds.input_noise
            ds.x_val = ds.x_val + noise
