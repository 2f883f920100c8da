"""Loaders for data files the user already has: CSV, NPZ and MNIST-style IDX (raw or .gz).

Files are untrusted: NPZ is read with allow_pickle=False, sizes are checked before
reading, and every problem is a BuilderError naming the file.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np
import pandas as pd

from builder.errors import BuilderError

from .dataset import Dataset, row_chunks, split_and_standardise
from .headers import check_csv_shape, check_npz_members, is_idx, read_idx, sniff_not_npz

MAX_FILE_BYTES = 512 * 1024 * 1024
# Above this many distinct integer labels a CSV target is treated as regression.
MAX_CLASSES = 100
# With the task chosen as classification, whole-number labels may name this many classes.
MAX_EXPLICIT_CLASSES = 10_000


def load_file(
    path: str | Path,
    *,
    label_column: str | int | None = None,
    labels_path: str | Path | None = None,
    task: str | None = None,
    seed: int = 0,
    val_fraction: float = 0.2,
    max_bytes: int = MAX_FILE_BYTES,
    name: str | None = None,
    ask_task: bool = False,
) -> Dataset:
    """Load a CSV, NPZ or IDX file (chosen by extension) into a Dataset.

    CSV: numeric feature columns plus `label_column` (default: a column named label /
    target / y / class, else the last). NPZ: arrays `x` and `y`. IDX: the images file;
    the labels file is found next to it (or given as `labels_path`).
    `ask_task`: when no task is given and the labels could be either classes or values
    (whole numbers that are negative or too many for classes, or a CSV with no label column
    by name), raise TaskChoiceNeeded instead of guessing regression.
    """
    path = Path(path)
    shown = name or path.name
    _check_readable(path, max_bytes)
    suffixes = "".join(path.suffixes[-2:]).lower()
    if path.suffix.lower() == ".csv":
        x, y, found_task, classes = _read_csv(path, label_column, task, ask_task, max_bytes)
    elif path.suffix.lower() == ".npz":
        x, y, found_task, classes = _read_npz(path, max_bytes, task, ask_task)
    elif (
        "idx" in path.name.lower()
        or suffixes.endswith("-ubyte.gz")
        or "ubyte" in path.name
        or is_idx(path)
    ):
        x, y, found_task, classes = _read_idx_pair(path, labels_path, max_bytes)
    else:
        raise _error(
            path,
            f"unknown file type {path.suffix or '(none)'!r}",
            "Use a .csv, .npz or MNIST .idx / -ubyte(.gz) file.",
        )
    _check_finite(path, x, "features")
    if found_task == "regression":
        _check_finite(path, y, "targets")
    task = task or found_task
    if task == "classification" and found_task == "regression":
        raise _error(path, "the labels are not whole numbers", "Use task regression.")
    if task == "regression":
        classes = []
    x = x.astype(np.float32, copy=False)  # the readers give float32 already: no second copy
    return split_and_standardise(
        shown,
        x,
        x if task == "reconstruction" else y,
        task=task,
        class_names=classes,
        seed=seed,
        val_fraction=val_fraction,
    )


def _error(path: Path, message: str, hint: str | None = None) -> BuilderError:
    return BuilderError(message, file=path.name, hint=hint)


def _check_readable(path: Path, max_bytes: int) -> None:
    if not path.exists():
        raise _error(path, "file not found", "Check the path and file name.")
    if not path.is_file():
        raise _error(path, "is not a file", "Choose a data file, not a folder.")
    size = path.stat().st_size
    if size > max_bytes:
        raise _error(
            path,
            f"file is too large ({size / 2**20:,.0f} MB; the limit is {max_bytes / 2**20:,.0f} MB)",
            "Use a subset of the data.",
        )
    if size == 0:
        raise _error(path, "file is empty", "Choose a file that holds data.")


def _check_finite(path: Path, values: np.ndarray, what: str) -> None:
    if not np.issubdtype(values.dtype, np.floating):
        return
    first, count = None, 0
    for start, chunk in row_chunks(values):  # a whole-array mask would be one more copy
        bad = ~np.isfinite(chunk)
        found = int(bad.sum())
        if found and first is None:
            first = start + int(np.argwhere(bad)[0][0])
        count += found
    if count:
        raise _error(
            path,
            f"{what} contain {count:,} NaN or infinite values (first in sample {first})",
            "Remove or fill the missing values before loading.",
        )


def _check_samples(path: Path, x: np.ndarray, y: np.ndarray) -> None:
    if x.ndim < 2:
        raise _error(
            path,
            f"x has shape {x.shape}; it needs one row per sample, e.g. (N, features)",
            "Save x with a sample dimension first.",
        )
    if len(x) != len(y):
        raise _error(
            path,
            f"x has {len(x):,} samples but y has {len(y):,}",
            "Save one label per sample.",
        )
    if len(x) < 4:
        raise _error(path, f"only {len(x)} samples", "Provide at least 4 samples.")


class TaskChoiceNeeded(BuilderError):
    """The labels could be classes or values: the user must say which (and, for a CSV
    without a label column by name, which column holds them)."""

    def __init__(self, message: str, *, file: str, columns: list[str], label_column: str | None):
        what = "the task (classification or regression)"
        super().__init__(
            message,
            file=file,
            hint=f"Choose {what} and the label column." if columns else f"Choose {what}.",
        )
        self.columns = columns
        self.label_column = label_column


def _labels(
    path: Path, y: np.ndarray, task: str | None = None, ask_task: bool = False
) -> tuple[np.ndarray, str, list[str]]:
    """Class indices and names when y holds classes, else float targets and 'regression'.

    An explicit task rules: classification numbers any whole-number labels (negative or
    sparse ones too) by their sorted values; regression takes any numbers.
    """
    if task == "classification":
        return _explicit_classes(path, y)
    if task == "regression" and y.dtype.kind in "biuf":
        return y.astype(np.float32), "regression", []
    y, found, classes = _guess_labels(path, y)
    if ask_task and task is None and found == "regression" and _whole_numbers(y):
        values = np.unique(y)
        raise TaskChoiceNeeded(
            f"the labels are {len(values):,} different whole numbers from {_num(values.min())} "
            f"to {_num(values.max())}: classes or values to predict?",
            file=path.name,
            columns=[],
            label_column=None,
        )
    return y, found, classes


def _whole_numbers(y: np.ndarray) -> bool:
    return y.ndim == 1 and bool(np.isfinite(y).all()) and bool(np.all(y == np.round(y)))


def _num(value) -> str:
    return f"{float(value):g}"


def _explicit_classes(path: Path, y: np.ndarray) -> tuple[np.ndarray, str, list[str]]:
    if y.dtype.kind in "OUS":
        return _guess_labels(path, y)
    if y.ndim != 1 or y.dtype.kind not in "biuf" or not _whole_numbers(y.astype(np.float64)):
        raise _error(path, "the labels are not whole numbers", "Use task regression.")
    values, index = np.unique(y, return_inverse=True)
    if len(values) > MAX_EXPLICIT_CLASSES:
        raise _error(
            path,
            f"{len(values):,} different labels are too many classes (at most {MAX_EXPLICIT_CLASSES:,})",
            "Use task regression.",
        )
    if values.min() >= 0 and values.max() < MAX_EXPLICIT_CLASSES:
        # Labels already numbered from 0: keep them, so class k is still called "k".
        return y.astype(np.int64), "classification", [str(c) for c in range(int(values.max()) + 1)]
    return index.astype(np.int64), "classification", [_num(v) for v in values]


def _guess_labels(path: Path, y: np.ndarray) -> tuple[np.ndarray, str, list[str]]:
    """Class indices and names when y holds classes, else float targets and 'regression'."""
    if y.dtype.kind in "OUS":
        names = sorted({str(v) for v in y})
        lookup = {n: i for i, n in enumerate(names)}
        return np.array([lookup[str(v)] for v in y], dtype=np.int64), "classification", names
    if y.dtype.kind == "b":
        y = y.astype(np.int64)
    if y.dtype.kind in "iu" or (
        y.dtype.kind == "f" and np.isfinite(y).all() and np.all(y == np.round(y))
    ):
        values = np.unique(y)
        if y.ndim == 1 and len(values) <= MAX_CLASSES and values.min() >= 0:
            y = y.astype(np.int64)
            if values.max() >= MAX_CLASSES:
                raise _error(
                    path, f"label {int(values.max())} is too large", "Number classes from 0."
                )
            return y, "classification", [str(c) for c in range(int(values.max()) + 1)]
    if y.dtype.kind not in "iuf":
        raise _error(path, f"labels have an unsupported type ({y.dtype})", "Use numbers or text.")
    return y.astype(np.float32), "regression", []


def _read_csv(path: Path, label_column, task=None, ask_task=False, max_bytes=MAX_FILE_BYTES):
    check_csv_shape(path, max_bytes)
    try:
        frame = pd.read_csv(path, skipinitialspace=True)
    except (pd.errors.ParserError, UnicodeDecodeError, ValueError) as err:
        raise _error(
            path, f"cannot read as CSV ({err})", "Save it as comma-separated text."
        ) from err
    if frame.shape[1] < 2:
        raise _error(
            path, "needs at least two columns (features and a label)", "Check the delimiter."
        )
    label = _pick_label_column(path, frame, label_column)
    if ask_task and task is None and label_column is None and not _named_label(label):
        raise TaskChoiceNeeded(
            f"has no column named label, target, y or class; the last column {str(label)[:40]!r} "
            "would be the label",
            file=path.name,
            columns=[str(c) for c in frame.columns],
            label_column=str(label),
        )
    features = frame.drop(columns=[label])
    for column in features.columns:
        if not pd.api.types.is_numeric_dtype(features[column]):
            numbers = pd.to_numeric(features[column], errors="coerce")
            bad = features[column][numbers.isna() & features[column].notna()]
            if len(bad):
                row = int(bad.index[0]) + 2  # +1 for the header, +1 for counting from 1
                raise BuilderError(
                    f"column {column!r} holds text ({str(bad.iloc[0])[:30]!r} on line {row}); features must be numbers",
                    file=path.name,
                    field=str(column),
                    hint="Encode text columns as numbers or drop them.",
                )
            features[column] = numbers
    x = features.to_numpy(dtype=np.float64).astype(np.float32)
    y_raw = frame[label]
    if y_raw.isna().any():
        row = int(np.argmax(y_raw.isna().to_numpy())) + 2
        raise _error(path, f"label column {label!r} is empty on line {row}", "Fill every label.")
    y = y_raw.to_numpy()
    if y.dtype.kind == "O":
        y = y.astype(str)
    y, task, classes = _labels(path, y, task, ask_task)
    _check_samples(path, x, y)
    return x, y, task, classes


LABEL_NAMES = ("label", "target", "y", "class")


def _named_label(column) -> bool:
    return str(column).lower() in LABEL_NAMES


def _pick_label_column(path: Path, frame: pd.DataFrame, label_column):
    columns = [str(c) for c in frame.columns]
    if label_column is None:
        for guess in LABEL_NAMES:
            if guess in [c.lower() for c in columns]:
                return frame.columns[[c.lower() for c in columns].index(guess)]
        return frame.columns[-1]
    if str(label_column) in columns:
        return frame.columns[columns.index(str(label_column))]
    if isinstance(label_column, int) and -len(columns) <= label_column < len(columns):
        return frame.columns[label_column]
    raise BuilderError(
        f"no column named {str(label_column)!r}",
        file=path.name,
        field="label_column",
        hint=f"Columns are: {', '.join(columns[:20])}.",
    )


def _read_npz(path: Path, max_bytes: int, task=None, ask_task=False):
    # Content first: random bytes are "not an NPZ", not "pickled objects"; then every
    # member's declared shape and dtype are budgeted before a byte of data is unpacked.
    sniff_not_npz(path, path.name)
    members = check_npz_members(path, max_bytes, path.name)
    missing = [k for k in ("x", "y") if k not in members]
    if missing:
        raise _error(
            path,
            f"has no array {' or '.join(map(repr, missing))} (found: {', '.join(members) or 'none'})",
            "Save with np.savez(path, x=features, y=labels).",
        )
    try:
        with np.load(path, allow_pickle=False) as archive:
            x, y = archive["x"], archive["y"]
    except ValueError as err:
        if "pickle" in str(err).lower():
            raise _error(
                path,
                "contains pickled Python objects, which are not loaded for safety",
                "Save plain numeric arrays (no object dtype) with np.savez.",
            ) from err
        raise _error(path, f"cannot read as NPZ ({err})", "Save with np.savez.") from err
    except (OSError, EOFError, zipfile.BadZipFile) as err:
        raise _error(path, f"cannot read as NPZ ({err})", "Save with np.savez.") from err
    if x.dtype.kind not in "biuf":
        raise _error(
            path, f"x has dtype {x.dtype}; features must be numbers", "Convert x to floats."
        )
    y = y.reshape(-1) if y.ndim == 2 and y.shape[1] == 1 and y.dtype.kind in "iu" else y
    _check_samples(path, x, y)
    y, task, classes = _labels(path, y, task, ask_task)
    return x.astype(np.float32, copy=False), y, task, classes


def _read_idx(path: Path, max_bytes: int) -> np.ndarray:
    return read_idx(path, max_bytes)


def _labels_file_for(images: Path) -> Path | None:
    name = images.name
    for old, new in (("images-idx3", "labels-idx1"), ("images", "labels")):
        if old in name:
            candidate = images.with_name(name.replace(old, new))
            if candidate.exists():
                return candidate
    return None


def _read_idx_pair(path: Path, labels_path, max_bytes: int):
    images = _read_idx(path, max_bytes)
    if images.ndim == 1:
        raise _error(path, "is a labels file", "Choose the images file (…-images-idx3-ubyte).")
    labels_file = Path(labels_path) if labels_path else _labels_file_for(path)
    if labels_file is None:
        raise _error(
            path,
            "has no labels file next to it",
            "Put the matching …-labels-idx1-ubyte file in the same folder.",
        )
    _check_readable(labels_file, max_bytes)
    labels = _read_idx(labels_file, max_bytes)
    if labels.ndim != 1 or len(labels) != len(images):
        raise _error(
            labels_file,
            f"holds {labels.shape} labels for {len(images):,} images",
            "Use the labels file that belongs to these images.",
        )
    # Pixels as 1×H×W images in [0, 1] (standardised later).
    x = images.astype(np.float32)[:, None]
    if images.dtype == np.uint8:
        x /= 255.0
    y, task, classes = _labels(labels_file, labels.astype(np.int64), "classification")
    return x, y, task, classes
