"""Our reference suite: well-known public models, each built as a graph by hand AND imported
from its plain PyTorch module, then compared with the original after copying its weights.

Models that need layer types still being added on the `layers` branch are strict xfails
naming the missing piece; they flip to passing tests once those layers land.
"""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
import recipes
import torch

from builder.codegen import generate_source
from builder.compile import compile_model, example_inputs
from builder.importer import import_file, load_original_weights
from builder.importer.target import parse_expression

MODELS = Path(__file__).with_name("models.py")
TOLERANCE = 1e-5


@dataclass(frozen=True)
class Case:
    name: str
    expr: str  # constructor call in models.py, literal arguments only
    shapes: tuple[tuple[int, ...], ...]
    dtypes: tuple[str, ...] = ()
    recipe: object = None  # recipes.<fn> building the same network by hand
    missing: str | None = None  # what the layers branch still has to provide


CASES = [
    Case("quickstart_mlp", "QuickstartMLP", ((1, 28, 28),), recipe=recipes.quickstart_mlp),
    Case("mnist_net", "MnistNet", ((1, 28, 28),), recipe=recipes.mnist_net),
    Case(
        "mnist_rnn",
        "MnistRNN",
        ((1, 28, 28),),
        recipe=recipes.mnist_rnn,
    ),
    Case("resnet18", "ResNet18(num_classes=10, width=16)", ((3, 32, 32),), recipe=recipes.resnet18),
    Case(
        "word_lm_lstm_tied",
        "RNNModel('LSTM', 100, 16, 16, 2)",
        ((5,), (2, 16), (2, 16)),
        ("int64", "float32", "float32"),
        recipe=recipes.word_lm_lstm_tied,
    ),
    Case(
        "word_lm_lstm",
        "RNNModel('LSTM', 100, 16, 16, 2, 0.5, False)",
        ((5,), (2, 16), (2, 16)),
        ("int64", "float32", "float32"),
        recipe=recipes.word_lm_lstm,
    ),
    Case(
        "word_lm_transformer",
        "TransformerModel(100, 16, 2, 32, 2)",
        ((6,),),
        ("int64",),
        recipe=recipes.word_lm_transformer,
    ),
    Case(
        "vae",
        "VAE",
        ((1, 28, 28),),
        recipe=recipes.vae,
    ),
    Case(
        "dcgan_generator",
        "DCGANGenerator(1, 16, 8, 3)",
        ((16, 1, 1),),
        recipe=recipes.dcgan_generator,
    ),
    Case(
        "dcgan_discriminator",
        "DCGANDiscriminator(1, 8, 3)",
        ((3, 64, 64),),
        recipe=recipes.dcgan_discriminator,
    ),
    Case("unet_64", "UNet(3, 2, False, 4)", ((3, 64, 64),), recipe=recipes.unet),
    Case(
        "unet_bilinear_64",
        "UNet(3, 2, True, 4)",
        ((3, 64, 64),),
        recipe=recipes.unet_bilinear,
    ),
    Case("unet_60", "UNet(3, 2, False, 4)", ((3, 60, 60),), recipe=recipes.unet_60),
    Case(
        "super_resolution",
        "SuperResolutionNet(3)",
        ((1, 16, 16),),
        recipe=recipes.super_resolution,
    ),
    Case(
        "fast_neural_style",
        "TransformerNet(8)",
        ((3, 32, 32),),
        recipe=recipes.fast_neural_style,
    ),
    Case(
        "vision_transformer",
        "VisionTransformer()",
        ((3, 32, 32),),
        recipe=recipes.vision_transformer,
    ),
    Case(
        "mobilenet_v3_small",
        "MobileNetV3Small()",
        ((3, 32, 32),),
        recipe=recipes.mobilenet_v3_small,
    ),
    Case("convnext", "ConvNeXt()", ((3, 32, 32),), recipe=recipes.convnext),
    Case(
        "seq2seq_attention_decoder",
        "AttnDecoderRNN(8, 12, 3)",
        ((5, 8), (1, 8)),
        recipe=recipes.attention_decoder,
    ),
]


def _params(cases):
    return [
        pytest.param(
            case,
            id=case.name,
            marks=[pytest.mark.xfail(strict=True, reason=f"needs {case.missing}")]
            if case.missing
            else [],
        )
        for case in cases
    ]


def build_original(case: Case) -> torch.nn.Module:
    import models

    name, args, kwargs = parse_expression(case.expr)
    torch.manual_seed(0)
    return getattr(models, name)(*args, **kwargs).eval()


def count_params(model) -> int:
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def max_output_diff(a, b, arch) -> float:
    """Largest difference over every output (a model may return a tuple)."""
    torch.manual_seed(1)
    inputs = example_inputs(arch, batch_size=2)
    with torch.no_grad():  # the same noise for both where a model samples (the VAE)
        torch.manual_seed(2)
        outs_a = a.eval()(*inputs)
        torch.manual_seed(2)
        outs_b = b.eval()(*inputs)
    if isinstance(outs_a, torch.Tensor):
        outs_a, outs_b = (outs_a,), (outs_b,)
    assert len(outs_a) == len(outs_b)
    return max((x - y).abs().max().item() for x, y in zip(outs_a, outs_b, strict=True))


def assert_ruff_clean(source: str, tmp_path: Path) -> None:
    """The exported code passes ruff check and ruff format --check under default settings."""
    path = tmp_path / "model.py"
    path.write_text(source, encoding="utf-8")
    for command in (["check", "--isolated"], ["format", "--check", "--isolated"]):
        done = subprocess.run(
            [sys.executable, "-m", "ruff", *command, str(path)], capture_output=True, text=True
        )
        assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.parametrize("case", _params([c for c in CASES if c.recipe]))
def test_hand_built_graph_equals_the_original(case, tmp_path):
    original = build_original(case)
    recipe = case.recipe()
    built = compile_model(recipe.arch)
    load_original_weights(built, recipe.arch, recipe.sources, original)

    assert count_params(built) == count_params(original)
    assert max_output_diff(built, original, recipe.arch) <= TOLERANCE
    assert_ruff_clean(built.layercraft_source, tmp_path)


@pytest.mark.parametrize("case", _params(CASES))
def test_import_reproduces_the_original(case, tmp_path):
    result = import_file(f"{MODELS}:{case.expr}", list(case.shapes), list(case.dtypes))

    assert result.comparison.params == result.comparison.original_params
    assert result.comparison.max_diff <= TOLERANCE
    imported = compile_model(result.arch)
    load_original_weights(imported, result.arch, result.sources, build_original(case))
    assert max_output_diff(imported, build_original(case), result.arch) <= TOLERANCE
    assert_ruff_clean(generate_source(result.arch), tmp_path)


@pytest.mark.parametrize("name", ["word_lm_lstm", "word_lm_transformer"])
def test_import_carries_the_word_lm_init_weights(name):
    # word_language_model's init_weights(), called from __init__: uniform(-0.1, 0.1) on the
    # embedding and the decoder, zeros on the decoder's bias.
    case = next(c for c in CASES if c.name == name)
    arch = import_file(f"{MODELS}:{case.expr}", list(case.shapes), list(case.dtypes)).arch
    assert arch.params_of("encoder")["weight_init"] == "uniform(-0.1, 0.1)"
    assert arch.params_of("decoder")["weight_init"] == "uniform(-0.1, 0.1)"
    assert arch.params_of("decoder")["bias_init"] == "zeros"
