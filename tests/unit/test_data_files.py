"""Data files: CSV, NPZ and IDX load; every bad file is a BuilderError naming the file."""

import gzip
import pickle
import struct
import tracemalloc

import numpy as np
import pytest
import torch

from builder.data import load_file
from builder.errors import BuilderError


def _write_idx(path, array, type_code=0x08):
    header = bytes([0, 0, type_code, array.ndim]) + b"".join(
        struct.pack(">I", d) for d in array.shape
    )
    data = header + array.astype(">u1" if type_code == 0x08 else array.dtype).tobytes()
    if str(path).endswith(".gz"):
        with gzip.open(path, "wb") as f:
            f.write(data)
    else:
        path.write_bytes(data)


def _bad(path, match, **options):
    with pytest.raises(BuilderError, match=match) as info:
        load_file(path, **options)
    assert info.value.file == path.name
    assert path.name in str(info.value)
    return info.value


# ---- CSV --------------------------------------------------------------------------------


def test_csv_with_text_labels_becomes_a_classification_set(tmp_path):
    path = tmp_path / "iris.csv"
    rows = [f"{i % 7},{i % 5 * 0.5},{'cat' if i % 2 else 'dog'}" for i in range(40)]
    path.write_text("a,b,animal\n" + "\n".join(rows) + "\n")
    ds = load_file(path, label_column="animal")
    assert ds.task == "classification" and ds.class_names == ["cat", "dog"]
    assert ds.input_shape == (2,) and ds.n_train + ds.n_val == 40


def test_csv_with_float_targets_becomes_regression(tmp_path):
    path = tmp_path / "house.csv"
    rows = [f"{i},{i * 2 + 0.5}" for i in range(30)]
    path.write_text("size,price\n" + "\n".join(rows) + "\n")
    ds = load_file(path)
    assert ds.task == "regression" and ds.target_shape == (1,)


def test_csv_with_text_in_a_numeric_column_names_column_and_line(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("a,b,label\n1,2,0\n3,oops,1\n5,6,0\n7,8,1\n9,1,0\n")
    error = _bad(path, "column 'b' holds text")
    assert "line 3" in str(error)


def test_csv_with_missing_values_is_rejected(tmp_path):
    path = tmp_path / "gaps.csv"
    path.write_text("a,b,label\n1,2,0\n3,,1\n5,6,0\n7,8,1\n9,1,0\n")
    _bad(path, "NaN")


def test_csv_unknown_label_column_lists_the_columns(tmp_path):
    path = tmp_path / "cols.csv"
    path.write_text("a,b,label\n1,2,0\n3,4,1\n5,6,0\n7,8,1\n")
    _bad(path, "no column named 'target'", label_column="target")


# ---- NPZ --------------------------------------------------------------------------------


def test_npz_images_load_with_their_shape(tmp_path):
    path = tmp_path / "imgs.npz"
    np.savez(path, x=np.random.rand(50, 1, 6, 6).astype(np.float32), y=np.arange(50) % 3)
    ds = load_file(path)
    assert ds.input_shape == (1, 6, 6) and ds.num_classes == 3
    assert ds.x_train.dtype == torch.float32


def test_npz_with_pickled_objects_is_refused(tmp_path):
    path = tmp_path / "objects.npz"
    np.savez(path, x=np.array([{"a": 1}] * 10, dtype=object), y=np.zeros(10))
    _bad(path, "pickled Python objects")


def test_pickle_disguised_as_npz_is_refused(tmp_path):
    path = tmp_path / "evil.npz"
    path.write_bytes(pickle.dumps({"x": [1, 2, 3]}))
    _bad(path, "pickle")


def test_npz_without_y_says_which_array_is_missing(tmp_path):
    path = tmp_path / "nolabels.npz"
    np.savez(path, x=np.zeros((10, 2)))
    _bad(path, "has no array 'y'")


def test_npz_with_mismatched_sample_counts_is_rejected(tmp_path):
    path = tmp_path / "shape.npz"
    np.savez(path, x=np.zeros((10, 2)), y=np.zeros(7, dtype=np.int64))
    _bad(path, "x has 10 samples but y has 7")


def test_npz_with_one_dimensional_x_is_rejected(tmp_path):
    path = tmp_path / "flat.npz"
    np.savez(path, x=np.zeros(10), y=np.zeros(10, dtype=np.int64))
    _bad(path, "one row per sample")


def test_npz_with_nan_features_is_rejected(tmp_path):
    path = tmp_path / "nan.npz"
    x = np.random.rand(20, 3)
    x[4, 1] = np.nan
    np.savez(path, x=x, y=np.arange(20) % 2)
    _bad(path, "NaN or infinite values \\(first in sample 4\\)")


def test_too_large_file_is_rejected_before_reading(tmp_path):
    path = tmp_path / "big.npz"
    np.savez(path, x=np.random.rand(200, 10), y=np.arange(200) % 2)
    _bad(path, "too large", max_bytes=1000)


def test_missing_file_is_named(tmp_path):
    _bad(tmp_path / "nowhere.csv", "file not found")


def test_unknown_extension_is_rejected(tmp_path):
    path = tmp_path / "data.xlsx"
    path.write_bytes(b"PK")
    _bad(path, "unknown file type")


# ---- IDX --------------------------------------------------------------------------------


def test_mnist_idx_gz_pair_loads_as_images(tmp_path):
    images = (np.random.rand(30, 5, 5) * 255).astype(np.uint8)
    labels = (np.arange(30) % 10).astype(np.uint8)
    _write_idx(tmp_path / "train-images-idx3-ubyte.gz", images)
    _write_idx(tmp_path / "train-labels-idx1-ubyte.gz", labels)
    ds = load_file(tmp_path / "train-images-idx3-ubyte.gz")
    assert ds.input_shape == (1, 5, 5) and ds.num_classes == 10


def test_truncated_idx_file_is_named(tmp_path):
    path = tmp_path / "t10k-images-idx3-ubyte"
    _write_idx(path, np.zeros((10, 4, 4), dtype=np.uint8))
    path.write_bytes(path.read_bytes()[:-5])
    _bad(path, "header promises")


def test_idx_images_without_labels_file_say_so(tmp_path):
    path = tmp_path / "t10k-images-idx3-ubyte"
    _write_idx(path, np.zeros((10, 4, 4), dtype=np.uint8))
    _bad(path, "no labels file")


def test_non_idx_bytes_are_rejected(tmp_path):
    path = tmp_path / "train-images-idx3-ubyte"
    path.write_bytes(b"hello world, not idx")
    _bad(path, "bad magic number")


@pytest.mark.parametrize("shape", [(4096, 1, 64, 64), (131072, 128)], ids=["images", "columns"])
def test_loading_a_large_npz_holds_little_more_than_the_split_data(tmp_path, shape):
    """Peak allocations while loading stay near the data's own size: the split's train and
    validation copies plus the archive's array, not float64 copies of it (was ~7x)."""
    x = np.zeros(shape, np.float32)
    x[:, 0] = np.arange(shape[0]).reshape(-1, *([1] * (len(shape) - 2))) % 5
    path = tmp_path / "large.npz"
    np.savez_compressed(path, x=x, y=np.arange(shape[0]) % 3)
    size = x.nbytes
    del x
    tracemalloc.start()
    try:
        ds = load_file(path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert ds.x_train.dtype == torch.float32 and len(ds.x_train) + len(ds.x_val) == shape[0]
    first = ds.x_train[:, 0]  # the feature (or channel) that varies: standardised
    assert abs(float(first.mean())) < 1e-2 and abs(float(first.std()) - 1) < 1e-2
    assert peak < 2.3 * size, f"peak {peak / size:.2f}x the data"
