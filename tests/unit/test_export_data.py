"""train.py regenerates exactly the data the app trained on, from its own copy of the generators."""

from __future__ import annotations

import gzip
import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from builder.data import DATASETS, load_dataset, load_file
from builder.export import embedded_makers, write_bundle
from builder.graph import Architecture

TEMPLATES = Path(__file__).resolve().parents[2] / "assets" / "templates"

CASES = [
    ("digits", {}),
    ("digits", {"n_samples": 300, "noise": 0.05}),
    ("moons", {"n_samples": 200, "noise": 0.3}),
    ("circles", {}),
    ("spiral", {"n_samples": 300, "turns": 2.5}),
    ("xor", {"noise": 0.5}),
    ("blobs", {"centers": 4, "noise": 0.2}),
    ("sine", {"n_samples": 150}),
    ("friedman", {}),
    ("synthetic", {"n_samples": 64, "channels": 3, "height": 8, "width": 6, "num_classes": 4}),
    ("sentiment", {"n_samples": 300}),
    ("digits", {"task": "reconstruction", "noise": 0.2}),
    ("digits", {"classes": [5, 6, 7, 8, 9], "fraction": 0.2}),
    ("digits32", {"n_samples": 100, "classes": [0, 1, 2]}),
]


def import_bundle_train(bundle: Path, monkeypatch):
    """The bundle's train.py as a module, with its model.py importable as `model`."""
    modules = {}
    for name in ("model", "train"):
        spec = importlib.util.spec_from_file_location(name, bundle / f"{name}.py")
        module = importlib.util.module_from_spec(spec)
        monkeypatch.setitem(sys.modules, name, module)
        spec.loader.exec_module(module)
        modules[name] = module
    return modules["train"]


def test_every_embedded_dataset_has_a_standalone_generator():
    assert sorted(embedded_makers()) == sorted(DATASETS)


@pytest.mark.parametrize(
    ("name", "options"), CASES, ids=[f"{n}-{i}" for i, (n, _) in enumerate(CASES)]
)
def test_train_script_regenerates_the_apps_dataset_exactly(name, options, tmp_path, monkeypatch):
    arch = Architecture.load(TEMPLATES / "mlp_moons.json")  # the model does not matter here
    write_bundle(
        arch, tmp_path, dataset_name=name, dataset_options={**options, "seed": 5}, onnx=False
    )
    train = import_bundle_train(tmp_path, monkeypatch)
    x_train, y_train, x_val, y_val = train.load_data(None, torch.device("cpu"))
    expected = load_dataset(name, seed=5, **options)
    for got, want in zip(
        (x_train, y_train, x_val, y_val),
        (expected.x_train, expected.y_train, expected.x_val, expected.y_val),
        strict=True,
    ):
        assert got.dtype == want.dtype and got.shape == want.shape
        assert torch.equal(got, want)


def test_train_script_reads_an_npz_file_given_with_data(tmp_path, monkeypatch):
    arch = Architecture.load(TEMPLATES / "mlp_moons.json")
    write_bundle(arch, tmp_path, data_path="points.npz", onnx=False)
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(50, 2)).astype(np.float32), rng.integers(0, 2, 50)
    np.savez(tmp_path / "points.npz", x=x, y=y)
    train = import_bundle_train(tmp_path, monkeypatch)
    x_train, y_train, x_val, _ = train.load_data(tmp_path / "points.npz", "cpu")
    assert len(x_train) == 40 and len(x_val) == 10
    assert y_train.dtype == torch.int64 and x_train.dtype == torch.float32
    # Standardised on the training part only.
    assert torch.allclose(x_train.mean(0), torch.zeros(2), atol=1e-5)


def write_idx(path: Path, array: np.ndarray, type_code: int) -> None:
    header = bytes([0, 0, type_code, array.ndim]) + b"".join(
        int(d).to_bytes(4, "big") for d in array.shape
    )
    with gzip.open(path, "wb") as file:
        file.write(header + array.tobytes())


def data_files(folder: Path) -> dict[str, tuple[Path, dict]]:
    """One file of each kind the app reads, with the load options the app would use."""
    rng = np.random.default_rng(1)
    csv_path = folder / "flowers.csv"
    rows = ["petal, target, sepal"]
    rows += [
        f"{a:.3f}, {['iris', 'rose', 'lily'][i % 3]}, {b:.3f}"
        for i, (a, b) in enumerate(rng.normal(size=(60, 2)))
    ]
    csv_path.write_text("\n".join(rows) + "\n")
    npz_path = folder / "houses.npz"
    np.savez(npz_path, x=rng.normal(size=(80, 3)), y=rng.normal(size=80) * 3 + 10)
    images = rng.integers(0, 256, (50, 6, 5), dtype=np.uint8)
    idx_path = folder / "train-images-idx3-ubyte.gz"
    write_idx(idx_path, images, 0x08)
    write_idx(folder / "train-labels-idx1-ubyte.gz", rng.integers(0, 10, 50).astype(np.uint8), 0x08)
    return {
        "csv": (csv_path, {"label_column": "target"}),
        "npz": (npz_path, {}),
        "idx": (idx_path, {}),
    }


@pytest.mark.parametrize("kind", ["csv", "npz", "idx"])
def test_train_script_reads_data_files_exactly_as_the_app(kind, tmp_path, monkeypatch):
    path, options = data_files(tmp_path)[kind]
    expected = load_file(path, seed=3, **options)
    arch = Architecture.load(TEMPLATES / "mlp_moons.json")
    write_bundle(
        arch,
        tmp_path / "bundle",
        dataset=expected,
        data_path=str(path),
        dataset_options={**options, "seed": 3},
        onnx=False,
    )
    train = import_bundle_train(tmp_path / "bundle", monkeypatch)
    got = train.load_data(path, torch.device("cpu"))
    for tensor, want in zip(
        got, (expected.x_train, expected.y_train, expected.x_val, expected.y_val), strict=True
    ):
        assert tensor.dtype == want.dtype and tensor.shape == want.shape
        assert (
            torch.allclose(tensor, want, atol=1e-6)
            if tensor.is_floating_point()
            else torch.equal(tensor, want)
        )


@pytest.mark.parametrize(
    "settings",
    [
        {"augment_shift": 2},
        {"augment_hflip": True},
        {"augment_noise": 0.3},
        {"augment_shift": 1, "augment_hflip": True, "augment_noise": 0.1},
    ],
)
def test_train_script_augments_batches_exactly_as_the_trainer(settings, tmp_path, monkeypatch):
    from builder.augment import AugmentConfig, augment_batch
    from builder.training import TrainConfig

    config = TrainConfig(**settings)
    arch = Architecture.load(TEMPLATES / "lenet_digits.json")
    write_bundle(arch, tmp_path, config=config, dataset_name="digits", onnx=False)
    train = import_bundle_train(tmp_path, monkeypatch)
    assert {k: train.SETTINGS[k] for k in settings} == settings
    batch = torch.randn(16, 1, 8, 8)
    augment = AugmentConfig(config.augment_shift, config.augment_hflip, config.augment_noise)
    want = augment_batch(batch, augment, torch.Generator().manual_seed(3))
    got = train.augment(batch, torch.Generator().manual_seed(3))
    assert not torch.equal(got, batch)
    torch.testing.assert_close(got, want)
