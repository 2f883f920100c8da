"""Shape inference: errors that name the node and say how to fix it, warnings, limits, counts."""

from __future__ import annotations

import pytest
import torch

from builder.compile import compile_model
from builder.errors import BuilderError
from builder.graph import Architecture
from builder.shapes import analyse, format_shape, infer_shapes
from builder.templates import load_template


def _only_error(arch):
    analysis = analyse(arch)
    assert len(analysis.errors) == 1, analysis.errors
    return analysis.errors[0]


def test_linear_on_an_image_asks_for_flatten(build_chain):
    arch = build_chain((16, 5, 5), ("Linear", {"out_features": 120}))
    assert str(_only_error(arch)) == (
        "fc1: expects a flat input but gets (16, 5, 5). Insert Flatten before fc1."
    )


def test_conv_kernel_larger_than_input_says_lower_kernel_or_pad(build_chain):
    arch = build_chain((3, 3, 3), ("Conv2d", {"out_channels": 4, "kernel_size": 5}))
    err = _only_error(arch)
    assert err.node == "conv1"
    assert (
        str(err)
        == "conv1: kernel 5 is larger than its 3x3 input. Lower kernel_size or add padding."
    )


def test_conv_on_a_flat_input_suggests_unflatten(build_chain):
    err = _only_error(build_chain((64,), ("Conv2d", {"out_channels": 4})))
    assert "(channels, height, width)" in err.message and "Unflatten" in err.hint


def test_concat_rejects_mismatched_heights():
    arch = Architecture()
    arch.add_node("Input", {"shape": [3, 8, 8]}, id="a")
    arch.add_node("Input", {"shape": [3, 6, 8]}, id="b")
    arch.add_node("Concat", id="cat")
    arch.connect("a", "cat")
    arch.connect("b", "cat")
    err = _only_error(arch)
    assert err.node == "cat" and "differ outside dim 1" in err.message and err.hint


def test_add_rejects_different_shapes_with_a_fix():
    arch = Architecture()
    arch.add_node("Input", {"shape": [4]}, id="a")
    arch.add_node("Input", {"shape": [5]}, id="b")
    arch.add_node("Add", id="sum")
    arch.connect("a", "sum")
    arch.connect("b", "sum")
    assert "different shapes" in _only_error(arch).message


@pytest.mark.parametrize(
    ("a", "b", "out"),
    [
        ([16, 1, 1], [16, 4, 4], (16, 4, 4)),  # a squeeze-and-excitation gate
        ([1, 4, 4], [16, 1, 1], (16, 4, 4)),  # both sides broadcast, as in torch
        ([16, 4, 4], [16, 4, 4], (16, 4, 4)),
        ([16, 4, 4], [16, 4], None),  # torch would align the trailing sizes: refused
        ([16, 4, 4], [8, 4, 4], None),
    ],
)
def test_add_and_multiply_broadcast_sizes_of_one_as_torch_does(a, b, out):
    for merge in ("Add", "Multiply"):
        arch = Architecture()
        arch.add_node("Input", {"shape": a}, id="a")
        arch.add_node("Input", {"shape": b}, id="b")
        arch.add_node(merge, id="m")
        arch.connect("a", "m")
        arch.connect("b", "m")
        if out is None:
            assert "different shapes" in _only_error(arch).message
            continue
        assert analyse(arch).nodes["m"].output_shape == out
        model = compile_model(arch)
        result = model(torch.randn(2, *a), torch.randn(2, *b))
        assert tuple(result.shape) == (2, *out)


def test_a_linear_past_two_dims_is_a_missing_flatten_unless_per_position(build_chain):
    err = _only_error(build_chain((4, 4, 8), ("Linear", {"out_features": 3})))
    assert "expects a flat input" in err.message and "Flatten" in err.hint
    arch = build_chain((4, 4, 8), ("Linear", {"out_features": 3, "per_position": True}))
    [info] = [n for n in analyse(arch).nodes.values() if n.type == "Linear"]
    assert info.output_shape == (4, 4, 3) and info.params == 8 * 3 + 3


@pytest.mark.parametrize(
    ("channels", "shape", "scale"), [("first", [8, 4, 4], (8, 1, 1)), ("last", [5, 8], (8,))]
)
def test_layer_scale_learns_one_scale_per_channel(build_chain, channels, shape, scale):
    arch = build_chain(tuple(shape), ("LayerScale", {"channels": channels, "init": 0.1}))
    model = compile_model(arch)
    [weight] = model.parameters()
    assert tuple(weight.shape) == scale and torch.all(weight == 0.1)
    x = torch.randn(2, *shape)
    assert torch.allclose(model(x), 0.1 * x)


def test_merge_with_one_input_asks_for_another_branch(build_chain):
    err = _only_error(build_chain((4,), "Add"))
    assert err.node == "add1" and "at least 2 inputs" in err.message


def test_unconnected_layer_needs_an_input():
    arch = Architecture()
    arch.add_node("Input", {"shape": [4]})
    arch.add_node("Linear")
    err = _only_error(arch)
    assert err.node == "fc1" and err.hint == "Connect a layer into it."


def test_graph_without_input_is_an_error():
    arch = Architecture()
    assert any("no Input" in str(e) for e in analyse(arch).errors)


def test_errors_do_not_repeat_downstream(build_chain):
    arch = build_chain((16, 5, 5), ("Linear", {"out_features": 8}), "ReLU", ("Linear", {}))
    analysis = analyse(arch)
    assert [e.node for e in analysis.errors] == ["fc1"]
    assert analysis.nodes["fc2"].output_shape is None


def test_pooling_to_nothing_is_an_error_not_a_crash(build_chain):
    arch = build_chain(
        (1, 4, 4), ("MaxPool2d", {"kernel_size": 2}), ("MaxPool2d", {}), ("MaxPool2d", {})
    )
    err = _only_error(arch)
    assert err.node == "pool3" and "larger than its 1x1 input" in err.message


def test_token_ids_into_a_float_layer_suggest_embedding(build_chain):
    err = _only_error(build_chain((32,), ("Linear", {}), dtype="int64"))
    assert err.hint == "Put an Embedding before fc1."


def test_float_input_into_embedding_suggests_int64(build_chain):
    err = _only_error(build_chain((32,), "Embedding"))
    assert "int64" in err.hint


def test_lstm_on_a_flat_input_explains_sequences(build_chain):
    err = _only_error(build_chain((32,), "LSTM"))
    assert "(sequence, features)" in err.message and "Embedding" in err.hint


def test_attention_heads_must_divide_features(build_chain):
    err = _only_error(build_chain((10, 10), ("MultiheadAttention", {"num_heads": 4})))
    assert "4 heads do not divide the feature size 10" in err.message


def test_positional_embedding_refuses_sequences_longer_than_max_len(build_chain):
    err = _only_error(build_chain((40, 8), ("PositionalEmbedding", {"max_len": 32})))
    assert err.hint == "Raise max_len to at least 40."


def test_reshape_must_keep_the_number_of_values(build_chain):
    err = _only_error(build_chain((10,), ("Reshape", {"shape": [3, 3]})))
    assert "10 values" in err.message


def test_infer_shapes_raises_the_first_error(build_chain):
    with pytest.raises(BuilderError, match="Flatten"):
        infer_shapes(build_chain((2, 3, 3), ("Linear", {})))


def test_infer_shapes_of_lenet5():
    shapes = infer_shapes(load_template("lenet5"))
    assert shapes["conv1"] == (6, 28, 28) and shapes["pool1"] == (6, 14, 14)
    assert shapes["conv2"] == (16, 10, 10) and shapes["pool2"] == (16, 5, 5)
    assert [shapes[n] for n in ("flatten1", "fc1", "fc2", "fc3")] == [(400,), (120,), (84,), (10,)]


def test_lenet5_counts_params_and_conv_macs():
    analysis = analyse(load_template("lenet5"))
    assert analysis.total_params == 61_706
    conv_macs = [i.macs for i in analysis.nodes.values() if i.type == "Conv2d"]
    assert conv_macs == [6 * 28 * 28 * 25, 16 * 10 * 10 * 150]


def _warnings(arch):
    return [str(w) for w in analyse(arch).warnings]


def test_warns_about_softmax_as_the_last_layer(build_chain):
    arch = build_chain((4,), ("Linear", {"out_features": 3}), ("Softmax", {}))
    (warning,) = _warnings(arch)
    assert warning.startswith("softmax1: Softmax as the last layer") and "logits" in warning


def test_warns_about_two_linear_layers_in_a_row(build_chain):
    arch = build_chain((4,), ("Linear", {}), ("Linear", {}))
    assert any("collapse into one linear map" in w for w in _warnings(arch))


def test_warns_about_dropout_before_batchnorm(build_chain):
    arch = build_chain((4,), "Dropout", "BatchNorm1d")
    assert any("Dropout right before BatchNorm" in w for w in _warnings(arch))


def test_warns_about_a_layer_over_50m_params(build_chain):
    arch = build_chain((10_000,), ("Linear", {"out_features": 6_000}))
    assert any("over 50M" in w for w in _warnings(arch))


def test_clean_model_has_no_warnings():
    assert analyse(load_template("lenet5")).warnings == []


def test_model_too_large_for_memory_is_refused_before_allocating(build_chain):
    # 10^6 x 10^6 weights would be 4 TB: refused by counting, never allocated.
    arch = build_chain((1_000_000,), ("Linear", {"out_features": 1_000_000}))
    analysis = analyse(arch)
    assert not analysis.ok and "parameters would need" in str(analysis.errors[-1])
    from builder.compile import compile_model

    with pytest.raises(BuilderError, match="GiB"):
        compile_model(arch)


def test_format_shape_reads_like_python():
    assert format_shape((6, 28, 28)) == "(6, 28, 28)"
    assert format_shape((10,)) == "(10,)"
    assert format_shape(None) == "—"


@pytest.mark.parametrize(
    ("layer", "field"),
    [
        (("Flatten", {"start_dim": 3}), "start_dim"),
        (("Unflatten", {"dim": 3, "unflattened_size": [1, 4]}), "dim"),
        (("Softmax", {"dim": 4}), "dim"),
    ],
)
def test_dims_beyond_the_tensor_are_errors_not_crashes(layer, field, build_chain):
    err = _only_error(build_chain((4,), layer))
    assert f"{field} " in err.message and "out of range" in err.message


def test_embedding_padding_idx_must_be_a_token_id(build_chain):
    arch = build_chain((5,), ("Embedding", {"num_embeddings": 3, "padding_idx": 3}), dtype="int64")
    assert "padding_idx 3" in _only_error(arch).message


def test_kernel_tuple_must_match_the_spatial_dims(build_chain):
    err = _only_error(build_chain((1, 6), ("MaxPool1d", {"kernel_size": [1, 1]})))
    assert (err.node, err.field) == ("pool1", "kernel_size")
    assert "one number or one size, not 2" in err.message


def test_warns_that_recurrent_dropout_needs_stacked_layers(build_chain):
    arch = build_chain((5, 4), ("GRU", {"hidden_size": 3, "dropout": 0.2}))
    assert any("dropout only acts between stacked layers" in w for w in _warnings(arch))
    arch.update_params("gru1", num_layers=2)
    assert _warnings(arch) == []


def test_huge_activation_is_refused_before_allocating(build_chain):
    arch = build_chain(
        (1, 20_000, 20_000),
        ("ConvTranspose2d", {"out_channels": 64, "kernel_size": 4, "stride": 4}),
    )
    err = _only_error(arch)
    assert err.node == "deconv1" and "values per sample" in err.message


def test_sequence_mean_needs_a_sequence(build_chain):
    err = _only_error(build_chain((6,), "SequenceMean"))
    assert err.node == "mean1" and "single number per sample" in err.message


def test_an_init_on_a_norm_without_its_scale_and_shift_names_the_switch(build_chain):
    # InstanceNorm's affine is off by default: there is no weight to initialise (the fuzz
    # test found nn.init.zeros_(None) in the generated __init__).
    arch = build_chain((4, 6), ("InstanceNorm1d", {"weight_init": "zeros"}))
    assert str(_only_error(arch)) == (
        "inorm1: has weight_init but no weight (affine is off). Turn affine on, or clear weight_init."
    )
    arch = build_chain((8,), ("LayerNorm", {"elementwise_affine": False, "bias_init": "zeros"}))
    assert "elementwise_affine is off" in str(_only_error(arch))
    assert analyse(
        build_chain((4, 6), ("InstanceNorm1d", {"affine": True, "weight_init": "ones"}))
    ).ok


def test_instance_norm_over_one_value_per_channel_is_refused_before_torch_refuses_it(build_chain):
    arch = build_chain((4, 1), ("InstanceNorm1d", {}))
    assert "has one per channel" in str(_only_error(arch))
    assert analyse(build_chain((4, 1, 2), ("InstanceNorm2d", {}))).ok
