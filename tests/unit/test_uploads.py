"""Uploaded data files as one Dataset: MNIST IDX pairs (extensionless, gzip, zipped),
content hashes for the cache, and clear errors for mixtures."""

import gzip
import struct
import zipfile

import numpy as np
import pytest

from builder.data.uploads import content_hash, load_uploads, pair_idx
from builder.errors import BuilderError


def _idx(array) -> bytes:
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(struct.pack(">I", d) for d in array.shape)
    return header + array.astype(np.uint8).tobytes()


def _mnist_like(n=20, seed=0):
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 255, (n, 6, 6))
    labels = np.arange(n) % 10
    return _idx(images), _idx(labels)


def test_extensionless_images_and_labels_uploaded_together_load_as_images(tmp_path):
    images, labels = _mnist_like()
    files = [("train-labels-idx1-ubyte", labels), ("train-images-idx3-ubyte", images)]
    dataset = load_uploads(files, tmp_path)
    assert dataset.input_shape == (1, 6, 6)
    assert dataset.task == "classification" and dataset.num_classes == 10
    assert dataset.n_train + dataset.n_val == 20


def test_idx_pair_is_told_apart_by_headers_not_names(tmp_path):
    images, labels = _mnist_like()
    dataset = load_uploads([("a", labels), ("b", images)], tmp_path)
    assert dataset.input_shape == (1, 6, 6)


def test_zip_of_the_four_standard_files_trains_on_the_training_pair(tmp_path):
    train_images, train_labels = _mnist_like(30, seed=1)
    test_images, test_labels = _mnist_like(10, seed=2)
    archive = tmp_path / "mnist.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("mnist/train-images-idx3-ubyte.gz", gzip.compress(train_images))
        z.writestr("mnist/train-labels-idx1-ubyte.gz", gzip.compress(train_labels))
        z.writestr("mnist/t10k-images-idx3-ubyte.gz", gzip.compress(test_images))
        z.writestr("mnist/t10k-labels-idx1-ubyte.gz", gzip.compress(test_labels))
    dataset = load_uploads([("mnist.zip", archive.read_bytes())], tmp_path / "work")
    assert dataset.n_train + dataset.n_val == 30


def test_images_without_labels_say_which_file_is_missing(tmp_path):
    images, _ = _mnist_like()
    with pytest.raises(BuilderError, match="labels file is missing"):
        load_uploads([("train-images-idx3-ubyte", images), ("x-images", images)], tmp_path)


def test_csv_uploaded_with_idx_files_is_refused_naming_it(tmp_path):
    images, labels = _mnist_like()
    files = [("i", images), ("l", labels), ("extra.csv", b"a,label\n1,0\n")]
    with pytest.raises(BuilderError, match="only MNIST IDX") as info:
        load_uploads(files, tmp_path)
    assert info.value.file == "extra.csv"


def test_upload_names_cannot_leave_the_folder(tmp_path):
    images, labels = _mnist_like()
    work = tmp_path / "work"
    load_uploads([("../../evil-images", images), ("/etc/labels", labels)], work)
    assert not (tmp_path / "evil-images").exists()
    assert all(p.parent == work for p in work.iterdir())


def test_same_name_and_size_with_other_bytes_gets_another_cache_key():
    a = content_hash([("data.csv", b"a,label\n1,0\n")])
    b = content_hash([("data.csv", b"a,label\n2,1\n")])
    assert a != b
    assert a == content_hash([("data.csv", b"a,label\n1,0\n")])


def test_pair_prefers_the_training_files(tmp_path):
    images, labels = _mnist_like()
    paths = []
    for name, data in [
        ("t10k-images-idx3-ubyte", images),
        ("train-images-idx3-ubyte", images),
        ("t10k-labels-idx1-ubyte", labels),
        ("train-labels-idx1-ubyte", labels),
    ]:
        (tmp_path / name).write_bytes(data)
        paths.append(tmp_path / name)
    chosen = pair_idx(paths)
    assert [p.name for p in chosen] == ["train-images-idx3-ubyte", "train-labels-idx1-ubyte"]
