"""Writes assets/templates/*.json from the readable recipes below (run after changing one)."""

from __future__ import annotations

from pathlib import Path

from builder.graph import Architecture
from builder.layout import apply_layout

OUT = Path(__file__).resolve().parent.parent / "assets" / "templates"


def chain(name, input_params, layers, input_id="x"):
    arch = Architecture(name)
    prev = arch.add_node("Input", input_params, id=input_id)
    for item in layers:
        type_name, params, *node_id = (*item, None) if len(item) == 2 else item
        new = arch.add_node(type_name, params, id=node_id[0] if node_id else None)
        arch.connect(prev, new)
        prev = new
    return arch


def mlp_digits():
    return chain(
        "MLP digits",
        {"shape": [1, 8, 8]},
        [
            ("Flatten", {}),
            ("Linear", {"out_features": 64}),
            ("ReLU", {}),
            ("Linear", {"out_features": 10}),
        ],
    )


def lenet5():
    return chain(
        "LeNet-5",
        {"shape": [1, 32, 32]},
        [
            ("Conv2d", {"out_channels": 6, "kernel_size": 5}),
            ("ReLU", {}),
            ("MaxPool2d", {"kernel_size": 2}),
            ("Conv2d", {"out_channels": 16, "kernel_size": 5}),
            ("ReLU", {}),
            ("MaxPool2d", {"kernel_size": 2}),
            ("Flatten", {}),
            ("Linear", {"out_features": 120}),
            ("ReLU", {}),
            ("Linear", {"out_features": 84}),
            ("ReLU", {}),
            ("Linear", {"out_features": 10}),
        ],
    )


def lenet_digits():
    return chain(
        "LeNet digits",
        {"shape": [1, 8, 8]},
        [
            ("Conv2d", {"out_channels": 16, "kernel_size": 3, "padding": 1}),
            ("BatchNorm2d", {}),
            ("ReLU", {}),
            ("MaxPool2d", {"kernel_size": 2}),
            ("Conv2d", {"out_channels": 32, "kernel_size": 3, "padding": 1}),
            ("BatchNorm2d", {}),
            ("ReLU", {}),
            ("MaxPool2d", {"kernel_size": 2}),
            ("Flatten", {}),
            ("Linear", {"out_features": 64}),
            ("ReLU", {}),
            ("Dropout", {"p": 0.3}),
            ("Linear", {"out_features": 10}),
        ],
    )


def resnet_small():
    arch = Architecture("Small ResNet")
    x = arch.add_node("Input", {"shape": [1, 8, 8]}, id="x")
    stem = arch.add_node("Conv2d", {"out_channels": 16, "kernel_size": 3, "padding": 1}, id="stem")
    arch.connect(x, stem)
    prev = arch.add_node("ReLU", {}, id="stem_relu")
    arch.connect(stem, prev)
    for block in (1, 2):
        conv_a = arch.add_node(
            "Conv2d", {"out_channels": 16, "kernel_size": 3, "padding": 1}, id=f"b{block}_conv1"
        )
        bn_a = arch.add_node("BatchNorm2d", {}, id=f"b{block}_bn1")
        relu_a = arch.add_node("ReLU", {}, id=f"b{block}_relu1")
        conv_b = arch.add_node(
            "Conv2d", {"out_channels": 16, "kernel_size": 3, "padding": 1}, id=f"b{block}_conv2"
        )
        bn_b = arch.add_node("BatchNorm2d", {}, id=f"b{block}_bn2")
        add = arch.add_node("Add", {}, id=f"b{block}_add")
        out = arch.add_node("ReLU", {}, id=f"b{block}_out")
        for src, dst in [
            (prev, conv_a),
            (conv_a, bn_a),
            (bn_a, relu_a),
            (relu_a, conv_b),
            (conv_b, bn_b),
            (bn_b, add),
            (prev, add),
            (add, out),
        ]:
            arch.connect(src, dst)
        prev = out
    for node_id, type_name, params in [
        ("gap", "AdaptiveAvgPool2d", {"output_size": 1}),
        ("flatten", "Flatten", {}),
        ("fc", "Linear", {"out_features": 10}),
    ]:
        arch.add_node(type_name, params, id=node_id)
        arch.connect(prev, node_id)
        prev = node_id
    return arch


def inception_block():
    arch = Architecture("Inception block")
    x = arch.add_node("Input", {"shape": [1, 8, 8]}, id="x")
    stem = arch.add_node("Conv2d", {"out_channels": 16, "kernel_size": 3, "padding": 1}, id="stem")
    arch.connect(x, stem)
    branches = [
        ("b1x1", [("Conv2d", {"out_channels": 8, "kernel_size": 1})]),
        (
            "b3x3",
            [
                ("Conv2d", {"out_channels": 8, "kernel_size": 1}),
                ("Conv2d", {"out_channels": 16, "kernel_size": 3, "padding": 1}),
            ],
        ),
        (
            "b5x5",
            [
                ("Conv2d", {"out_channels": 4, "kernel_size": 1}),
                ("Conv2d", {"out_channels": 8, "kernel_size": 5, "padding": 2}),
            ],
        ),
        (
            "bpool",
            [
                ("MaxPool2d", {"kernel_size": 3, "stride": 1, "padding": 1}),
                ("Conv2d", {"out_channels": 8, "kernel_size": 1}),
            ],
        ),
    ]
    concat = "concat"
    tails = []
    for prefix, layers in branches:
        prev = stem
        for i, (type_name, params) in enumerate(layers, start=1):
            node_id = arch.add_node(type_name, params, id=f"{prefix}_{i}")
            arch.connect(prev, node_id)
            prev = node_id
        tails.append(prev)
    arch.add_node("Concat", {"dim": 1}, id=concat)
    for tail in tails:
        arch.connect(tail, concat)
    prev = concat
    for node_id, type_name, params in [
        ("relu", "ReLU", {}),
        ("gap", "AdaptiveAvgPool2d", {"output_size": 1}),
        ("flatten", "Flatten", {}),
        ("fc", "Linear", {"out_features": 10}),
    ]:
        arch.add_node(type_name, params, id=node_id)
        arch.connect(prev, node_id)
        prev = node_id
    return arch


TEXT_INPUT = {"shape": [32], "dtype": "int64"}
EMBEDDING = ("Embedding", {"num_embeddings": 500, "embedding_dim": 32, "padding_idx": 0})


def lstm_text():
    return chain(
        "LSTM text classifier",
        TEXT_INPUT,
        [EMBEDDING, ("LSTM", {"hidden_size": 64}), ("Linear", {"out_features": 2})],
        "tokens",
    )


def gru_text():
    return chain(
        "GRU text classifier",
        TEXT_INPUT,
        [EMBEDDING, ("GRU", {"hidden_size": 64}), ("Linear", {"out_features": 2})],
        "tokens",
    )


def transformer_text():
    return chain(
        "Transformer text classifier",
        TEXT_INPUT,
        [
            EMBEDDING,
            ("PositionalEmbedding", {"max_len": 32, "encoding": "sinusoidal"}),
            ("TransformerEncoderLayer", {"nhead": 2, "dim_feedforward": 64, "dropout": 0.1}),
            ("SequenceMean", {}),
            ("Linear", {"out_features": 2}),
        ],
        "tokens",
    )


def conv_autoencoder():
    return chain(
        "Conv autoencoder",
        {"shape": [1, 8, 8]},
        [
            ("Conv2d", {"out_channels": 16, "kernel_size": 3, "padding": 1}, "enc_conv1"),
            ("ReLU", {}, "enc_relu1"),
            ("MaxPool2d", {"kernel_size": 2}, "enc_pool"),
            ("Conv2d", {"out_channels": 8, "kernel_size": 3, "padding": 1}, "enc_conv2"),
            ("ReLU", {}, "code"),
            ("ConvTranspose2d", {"out_channels": 16, "kernel_size": 2, "stride": 2}, "dec_up"),
            ("ReLU", {}, "dec_relu"),
            ("Conv2d", {"out_channels": 1, "kernel_size": 3, "padding": 1}, "dec_out"),
        ],
    )


def mlp_moons():
    return chain(
        "MLP moons",
        {"shape": [2]},
        [
            ("Linear", {"out_features": 16}),
            ("Tanh", {}),
            ("Linear", {"out_features": 16}),
            ("Tanh", {}),
            ("Linear", {"out_features": 2}),
        ],
    )


def mlp_sine():
    return chain(
        "MLP sine regression",
        {"shape": [1]},
        [
            ("Linear", {"out_features": 32}),
            ("Tanh", {}),
            ("Linear", {"out_features": 32}),
            ("Tanh", {}),
            ("Linear", {"out_features": 1}),
        ],
    )


def search_digits():
    """A digits CNN with a search section: channels, dropout, activations, depth, pooling, lr."""
    arch = chain(
        "Search digits CNN",
        {"shape": [1, 8, 8]},
        [
            ("Conv2d", {"out_channels": 16, "kernel_size": 3, "padding": 1}, "conv1"),
            ("BatchNorm2d", {}, "bn1"),
            ("ReLU", {}, "act1"),
            ("Conv2d", {"out_channels": 32, "kernel_size": 3, "padding": 1}, "conv2"),
            ("ReLU", {}, "act2"),
            ("MaxPool2d", {"kernel_size": 2}, "pool1"),
            ("Flatten", {}, "flatten1"),
            ("Dropout", {"p": 0.3}, "drop1"),
            ("Linear", {"out_features": 10}, "fc1"),
        ],
    )
    activations = ["ReLU", "GELU", "SiLU"]
    arch.search = {
        "params": {
            "conv1": {"out_channels": {"low": 8, "high": 32, "log": True}},
            "conv2": {"out_channels": {"choices": [16, 32, 48]}},
            "drop1": {"p": {"low": 0.0, "high": 0.5}},
        },
        "types": {"act1": activations, "act2": activations, "pool1": ["MaxPool2d", "AvgPool2d"]},
        "optional": ["bn1"],
        "repeat": {"deep": {"nodes": ["conv2", "act2"], "min": 1, "max": 3}},
        "train": {"lr": {"low": 1e-4, "high": 1e-2, "log": True}},
    }
    return arch


RECIPES = {
    "mlp_digits": mlp_digits,
    "lenet5": lenet5,
    "lenet_digits": lenet_digits,
    "resnet_small": resnet_small,
    "inception_block": inception_block,
    "lstm_text": lstm_text,
    "gru_text": gru_text,
    "transformer_text": transformer_text,
    "conv_autoencoder": conv_autoencoder,
    "mlp_moons": mlp_moons,
    "mlp_sine": mlp_sine,
    "search_digits": search_digits,
}

if __name__ == "__main__":
    OUT.mkdir(parents=True, exist_ok=True)
    for stem, recipe in RECIPES.items():
        arch = recipe()
        apply_layout(arch)
        arch.save(OUT / f"{stem}.json")
        print(f"wrote {stem}.json")
