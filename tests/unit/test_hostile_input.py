"""Issue 13 probes: hostile numbers, headers and settings end in a BuilderError naming the
node, field or file, never in OverflowError, ValueError, MemoryError or a killed process."""

import gzip
import io
import json
import struct
import zipfile

import numpy as np
import pytest

from builder.cli import main
from builder.data import load_dataset, load_file
from builder.errors import BuilderError
from builder.graph import Architecture
from builder.settings_check import check_settings

HUGE = 10**400


def _graph(**node_overrides):
    dropout = {"id": "drop", "type": "Dropout", "params": {"p": 0.5}, **node_overrides}
    return {
        "format": "layercraft",
        "version": 1,
        "nodes": [{"id": "x", "type": "Input", "params": {"shape": [4]}}, dropout],
        "edges": [{"source": "x", "target": "drop"}],
    }


# ---- numbers in a graph --------------------------------------------------------------------


@pytest.mark.parametrize("as_text", [False, True])
def test_400_digit_pos_names_node_and_field(as_text):
    data = _graph(pos=[HUGE, 0])
    with pytest.raises(BuilderError) as info:
        Architecture.from_json(json.dumps(data) if as_text else data)
    assert (info.value.node, info.value.field) == ("drop", "pos")


def test_pos_far_off_canvas_is_refused():
    with pytest.raises(BuilderError, match="within") as info:
        Architecture.from_json(_graph(pos=[1e300, 0]))
    assert info.value.field == "pos"


@pytest.mark.parametrize("as_text", [False, True])
def test_400_digit_float_param_names_node_and_field(as_text):
    data = _graph(params={"p": HUGE})
    with pytest.raises(BuilderError, match="finite number") as info:
        Architecture.from_json(json.dumps(data) if as_text else data)
    assert (info.value.node, info.value.field) == ("drop", "p")
    assert len(str(info.value)) < 200  # the number is described, not printed


def test_400_digit_int_param_names_node_and_field():
    data = _graph()
    data["nodes"].append({"id": "fc", "type": "Linear", "params": {"out_features": HUGE}})
    with pytest.raises(BuilderError, match="at most") as info:
        Architecture.from_json(data)
    assert (info.value.node, info.value.field) == ("fc", "out_features")


def test_cli_validate_prints_one_line_for_a_400_digit_pos(tmp_path, capsys):
    path = tmp_path / "g.json"
    path.write_text(json.dumps(_graph(pos=[0, HUGE])))
    assert main(["validate", str(path)]) == 1
    err = capsys.readouterr().err
    assert "drop.pos" in err and "Traceback" not in err


# ---- training settings from a file ---------------------------------------------------------


@pytest.mark.parametrize(
    ("settings", "field"),
    [
        ({"epochs": "ten"}, "epochs"),
        ({"batch_size": [64]}, "batch_size"),
        ({"lr": HUGE}, "lr"),
        ({"lr": -1}, "lr"),
        ({"augment_hflip": "yes"}, "augment_hflip"),
        ({"seed": 1.5}, "seed"),
        ({"dataset_options": {"n_samples": 300_000_000}}, "dataset_options.n_samples"),
        ({"dataset_options": {"n_samples": "many"}}, "dataset_options.n_samples"),
        ({"dataset_options": {"bogus": 1}}, "dataset_options"),
        ({"dataset_options": []}, "dataset_options"),
    ],
)
def test_bad_settings_name_the_field(settings, field):
    with pytest.raises(BuilderError) as info:
        check_settings(settings, file="config.json")
    assert info.value.field == field
    assert str(info.value).startswith("config.json")


def test_export_config_with_wrong_types_exits_1_naming_the_field(tmp_path, capsys):
    graph = tmp_path / "g.json"
    graph.write_text(json.dumps(_graph()))
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"epochs": "ten", "batch_size": {"a": 1}}))
    assert main(["export", str(graph), "-o", str(tmp_path / "out"), "--config", str(config)]) == 1
    err = capsys.readouterr().err
    assert "epochs" in err and "Traceback" not in err


def test_export_config_with_absurd_n_samples_is_refused_before_generating(tmp_path, capsys):
    graph = tmp_path / "g.json"
    graph.write_text(json.dumps(_graph()))
    config = tmp_path / "config.json"
    config.write_text(
        json.dumps({"dataset": "moons", "dataset_options": {"n_samples": 300_000_000}})
    )
    out = tmp_path / "out"
    assert main(["export", str(graph), "-o", str(out), "--config", str(config)]) == 1
    assert "n_samples" in capsys.readouterr().err


def test_load_dataset_caps_n_samples_and_synthetic_size():
    with pytest.raises(BuilderError, match="between") as info:
        load_dataset("moons", n_samples=300_000_000)
    assert info.value.field == "n_samples"
    with pytest.raises(BuilderError, match="GiB"):
        load_dataset("synthetic", n_samples=1_000_000, channels=3, height=256, width=256)


# ---- IDX headers ---------------------------------------------------------------------------


def _idx_header(ndim, dims, type_code=0x08):
    return bytes([0, 0, type_code, ndim]) + b"".join(struct.pack(">I", d) for d in dims)


def test_idx_with_255_dimensions_is_named(tmp_path):
    path = tmp_path / "train-images-idx3-ubyte"
    path.write_bytes(_idx_header(255, [2] * 255) + b"\0" * 64)
    with pytest.raises(BuilderError, match="255 dimensions") as info:
        load_file(path)
    assert info.value.file == path.name


def test_idx_dims_whose_product_wraps_in_numpy_are_refused_as_too_large(tmp_path):
    # 65536**4 = 2**64: np.prod wraps it to 0, which once made an empty body look complete.
    path = tmp_path / "train-images-idx3-ubyte"
    path.write_bytes(_idx_header(4, [65536] * 4))
    with pytest.raises(BuilderError, match="in memory") as info:
        load_file(path)
    assert info.value.file == path.name


def test_gzip_idx_bomb_is_refused_from_its_header_without_unpacking(tmp_path):
    # Declares 60,000×2048×2048 bytes and holds a few megabytes of zeros that compress well.
    path = tmp_path / "train-images-idx3-ubyte.gz"
    with gzip.open(path, "wb") as stream:
        stream.write(_idx_header(3, [60_000, 2048, 2048]))
        stream.write(b"\0" * 4_000_000)
    assert path.stat().st_size < 100_000
    with pytest.raises(BuilderError, match="in memory"):
        load_file(path)


def test_gzip_idx_with_more_data_than_its_header_promises_is_refused(tmp_path):
    path = tmp_path / "t10k-images-idx3-ubyte.gz"
    with gzip.open(path, "wb") as stream:
        stream.write(_idx_header(3, [4, 2, 2]) + b"\1" * 10_000_000)
    with pytest.raises(BuilderError, match="promises"):
        load_file(path)


def test_extensionless_idx_is_recognised_by_content(tmp_path):
    images = np.arange(8 * 4, dtype=np.uint8).reshape(8, 2, 2)
    path = tmp_path / "images"
    path.write_bytes(_idx_header(3, images.shape) + images.tobytes())
    labels = tmp_path / "labels"
    labels.write_bytes(_idx_header(1, [8]) + bytes(i % 2 for i in range(8)))
    dataset = load_file(path, labels_path=labels)
    assert dataset.input_shape == (1, 2, 2)
    assert dataset.num_classes == 2


# ---- NPZ headers and content ---------------------------------------------------------------


def _npz_declaring(path, shape, dtype="<f8"):
    """An NPZ whose x header declares `shape` but holds almost nothing: a tiny file that
    once unpacked into gigabytes."""
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        header, {"descr": dtype, "fortran_order": False, "shape": shape}
    )
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("x.npy", header.getvalue() + b"\0" * 1000)
        buffer = io.BytesIO()
        np.save(buffer, np.zeros(shape[0], dtype=np.int64)[:10])
        archive.writestr("y.npy", buffer.getvalue())


def test_npz_whose_declared_shape_exceeds_the_budget_is_refused_before_unpacking(tmp_path):
    path = tmp_path / "bomb.npz"
    _npz_declaring(path, (70_000, 1000))  # 267 MiB as float32, over a 256 MiB budget
    with pytest.raises(BuilderError, match="in memory") as info:
        load_file(path, max_bytes=256 * 2**20)
    assert info.value.file == path.name


def test_uint8_npz_is_budgeted_at_its_float32_size(tmp_path):
    path = tmp_path / "images.npz"
    np.savez(path, x=np.zeros((3000, 100), dtype=np.uint8), y=np.zeros(3000, dtype=np.int64))
    # 300 kB as uint8, 1.2 MB as the float32 training holds.
    with pytest.raises(BuilderError, match="in memory"):
        load_file(path, max_bytes=1_000_000)


def test_random_bytes_named_npz_are_not_called_pickled(tmp_path):
    path = tmp_path / "data.npz"
    path.write_bytes(np.random.default_rng(0).bytes(4096))
    with pytest.raises(BuilderError, match="not a zip archive") as info:
        load_file(path)
    assert "pickle" not in str(info.value)


def test_single_npy_named_npz_says_so(tmp_path):
    path = tmp_path / "data.npz"
    with open(path, "wb") as stream:
        np.save(stream, np.zeros((4, 2)))
    with pytest.raises(BuilderError, match=r"single \.npy"):
        load_file(path)


def test_object_array_member_is_refused_from_its_header(tmp_path):
    path = tmp_path / "objects.npz"
    np.savez(path, x=np.array([{"a": 1}] * 4, dtype=object), y=np.zeros(4))
    with pytest.raises(BuilderError, match="pickled Python objects"):
        load_file(path)


# ---- words ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("message", "hint"),
    [("bad value.", "Fix it."), ("bad value. ", "Fix it."), ("bad (x.)", "Fix it.")],
)
def test_messages_never_hold_a_double_full_stop(message, hint):
    text = str(BuilderError(message, node="fc1", hint=hint))
    assert ". ." not in text and ".." not in text
    assert text.endswith("Fix it.")


def test_sentences_join_a_message_that_ends_in_a_full_stop():
    from builder.errors import sentences

    assert sentences("Could not open g.json: x. Try again.", "Unchanged.") == (
        "Could not open g.json: x. Try again. Unchanged."
    )
    assert sentences("classes or values?", "Choose.") == "classes or values? Choose."


# ---- labels that could be classes or values ------------------------------------------------


def _csv(path, header, labels):
    rows = [f"{i % 7},{(i * 3) % 11},{label}" for i, label in enumerate(labels)]
    path.write_text(header + "\n" + "\n".join(rows) + "\n")
    return path


@pytest.mark.parametrize(
    "labels",
    [list(range(500)), [-1, 1] * 20, [-3, 0, 2, 5] * 10],
    ids=["0-499", "negative", "mixed-sign"],
)
def test_whole_number_labels_that_look_like_values_ask_for_the_task(tmp_path, labels):
    from builder.data.files import TaskChoiceNeeded

    path = _csv(tmp_path / "data.csv", "a,b,label", labels)
    with pytest.raises(TaskChoiceNeeded, match="classes or values") as info:
        load_file(path, ask_task=True)
    assert info.value.file == "data.csv"
    classes = load_file(path, task="classification")
    assert classes.task == "classification" and classes.num_classes == len(set(labels))
    assert load_file(path, task="regression").task == "regression"


def test_negative_labels_as_classes_are_named_by_their_values(tmp_path):
    path = _csv(tmp_path / "signs.csv", "a,b,label", [-1, 1] * 20)
    dataset = load_file(path, task="classification")
    assert dataset.class_names == ["-1", "1"]


def test_csv_without_a_label_column_asks_which_column_and_task(tmp_path):
    from builder.data.files import TaskChoiceNeeded

    path = _csv(tmp_path / "plain.csv", "a,b,c", [i * 0.5 for i in range(40)])
    with pytest.raises(TaskChoiceNeeded, match="no column named label") as info:
        load_file(path, ask_task=True)
    assert info.value.columns == ["a", "b", "c"]
    chosen = load_file(path, label_column="b", task="classification", ask_task=True)
    assert chosen.task == "classification" and chosen.input_shape == (2,)


def test_clear_labels_do_not_ask(tmp_path):
    path = _csv(tmp_path / "ok.csv", "a,b,label", [0, 1, 2] * 10)
    assert load_file(path, ask_task=True).task == "classification"


def test_cli_train_asks_for_the_task_instead_of_silent_regression(tmp_path, capsys):
    path = _csv(tmp_path / "ids.csv", "a,b,label", list(range(500)))
    code = main(["train", "assets/templates/mlp_moons.json", "--data", str(path), "--epochs", "1"])
    err = capsys.readouterr().err
    assert code == 1 and "classes or values" in err and "--task classification" in err


def test_csv_whose_parsed_table_exceeds_the_budget_is_refused_before_parsing(tmp_path):
    path = tmp_path / "wide.csv"
    path.write_text(",".join(f"c{i}" for i in range(1000)) + "\n" + ("0," * 999 + "0\n") * 200)
    with pytest.raises(BuilderError, match="in memory") as info:
        load_file(path, max_bytes=1_000_000)  # 201 × 1000 float64 values = 1.6 MB
    assert info.value.file == "wide.csv"
