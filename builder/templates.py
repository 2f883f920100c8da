"""The built-in architectures in assets/templates/, with a line on what each shows."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .errors import BuilderError
from .graph import Architecture

TEMPLATE_DIR = Path(__file__).resolve().parent.parent / "assets" / "templates"

# stem -> (suggested dataset, what it teaches, suggested training settings); the JSON itself
# stays strict graph JSON v1. The settings are TrainConfig fields, measured to reach the
# README's figures; anything not named keeps the trainer's default.
DESCRIPTIONS = {
    "mlp_digits": (
        "digits",
        "A two-layer perceptron on 8×8 handwritten digits.",
        {"epochs": 20, "lr": 1e-3},
    ),
    "lenet5": (
        "digits32",
        "LeNet-5 exactly as in the classic paper: 1×32×32 in, 10 classes, 61,706 parameters.",
        {"epochs": 10, "lr": 1e-3},
    ),
    "lenet_digits": (
        "digits",
        "A LeNet-style CNN with batch norm and dropout for the 8×8 digits.",
        {"epochs": 20, "lr": 1e-3},
    ),
    "resnet_small": (
        "digits",
        "Residual blocks: skip connections joined with Add.",
        {"epochs": 15, "lr": 1e-3},
    ),
    "inception_block": (
        "digits",
        "Parallel 1×1, 3×3, 5×5 and pooling branches joined with Concat.",
        {"epochs": 15, "lr": 1e-2},
    ),
    "lstm_text": (
        "sentiment",
        "Embedding → LSTM → Linear: classify the sentiment of a sentence.",
        {"epochs": 10, "lr": 1e-3},
    ),
    "gru_text": (
        "sentiment",
        "Embedding → GRU → Linear: the lighter recurrent cell.",
        {"epochs": 10, "lr": 1e-3},
    ),
    "transformer_text": (
        "sentiment",
        "Embedding + sine-wave positions → Transformer encoder → mean → Linear.",
        {"epochs": 15, "lr": 2e-3},
    ),
    "conv_autoencoder": (
        "digits",
        "Compress 8×8 digits to a small code and rebuild them.",
        {"epochs": 20, "lr": 1e-3},
    ),
    "mlp_moons": (
        "moons",
        "A tiny MLP that bends a boundary around two interleaved moons.",
        {"epochs": 30, "lr": 1e-2},
    ),
    "mlp_sine": ("sine", "Regression: fit a noisy sine wave.", {"epochs": 60, "lr": 1e-2}),
    "search_digits": (
        "digits",
        "A digits CNN whose channels, dropout, activations, depth and lr are searched (Search tab).",
        {"epochs": 10, "lr": 1e-3},
    ),
}


# Halves of a two-network setup (the GAN tab trains them together); not trained alone.
PART_DESCRIPTIONS = {
    "gan_generator": "GAN generator: turns random noise into an 8×8 digit image.",
    "gan_discriminator": "GAN discriminator: scores an 8×8 image as real or generated.",
}


def list_templates() -> list[tuple[str, str, str]]:
    """(stem, display name, description) for every template file, in a teaching order."""
    stems = [p.stem for p in sorted(TEMPLATE_DIR.glob("*.json"))]
    ordered = [s for s in DESCRIPTIONS if s in stems] + [s for s in stems if s not in DESCRIPTIONS]
    return [(s, load_template(s).name, _description(s)) for s in ordered]


def _description(stem: str) -> str:
    return DESCRIPTIONS[stem][1] if stem in DESCRIPTIONS else PART_DESCRIPTIONS.get(stem, "")


def template_dataset(stem: str) -> str | None:
    """The built-in dataset a template is meant to train on."""
    return DESCRIPTIONS.get(stem, (None, "", {}))[0]


def template_settings(stem: str) -> dict[str, Any]:
    """The training settings (TrainConfig fields) a template is known to train well with."""
    return dict(DESCRIPTIONS.get(stem, (None, "", {}))[2])


def load_template(stem: str) -> Architecture:
    """The template saved as assets/templates/<stem>.json."""
    path = TEMPLATE_DIR / f"{stem}.json"
    if not stem.replace("_", "").isalnum() or not path.is_file():
        raise BuilderError(f"there is no template named {stem[:40]!r}")
    return Architecture.load(path)
