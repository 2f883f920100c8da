"""Built-in templates: each loads strictly, validates, compiles and runs with the inferred shapes."""

from __future__ import annotations

import json

import pytest

from builder.compile import compile_model, example_inputs
from builder.errors import BuilderError
from builder.graph import Architecture
from builder.shapes import analyse
from builder.templates import TEMPLATE_DIR, list_templates, load_template, template_dataset

STEMS = [stem for stem, _, _ in list_templates()]
EXPECTED = {
    "mlp_digits",
    "lenet5",
    "lenet_digits",
    "resnet_small",
    "inception_block",
    "lstm_text",
    "gru_text",
    "transformer_text",
    "conv_autoencoder",
    "mlp_moons",
    "mlp_sine",
}


def test_all_issue_templates_are_present_and_described():
    assert set(STEMS) >= EXPECTED
    for stem, name, description in list_templates():
        assert name and (description or stem not in EXPECTED), stem


@pytest.mark.parametrize("stem", STEMS)
def test_template_compiles_and_real_output_matches_inferred(stem, forward):
    arch = load_template(stem)
    analysis = analyse(arch)
    assert analysis.ok and not analysis.warnings, (analysis.errors, analysis.warnings)
    model = compile_model(arch)
    assert analysis.total_params == sum(p.numel() for p in model.parameters())
    out = forward(model, example_inputs(arch, batch_size=4))
    (output,) = analysis.outputs
    assert tuple(out.shape) == (4, *analysis.nodes[output].output_shape)


@pytest.mark.parametrize("stem", STEMS)
def test_template_file_is_canonical_graph_json(stem):
    data = json.loads((TEMPLATE_DIR / f"{stem}.json").read_text())
    assert Architecture.from_json(data).to_json() == data


def test_lenet5_has_exactly_61706_parameters():
    assert analyse(load_template("lenet5")).total_params == 61_706


def test_skip_and_branch_templates_use_merge_nodes():
    resnet = load_template("resnet_small")
    inception = load_template("inception_block")
    assert sum(resnet.type_of(n) == "Add" for n in resnet.node_ids) >= 2
    (concat,) = [n for n in inception.node_ids if inception.type_of(n) == "Concat"]
    assert len(inception.inputs_of(concat)) == 4


def test_text_templates_fit_the_sentiment_dataset():
    for stem in ("lstm_text", "gru_text", "transformer_text"):
        arch = load_template(stem)
        (inp,) = arch.input_nodes()
        assert arch.params_of(inp) == {"shape": [32], "dtype": "int64"}
        embeddings = [n for n in arch.node_ids if arch.type_of(n) == "Embedding"]
        assert [arch.params_of(n)["num_embeddings"] for n in embeddings] == [500]
        assert analyse(arch).shape_of(arch.output_nodes()[0]) == (2,)
        assert template_dataset(stem) == "sentiment"


def test_autoencoder_rebuilds_its_input_shape():
    analysis = analyse(load_template("conv_autoencoder"))
    assert analysis.shape_of("x") == analysis.shape_of(analysis.outputs[0]) == (1, 8, 8)


def test_unknown_template_is_a_builder_error():
    with pytest.raises(BuilderError, match="no template"):
        load_template("../../etc/passwd")
