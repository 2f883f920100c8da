"""Transfer learning: digit class subsets, a share of the training split, 32×32 digits for
LeNet-5, and the walkthrough's three recorded runs."""

import numpy as np
import pytest

from builder.data import check_compatibility, load_dataset
from builder.errors import BuilderError
from builder.runs import RunStore
from builder.runs.walkthrough import FROZEN, run_walkthrough
from builder.templates import load_template, template_dataset


def test_class_subset_keeps_only_those_digits_with_their_labels():
    ds = load_dataset("digits", classes=[5, 6, 7, 8, 9])
    labels = set(ds.y_train.tolist()) | set(ds.y_val.tolist())
    assert labels == {5, 6, 7, 8, 9} and ds.num_classes == 10


def test_fraction_shrinks_the_training_split_only():
    full = load_dataset("digits", classes=[0, 1])
    small = load_dataset("digits", classes=[0, 1], fraction=0.1)
    assert small.n_val == full.n_val
    assert small.n_train == round(full.n_train * 0.1)


@pytest.mark.parametrize(
    ("options", "field"), [({"classes": [12]}, "classes"), ({"fraction": 0}, "fraction")]
)
def test_bad_subset_options_name_the_field(options, field):
    with pytest.raises(BuilderError) as err:
        load_dataset("digits", **options)
    assert err.value.field == field


def test_digits32_pads_the_digits_to_lenet5s_input_and_is_its_dataset():
    ds = load_dataset("digits32", n_samples=50)
    assert ds.input_shape == (1, 32, 32)
    raw = load_dataset("digits32", n_samples=50).x_train.numpy()
    border = np.concatenate([raw[:, :, :4, :].ravel(), raw[:, :, -4:, :].ravel()])
    assert np.allclose(border, border[0])  # a constant frame around the scaled digit
    assert template_dataset("lenet5") == "digits32"
    assert check_compatibility(load_template("lenet5"), ds) is None


@pytest.mark.slow  # three real trainings of the CNN, one epoch each
def test_walkthrough_records_pretrain_finetune_and_scratch_runs(tmp_path):
    store = RunStore(home=tmp_path)
    result = run_walkthrough(
        store, project="walk", fraction=0.05, pretrain_epochs=1, finetune_epochs=1
    )
    pre, fine, scratch = (store.get(result[k]["run"]) for k in ("pretrain", "finetune", "scratch"))
    assert fine.parent == pre.id and scratch.parent is None
    frozen = [n["id"] for n in fine.graph["nodes"] if n.get("trainable") is False]
    assert frozen == FROZEN
    loaded = fine.extra["warm_start"]["loaded"]
    assert "conv1.weight" in loaded and not any(t.startswith("head") for t in loaded)
    assert {r.status for r in (pre, fine, scratch)} == {"finished"}
    assert fine.extra["dataset_options"] == {"classes": [5, 6, 7, 8, 9], "fraction": 0.05}
