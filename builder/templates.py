"""The built-in architectures in assets/templates/, with a line on what each shows."""

from __future__ import annotations

from pathlib import Path

from .errors import BuilderError
from .graph import Architecture

TEMPLATE_DIR = Path(__file__).resolve().parent.parent / "assets" / "templates"

# stem -> (suggested dataset, what it teaches); the JSON itself stays strict graph JSON v1.
DESCRIPTIONS = {
    "mlp_digits": ("digits", "A two-layer perceptron on 8×8 handwritten digits."),
    "lenet5": (
        "synthetic",
        "LeNet-5 exactly as in the classic paper: 1×32×32 in, 10 classes, 61,706 parameters.",
    ),
    "lenet_digits": ("digits", "A LeNet-style CNN with batch norm and dropout for the 8×8 digits."),
    "resnet_small": ("digits", "Residual blocks: skip connections joined with Add."),
    "inception_block": (
        "digits",
        "Parallel 1×1, 3×3, 5×5 and pooling branches joined with Concat.",
    ),
    "lstm_text": ("sentiment", "Embedding → LSTM → Linear: classify the sentiment of a sentence."),
    "gru_text": ("sentiment", "Embedding → GRU → Linear: the lighter recurrent cell."),
    "transformer_text": (
        "sentiment",
        "Embedding + positions → Transformer encoder → mean → Linear.",
    ),
    "conv_autoencoder": ("digits", "Compress 8×8 digits to a small code and rebuild them."),
    "mlp_moons": ("moons", "A tiny MLP that bends a boundary around two interleaved moons."),
    "mlp_sine": ("sine", "Regression: fit a noisy sine wave."),
}


def list_templates() -> list[tuple[str, str, str]]:
    """(stem, display name, description) for every template file, in a teaching order."""
    stems = [p.stem for p in sorted(TEMPLATE_DIR.glob("*.json"))]
    ordered = [s for s in DESCRIPTIONS if s in stems] + [s for s in stems if s not in DESCRIPTIONS]
    return [(s, load_template(s).name, DESCRIPTIONS.get(s, ("", ""))[1]) for s in ordered]


def template_dataset(stem: str) -> str | None:
    """The built-in dataset a template is meant to train on."""
    return DESCRIPTIONS.get(stem, (None, ""))[0]


def load_template(stem: str) -> Architecture:
    path = TEMPLATE_DIR / f"{stem}.json"
    if not stem.replace("_", "").isalnum() or not path.is_file():
        raise BuilderError(f"there is no template named {stem[:40]!r}")
    return Architecture.load(path)
