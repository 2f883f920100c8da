"""Embedded datasets: declared shapes, seeded splits, standardisation, text and reconstruction."""

import pytest
import torch

from builder.data import DATASETS, VOCAB_SIZE, check_compatibility, load_dataset, suggest_fix
from builder.data.text import build_vocabulary
from builder.errors import BuilderError
from builder.graph import Architecture

TEMPLATES = "assets/templates"


@pytest.mark.parametrize("name", DATASETS)
def test_every_embedded_dataset_matches_its_declared_shape_dtype_and_task(name):
    ds = load_dataset(name, n_samples=64)
    assert tuple(ds.x_train.shape[1:]) == ds.input_shape
    assert tuple(ds.x_val.shape[1:]) == ds.input_shape
    assert ds.x_train.dtype == (torch.int64 if ds.dtype == "int64" else torch.float32)
    assert ds.n_train + ds.n_val == 64
    if ds.task == "classification":
        assert ds.y_train.dtype == torch.int64
        assert int(ds.y_train.max()) < ds.num_classes
    else:
        assert tuple(ds.y_train.shape[1:]) == ds.target_shape


def test_digits_are_one_channel_8x8_images_with_ten_classes():
    ds = load_dataset("digits")
    assert ds.input_shape == (1, 8, 8)
    assert ds.class_names == [str(d) for d in range(10)]
    assert ds.n_train + ds.n_val == 1797


def test_same_seed_repeats_the_split_and_another_seed_changes_it():
    a, b, c = (load_dataset("moons", seed=s) for s in (3, 3, 4))
    assert torch.equal(a.x_train, b.x_train) and torch.equal(a.y_val, b.y_val)
    assert not torch.equal(a.x_train, c.x_train)


def test_standardisation_is_fitted_on_the_training_part_only():
    ds = load_dataset("friedman", n_samples=400)
    assert torch.allclose(ds.x_train.mean(0), torch.zeros(5), atol=1e-5)
    assert torch.allclose(ds.x_train.std(0, unbiased=False), torch.ones(5), atol=1e-4)
    # The validation part uses the training statistics, so it is not exactly centred.
    assert not torch.allclose(ds.x_val.mean(0), torch.zeros(5), atol=1e-5)
    assert abs(float(ds.y_train.mean())) < 1e-5  # regression targets too


def test_noise_option_changes_a_toy_set():
    clean = load_dataset("circles", noise=0.0)
    noisy = load_dataset("circles", noise=0.3)
    assert not torch.equal(clean.x_train, noisy.x_train)


def test_synthetic_images_come_in_any_size():
    ds = load_dataset("synthetic", n_samples=20, channels=3, height=5, width=7, num_classes=4)
    assert ds.input_shape == (3, 5, 7)
    assert ds.num_classes == 4


def test_sentiment_is_front_padded_token_ids_below_the_vocabulary_size():
    ds = load_dataset("sentiment", n_samples=500)
    x = torch.cat([ds.x_train, ds.x_val])
    assert ds.dtype == "int64" and ds.input_shape == (32,)
    assert int(x.min()) == 0 and int(x.max()) < VOCAB_SIZE
    # Padding sits in front, so every sentence ends on a real word.
    assert bool((x[:, -1] != 0).all())
    assert ds.class_names == ["negative", "positive"]
    share = float(torch.cat([ds.y_train, ds.y_val]).float().mean())
    assert 0.35 < share < 0.65


def test_sentiment_vocabulary_is_fixed_and_unique():
    vocab = build_vocabulary()
    assert vocab == build_vocabulary()
    assert len(vocab) == VOCAB_SIZE == len(set(vocab))
    assert vocab[0] == "<pad>"


def test_reconstruction_targets_are_the_clean_inputs():
    ds = load_dataset("digits", task="reconstruction")
    assert ds.task == "reconstruction" and ds.target_shape == (1, 8, 8)
    assert torch.equal(ds.y_train, ds.x_train) and torch.equal(ds.y_val, ds.x_val)
    assert float(ds.x_train.min()) >= 0.0 and float(ds.x_train.max()) <= 1.0


def test_denoising_adds_noise_to_validation_inputs_only():
    ds = load_dataset("digits", task="reconstruction", noise=0.3)
    assert ds.input_noise == 0.3
    assert not torch.equal(ds.x_val, ds.y_val)
    assert float(ds.y_val.min()) >= 0.0  # targets stay clean


def test_unknown_dataset_lists_the_choices():
    with pytest.raises(BuilderError, match="Choose one of: digits"):
        load_dataset("imagenet")


def test_token_set_cannot_be_reconstructed():
    with pytest.raises(BuilderError, match="token ids"):
        load_dataset("sentiment", task="reconstruction")


# ---- compatibility ----------------------------------------------------------------------


def test_check_compatibility_names_the_image_size_mismatch():
    arch = Architecture.load(f"{TEMPLATES}/lenet5.json")
    error = check_compatibility(arch, load_dataset("digits"))
    assert error is not None
    assert "digits gives 1×8×8 images but the Input expects 1×32×32" in str(error)
    # Setting the Input to 8x8 would break conv2, so that is not offered as the fix.
    assert "Set the Input shape" not in error.hint and "conv2" in error.hint


def test_input_shape_hint_is_given_when_it_leaves_the_graph_clean():
    arch = Architecture.load(f"{TEMPLATES}/mlp_digits.json")
    arch.update_params("x", shape=[1, 10, 10])
    error = check_compatibility(arch, load_dataset("digits"))
    assert error is not None and error.hint == "Set the Input shape to [1, 8, 8]."


def test_matching_template_and_dataset_are_compatible():
    arch = Architecture.load(f"{TEMPLATES}/mlp_digits.json")
    assert check_compatibility(arch, load_dataset("digits")) is None


def test_check_compatibility_names_a_wrong_number_of_classes():
    arch = Architecture.load(f"{TEMPLATES}/mlp_digits.json")
    ds = load_dataset("synthetic", n_samples=32, height=8, width=8, num_classes=4)
    error = check_compatibility(arch, ds)
    assert "4 classes but the output gives 10 values" in str(error)


def test_check_compatibility_rejects_float_input_for_token_data():
    arch = Architecture.load(f"{TEMPLATES}/mlp_digits.json")
    error = check_compatibility(arch, load_dataset("sentiment", n_samples=32))
    assert error is not None and error.field == "dtype"


def test_suggest_fix_sets_input_shape_and_output_width():
    arch = Architecture.load(f"{TEMPLATES}/mlp_digits.json")
    blobs = load_dataset("blobs", n_samples=60)
    fixed = suggest_fix(arch, blobs)
    assert fixed is not None
    assert check_compatibility(fixed, blobs) is None
    # The original is left untouched.
    assert check_compatibility(arch, blobs) is not None


def test_suggest_fix_gives_none_when_the_graph_cannot_take_the_data():
    arch = Architecture.load(f"{TEMPLATES}/lenet5.json")
    assert suggest_fix(arch, load_dataset("moons", n_samples=40)) is None


def test_suggest_fix_gives_none_when_already_compatible():
    arch = Architecture.load(f"{TEMPLATES}/mlp_digits.json")
    assert suggest_fix(arch, load_dataset("digits")) is None


def test_suggest_fix_resizes_the_head_only_when_its_width_is_not_accepted():
    moons = load_dataset("moons", n_samples=40)
    arch = Architecture("binary head")
    x = arch.add_node("Input", {"shape": [5]})
    hidden = arch.add_node("Linear", {"out_features": 8})
    act = arch.add_node("ReLU", {})
    head = arch.add_node("Linear", {"out_features": 1})
    arch.connect(x, hidden)
    arch.connect(hidden, act)
    arch.connect(act, head)
    # A single logit is a valid binary head: only the Input changes.
    fixed = suggest_fix(arch, moons)
    assert fixed.params_of(x)["shape"] == [2]
    assert fixed.params_of(head)["out_features"] == 1
    # Three outputs are not: the head is resized to the two classes.
    arch.update_params(head, out_features=3)
    fixed = suggest_fix(arch, moons)
    assert fixed.params_of(head)["out_features"] == 2
    assert check_compatibility(fixed, moons) is None
