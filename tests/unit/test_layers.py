"""Every layer type, under several settings: inferred shape and counts match real torch."""

from __future__ import annotations

import pytest
import torch

from builder.compile import compile_model, example_inputs
from builder.errors import BuilderError
from builder.graph import Architecture
from builder.layers import CATEGORIES, REGISTRY, get_spec, specs_by_category
from builder.layers.base import PARAM_KINDS
from builder.shapes import analyse

# (type, input shape, input dtype, params): one graph Input -> layer each.
CASES = [
    ("Linear", (20,), "float32", {"out_features": 7}),
    ("Linear", (20,), "float32", {"out_features": 3, "bias": False}),
    ("Linear", (5, 12), "float32", {"out_features": 4}),
    ("Linear", (4, 4, 12), "float32", {"out_features": 4, "per_position": True}),
    ("Flatten", (3, 4, 5), "float32", {}),
    ("Flatten", (3, 4, 5), "float32", {"start_dim": 2}),
    ("Flatten", (3, 4, 5), "float32", {"start_dim": 1, "end_dim": 2}),
    ("Unflatten", (64,), "float32", {"dim": 1, "unflattened_size": [1, 8, 8]}),
    ("Unflatten", (6, 10), "float32", {"dim": 2, "unflattened_size": [2, 5]}),
    ("Reshape", (2, 3, 4), "float32", {"shape": [4, 6]}),
    ("Reshape", (24,), "float32", {"shape": [2, 3, 4]}),
    ("Identity", (3, 5), "float32", {}),
    ("Dropout", (10,), "float32", {"p": 0.2}),
    ("Conv1d", (3, 20), "float32", {"out_channels": 8, "kernel_size": 5}),
    ("Conv1d", (4, 20), "float32", {"out_channels": 8, "kernel_size": 3, "stride": 2, "groups": 2}),
    ("Conv2d", (1, 32, 32), "float32", {"out_channels": 6, "kernel_size": 5}),
    ("Conv2d", (3, 9, 11), "float32", {"out_channels": 4, "kernel_size": [3, 2], "padding": 1}),
    (
        "Conv2d",
        (4, 16, 16),
        "float32",
        {"out_channels": 8, "kernel_size": 3, "stride": 2, "dilation": 2, "bias": False},
    ),
    ("Conv2d", (6, 8, 8), "float32", {"out_channels": 6, "kernel_size": 3, "groups": 6}),
    ("ConvTranspose2d", (8, 4, 4), "float32", {"out_channels": 4, "kernel_size": 2, "stride": 2}),
    (
        "ConvTranspose2d",
        (3, 5, 7),
        "float32",
        {"out_channels": 2, "kernel_size": 3, "stride": 2, "padding": 1, "output_padding": 1},
    ),
    ("MaxPool1d", (4, 17), "float32", {"kernel_size": 3}),
    ("MaxPool2d", (6, 28, 28), "float32", {"kernel_size": 2}),
    ("MaxPool2d", (3, 9, 9), "float32", {"kernel_size": 3, "stride": 2, "padding": 1}),
    ("AvgPool2d", (3, 10, 10), "float32", {"kernel_size": 2}),
    ("AvgPool2d", (3, 10, 7), "float32", {"kernel_size": [3, 2], "stride": 1}),
    ("AdaptiveAvgPool2d", (5, 9, 9), "float32", {"output_size": 1}),
    ("AdaptiveAvgPool2d", (5, 9, 9), "float32", {"output_size": [3, 2]}),
    ("Upsample", (2, 4, 5), "float32", {"scale_factor": 2.0}),
    ("Upsample", (2, 4, 5), "float32", {"scale_factor": 1.5, "mode": "bilinear"}),
    ("BatchNorm1d", (12,), "float32", {}),
    ("BatchNorm1d", (4, 10), "float32", {"affine": False, "momentum": 0.2}),
    ("BatchNorm2d", (3, 6, 6), "float32", {"eps": 0.001}),
    ("LayerNorm", (7, 16), "float32", {}),
    ("LayerNorm", (16,), "float32", {"elementwise_affine": False}),
    ("LayerScale", (6, 4, 4), "float32", {}),
    ("LayerScale", (5, 12), "float32", {"channels": "last", "init": 0.1}),
    ("Dropout2d", (3, 6, 6), "float32", {"p": 0.1}),
    ("ReLU", (3, 4), "float32", {}),
    ("LeakyReLU", (5,), "float32", {"negative_slope": 0.2}),
    ("ELU", (5,), "float32", {"alpha": 0.5}),
    ("GELU", (5,), "float32", {"approximate": "tanh"}),
    ("SiLU", (2, 3), "float32", {}),
    ("Sigmoid", (4,), "float32", {}),
    ("Tanh", (4,), "float32", {}),
    ("Softmax", (3, 4), "float32", {"dim": 1}),
    ("LogSoftmax", (10,), "float32", {}),
    ("Embedding", (12,), "int64", {"num_embeddings": 50, "embedding_dim": 8}),
    ("Embedding", (12,), "int64", {"num_embeddings": 50, "embedding_dim": 8, "padding_idx": 0}),
    ("RNN", (9, 6), "float32", {"hidden_size": 5}),
    ("RNN", (9, 6), "float32", {"hidden_size": 5, "return": "sequence", "bias": False}),
    ("LSTM", (9, 6), "float32", {"hidden_size": 8}),
    ("LSTM", (9, 6), "float32", {"hidden_size": 8, "num_layers": 2, "bidirectional": True}),
    ("LSTM", (9, 6), "float32", {"hidden_size": 8, "return": "sequence", "num_layers": 3}),
    ("GRU", (9, 6), "float32", {"hidden_size": 7, "bidirectional": True, "return": "sequence"}),
    ("GRU", (9, 6), "float32", {"hidden_size": 7}),
    ("MultiheadAttention", (10, 16), "float32", {"num_heads": 4}),
    ("MultiheadAttention", (10, 12), "float32", {"num_heads": 3, "bias": False}),
    ("TransformerEncoderLayer", (10, 16), "float32", {"nhead": 2, "dim_feedforward": 32}),
    (
        "TransformerEncoderLayer",
        (6, 8),
        "float32",
        {"nhead": 4, "dim_feedforward": 16, "activation": "gelu", "norm_first": True},
    ),
    ("PositionalEmbedding", (10, 16), "float32", {"max_len": 10}),
    ("PositionalEmbedding", (10, 16), "float32", {"max_len": 64}),
    ("PositionalEmbedding", (10, 16), "float32", {"max_len": 12, "encoding": "sinusoidal"}),
    ("PositionalEmbedding", (10, 5), "float32", {"max_len": 10, "encoding": "sinusoidal"}),
    ("SequenceMean", (10, 16), "float32", {}),
    ("SequenceMean", (10, 16), "float32", {"dim": -1}),
    ("SequenceMean", (3, 10, 16), "float32", {"dim": 2}),
    ("SequenceMean", (10, 16), "float32", {"reduce": "max"}),
    ("SequenceMean", (3, 10, 16), "float32", {"dim": 2, "reduce": "last"}),
    ("SequenceMean", (10, 16), "float32", {"reduce": "first"}),
    ("ClassToken", (10, 16), "float32", {}),
]

MERGE_CASES = [
    ("Add", [(3, 4, 4), (3, 4, 4)], {}),
    ("Add", [(5,), (5,), (5,)], {}),
    ("Multiply", [(2, 6), (2, 6)], {}),
    ("Multiply", [(6, 1, 1), (6, 4, 4)], {}),  # a squeeze-and-excitation gate
    ("Add", [(1, 4, 4), (3, 1, 4)], {}),
    ("Concat", [(3, 4, 4), (5, 4, 4)], {}),
    ("Concat", [(3, 4, 4), (3, 4, 2)], {"dim": 3}),
    ("Concat", [(6,), (2,), (1,)], {"dim": -1}),
]


def _single_layer(type_name, shape, dtype, params):
    arch = Architecture("layer test")
    arch.add_node("Input", {"shape": list(shape), "dtype": dtype}, id="x")
    node = arch.add_node(type_name, params)
    arch.connect("x", node)
    return arch, node


def _merge_layer(type_name, shapes, params):
    arch = Architecture("merge test")
    node = arch.add_node(type_name, params)
    for i, shape in enumerate(shapes):
        arch.add_node("Input", {"shape": list(shape)}, id=f"in{i}")
        arch.connect(f"in{i}", node)
    return arch, node


def _check_against_torch(arch, node, forward):
    analysis = analyse(arch)
    assert analysis.ok, analysis.errors
    model = compile_model(arch)
    out = forward(model, example_inputs(arch, batch_size=3))
    assert tuple(out.shape[1:]) == analysis.nodes[node].output_shape
    assert analysis.total_params == sum(p.numel() for p in model.parameters())


@pytest.mark.parametrize(("type_name", "shape", "dtype", "params"), CASES)
def test_inferred_shape_and_params_match_torch(type_name, shape, dtype, params, forward):
    arch, node = _single_layer(type_name, shape, dtype, params)
    _check_against_torch(arch, node, forward)


@pytest.mark.parametrize(("type_name", "shapes", "params"), MERGE_CASES)
def test_merge_shape_and_params_match_torch(type_name, shapes, params, forward):
    arch, node = _merge_layer(type_name, shapes, params)
    _check_against_torch(arch, node, forward)


def test_every_layer_type_is_covered_by_a_case():
    from test_layers_torch import TORCH_CHECKED  # types checked against torch by hand there

    covered = {c[0] for c in CASES} | {c[0] for c in MERGE_CASES} | {"Input"} | TORCH_CHECKED
    assert covered == set(REGISTRY)


def test_registry_offers_the_issue_layers_in_palette_categories():
    required = [
        "Input",
        "Linear",
        "Flatten",
        "Unflatten",
        "Reshape",
        "Identity",
        "Dropout",
        "Conv1d",
        "Conv2d",
        "ConvTranspose2d",
        "MaxPool1d",
        "MaxPool2d",
        "AvgPool2d",
        "AdaptiveAvgPool2d",
        "Upsample",
        "BatchNorm1d",
        "BatchNorm2d",
        "LayerNorm",
        "Dropout2d",
        "ReLU",
        "LeakyReLU",
        "ELU",
        "GELU",
        "SiLU",
        "Sigmoid",
        "Tanh",
        "Softmax",
        "LogSoftmax",
        "Embedding",
        "RNN",
        "LSTM",
        "GRU",
        "MultiheadAttention",
        "TransformerEncoderLayer",
        "Add",
        "Concat",
        "Multiply",
    ]
    assert set(required) <= set(REGISTRY)
    grouped = specs_by_category()
    assert list(grouped) == CATEGORIES
    assert sum(len(v) for v in grouped.values()) == len(REGISTRY)


@pytest.mark.parametrize("spec", list(REGISTRY.values()), ids=list(REGISTRY))
def test_spec_params_are_declared_fully(spec):
    assert spec.category in CATEGORIES and spec.help
    for param in spec.params:
        assert param.help, f"{spec.type}.{param.name} has no tooltip"
        assert param.kind in PARAM_KINDS
        if param.kind == "choice":
            assert param.default in param.choices


def test_inferred_sizes_are_not_user_params():
    inferred = {"in_features", "in_channels", "input_size", "num_features", "embed_dim"}
    for spec in REGISTRY.values():
        assert not inferred & {p.name for p in spec.params}, spec.type


def test_unknown_type_error_lists_known_types():
    with pytest.raises(BuilderError) as err:
        get_spec("Conv3x")
    assert "Conv3x" in str(err.value) and "Conv2d" in err.value.hint


def test_recurrent_forward_unpacks_the_output_tuple(build_chain):
    from builder.codegen import generate_source

    source = generate_source(
        build_chain((9, 6), ("LSTM", {"hidden_size": 8}), ("Linear", {"out_features": 2}))
    )
    assert "x, _ = self.lstm1(x)" in source
    assert "x = x[:, -1]" in source
    assert "batch_first=True" in source


def test_attention_is_self_attention_without_weights(build_chain):
    from builder.codegen import generate_source

    source = generate_source(build_chain((10, 16), ("MultiheadAttention", {"num_heads": 4})))
    assert "self.attn1(x, x, x, need_weights=False)" in source
    assert "batch_first=True" in source


def test_bidirectional_sequence_output_doubles_features(build_chain):
    arch = build_chain(
        (9, 6), ("GRU", {"hidden_size": 7, "bidirectional": True, "return": "sequence"})
    )
    assert analyse(arch).nodes["gru1"].output_shape == (9, 14)


def test_int_or_tuple_param_emits_a_tuple(build_chain, forward):
    arch = build_chain((3, 9, 9), ("Conv2d", {"out_channels": 2, "kernel_size": [3, 1]}))
    model = compile_model(arch)
    assert model.conv1.kernel_size == (3, 1)
    assert tuple(forward(model, [torch.randn(1, 3, 9, 9)]).shape) == (1, 2, 7, 9)
