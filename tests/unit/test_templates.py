"""Every template validates, compiles, and its real output shape equals the inferred one."""

from __future__ import annotations

import pytest
import torch

from builder.compile import compile_model, example_inputs
from builder.shapes import analyse
from builder.templates import list_templates, load_template

TEMPLATES = [stem for stem, _, _ in list_templates()]


def test_the_issue_templates_are_there():
    assert {"mlp_digits", "lenet5", "resnet_small", "inception_block", "lstm_text", "conv_autoencoder", "transformer_text"} <= set(TEMPLATES)


@pytest.mark.parametrize("stem", TEMPLATES)
def test_template_compiles_with_matching_shapes_and_params(stem):
    arch = load_template(stem)
    analysis = analyse(arch)
    assert analysis.ok, analysis.errors
    model = compile_model(arch).eval()
    with torch.no_grad():
        out = model(*example_inputs(arch, batch_size=2))
    assert tuple(out.shape[1:]) == analysis.shape_of(arch.output_nodes()[0])
    assert analysis.total_params == sum(p.numel() for p in model.parameters())


def test_lenet5_has_the_classic_parameter_count():
    assert analyse(load_template("lenet5")).total_params == 61_706
