"""Memory budget before allocation: estimates from shapes, refusals naming the dominating
node with a batch size that fits, in the Trainer's start path and on the command line."""

import pytest

from builder.budget import (
    check_training_memory,
    estimate_training_memory,
    memory_share,
    validation_batch_size,
)
from builder.cli import main
from builder.data import load_dataset
from builder.errors import BuilderError
from builder.graph import Architecture
from builder.shapes import analyse
from builder.templates import load_template
from builder.training import TrainConfig, Trainer

GIB = 2**30


def upsampling_model() -> Architecture:
    """A few hundred parameters that upsample 8×8 digits to 2048×2048: tiny weights,
    about 256 MiB of activations per sample in each wide layer."""
    arch = Architecture("upsampler")
    arch.add_node("Input", {"shape": [1, 8, 8]}, id="x")
    previous = "x"
    for node_id, type_name, params in [
        ("conv1", "Conv2d", {"out_channels": 16, "kernel_size": 3, "padding": 1}),
        ("up1", "Upsample", {"scale_factor": 16.0}),
        ("up2", "Upsample", {"scale_factor": 16.0}),
        ("conv2", "Conv2d", {"out_channels": 1, "kernel_size": 3, "padding": 1}),
        ("pool", "AdaptiveAvgPool2d", {"output_size": 1}),
        ("flat", "Flatten", {}),
        ("fc", "Linear", {"out_features": 10}),
    ]:
        arch.add_node(type_name, params, id=node_id)
        arch.connect(previous, node_id)
        previous = node_id
    return arch


def wide_mlp() -> Architecture:
    """The issue's 3.6 GiB model: Flatten -> Linear 1e6 -> Linear 900 -> 10 on 8×8 digits."""
    arch = Architecture("wide")
    arch.add_node("Input", {"shape": [1, 8, 8]}, id="x")
    previous = "x"
    for node_id, type_name, params in [
        ("flat", "Flatten", {}),
        ("fc1", "Linear", {"out_features": 1_000_000}),
        ("fc2", "Linear", {"out_features": 900}),
        ("fc3", "Linear", {"out_features": 10}),
    ]:
        arch.add_node(type_name, params, id=node_id)
        arch.connect(previous, node_id)
        previous = node_id
    return arch


def test_estimate_counts_weights_gradients_adam_state_and_activations():
    arch = Architecture("mlp")
    arch.add_node("Input", {"shape": [10]}, id="x")
    arch.add_node("Linear", {"out_features": 5}, id="fc")
    arch.connect("x", "fc")
    estimate = estimate_training_memory(analyse(arch), batch_size=8, optimizer="adam")
    params = 10 * 5 + 5
    # weights + grads + best copy + two Adam moments, all float32
    assert estimate.parameter_total == params * 4 * 5
    # each output (x: 10 values, fc: 5) kept and its gradient, per sample
    assert estimate.per_sample == (10 + 5) * 4 * 2
    assert estimate.activations == estimate.per_sample * 8
    sgd = estimate_training_memory(analyse(arch), batch_size=8, optimizer="sgd")
    assert sgd.parameter_total == params * 4 * 3


def test_upsampling_model_is_refused_naming_the_upsample_and_offering_a_batch_that_fits():
    analysis = analyse(upsampling_model())
    assert analysis.ok and analysis.total_params < 2000
    with pytest.raises(BuilderError, match="more than the") as info:
        check_training_memory(analysis, batch_size=64, free=16 * GIB, share=0.5)
    err = info.value
    assert err.node in ("up2", "conv2")  # the 16×2048×2048 output dominates
    assert "2048" in str(err)
    assert err.suggested_batch_size is not None and 1 <= err.suggested_batch_size < 64
    # The batch it offers really fits.
    check_training_memory(analysis, batch_size=err.suggested_batch_size, free=16 * GIB, share=0.5)


def test_a_batch_is_offered_even_when_validation_would_not_fit_at_the_old_fixed_size():
    # 360 validation digits at once need ~95 GiB here; validation now goes a few training
    # batches at a time, so a smaller batch fixes training and validation together.
    analysis = analyse(upsampling_model())
    with pytest.raises(BuilderError, match="more than the") as info:
        check_training_memory(analysis, batch_size=64, free=16 * GIB, share=0.5, n_val=360)
    fits = info.value.suggested_batch_size
    assert fits is not None and 1 <= fits < 64
    estimate = check_training_memory(analysis, batch_size=fits, free=16 * GIB, share=0.5, n_val=360)
    assert estimate.validation == estimate.validation_per_sample * validation_batch_size(fits)


def test_wide_mlp_is_refused_naming_its_widest_layer():
    analysis = analyse(wide_mlp())
    with pytest.raises(BuilderError) as info:
        check_training_memory(analysis, batch_size=64, free=8 * GIB, share=0.6)
    assert info.value.node == "fc2"  # 1e6 × 900 weights: 3.4 GiB, five copies with Adam
    assert "Make fc2 smaller" in str(info.value)


def test_trainer_refuses_before_allocating_the_model():
    digits = load_dataset("digits")
    with pytest.raises(BuilderError) as info:
        Trainer(upsampling_model(), digits, TrainConfig(batch_size=64, device="cpu"))
    assert info.value.node in ("up2", "conv2")


def test_cli_train_exits_1_naming_the_node(tmp_path, capsys):
    path = tmp_path / "up.json"
    upsampling_model().save(path)
    code = main(["train", str(path), "--dataset", "digits", "--epochs", "1", "--device", "cpu"])
    assert code == 1
    err = capsys.readouterr().err
    assert "Traceback" not in err and ("up2" in err or "conv2" in err)
    assert "batch size" in err


def test_memory_share_reads_the_environment(monkeypatch):
    monkeypatch.setenv("LAYERCRAFT_MEMORY_SHARE", "0.25")
    assert memory_share() == 0.25
    for bad in ("2", "-1", "lots"):
        monkeypatch.setenv("LAYERCRAFT_MEMORY_SHARE", bad)
        assert memory_share() == 0.6


def test_small_model_fits():
    arch = load_template("mlp_digits")
    estimate = check_training_memory(analyse(arch), batch_size=64, free=1 * GIB, share=0.5)
    assert estimate.total < 50 * 2**20
