"""The family views: confusion matrix, misclassified examples, reconstructions, attention, hidden norms."""

import numpy as np
import pytest
import torch
from torch import nn

from builder.codegen import attribute_names
from builder.compile import compile_model
from builder.errors import BuilderError
from builder.graph import Architecture
from builder.templates import load_template
from builder.views import (
    attention_weights,
    confusion_matrix,
    family_of,
    hidden_state_norms,
    misclassified_examples,
    reconstructions,
    tile_images,
)


class ClassFromFirstValue(nn.Module):
    """Predicts class int(x[:, 0]) with confidence growing with x[:, 1]."""

    def __init__(self, num_classes: int):
        super().__init__()
        self.num_classes = num_classes
        self.scale = nn.Parameter(torch.ones(()))

    def forward(self, x):
        logits = nn.functional.one_hot(x[:, 0].long(), self.num_classes).float()
        return logits * x[:, 1:2] * self.scale


def _rows(pairs):
    return torch.tensor([[c, conf] for c, conf in pairs], dtype=torch.float32)


def test_confusion_matrix_counts_true_rows_against_predicted_columns():
    model = ClassFromFirstValue(3)
    x = _rows([(0, 1), (0, 1), (1, 1), (2, 1), (1, 1)])
    y = torch.tensor([0, 1, 1, 2, 2])
    expected = np.array([[1, 0, 0], [1, 1, 0], [0, 1, 1]])
    np.testing.assert_array_equal(confusion_matrix(model, x, y, 3), expected)


def test_confusion_matrix_reads_a_single_logit_as_binary():
    model = nn.Linear(1, 1)
    with torch.no_grad():
        model.weight.fill_(1.0)
        model.bias.zero_()
    x = torch.tensor([[-2.0], [3.0], [1.0], [-1.0]])
    y = torch.tensor([0, 1, 0, 0])
    np.testing.assert_array_equal(confusion_matrix(model, x, y, 2), [[2, 1], [0, 1]])


def test_misclassified_examples_lists_the_most_confident_mistakes_first():
    model = ClassFromFirstValue(3)
    x = _rows([(0, 1), (1, 5), (2, 1), (1, 9), (0, 2)])
    y = torch.tensor([0, 0, 2, 2, 1])
    wrong = misclassified_examples(model, x, y, limit=2)
    assert wrong["index"].tolist() == [3, 1]
    assert wrong["true"].tolist() == [2, 0] and wrong["predicted"].tolist() == [1, 1]
    assert wrong["inputs"].shape == (2, 2)
    assert int(wrong["n_wrong"]) == 3 and int(wrong["n_total"]) == 5
    assert wrong["confidence"][0] >= wrong["confidence"][1]


def test_views_leave_the_model_in_training_mode_when_it_was_training():
    model = ClassFromFirstValue(3).train()
    confusion_matrix(model, _rows([(0, 1)]), torch.tensor([0]), 3)
    assert model.training


def test_reconstructions_pair_inputs_with_outputs_and_measure_error():
    x = torch.rand(10, 1, 8, 8)
    view = reconstructions(nn.Identity(), x, n=4)
    assert view["inputs"].shape == view["outputs"].shape == (4, 1, 8, 8)
    np.testing.assert_allclose(view["mse"], 0.0)
    assert view["noisy"] is None


def test_denoising_reconstructions_feed_noisy_inputs_and_score_against_clean_ones():
    x = torch.rand(6, 1, 8, 8)
    view = reconstructions(nn.Identity(), x, n=3, noise=0.5)
    assert not np.allclose(view["noisy"], view["inputs"])
    np.testing.assert_allclose(view["outputs"], view["noisy"])
    assert (view["mse"] > 0.1).all()


def test_autoencoder_template_reconstructions_have_the_input_shape():
    model = compile_model(load_template("conv_autoencoder"))
    view = reconstructions(model, torch.rand(20, 1, 8, 8), n=8)
    assert view["outputs"].shape == (8, 1, 8, 8)


def test_tile_images_places_each_image_and_leaves_padding_blank():
    images = np.stack([np.full((2, 3), i, dtype=np.float32) for i in range(5)])
    grid = tile_images(images, ncols=3, pad=1)
    assert grid.shape == (2 * 3 - 1, 3 * 4 - 1)
    assert (grid[0:2, 4:7] == 1).all() and (grid[3:5, 4:7] == 4).all()
    assert np.isnan(grid[2]).all() and np.isnan(grid[3:5, 8:11]).all()


def _attention_arch() -> Architecture:
    arch = Architecture("attn")
    x = arch.add_node("Input", {"shape": [5, 8]}, id="x")
    attn = arch.add_node("MultiheadAttention", {"num_heads": 2}, id="attn")
    mean = arch.add_node("SequenceMean", id="mean")
    out = arch.add_node("Linear", {"out_features": 3}, id="out")
    arch.connect(x, attn)
    arch.connect(attn, mean)
    arch.connect(mean, out)
    return arch


def test_attention_weights_match_the_layer_called_with_need_weights():
    arch = _attention_arch()
    model = compile_model(arch)
    x = torch.randn(4, 5, 8)
    weights = attention_weights(model, arch, x, index=2)
    module = getattr(model, attribute_names(arch)["attn"]).eval()
    one = x[2:3]
    _, expected = module(one, one, one, need_weights=True, average_attn_weights=False)
    assert weights["attn"].shape == (2, 5, 5)
    np.testing.assert_allclose(weights["attn"], expected[0].detach().numpy(), atol=1e-6)


def test_transformer_attention_rows_are_distributions_and_hooks_are_removed():
    arch = load_template("transformer_text")
    model = compile_model(arch)
    tokens = torch.randint(1, 500, (3, 32))
    before = model.eval()(tokens)
    weights = attention_weights(model, arch, tokens, index=1)
    ((node, w),) = weights.items()
    assert arch.type_of(node) == "TransformerEncoderLayer"
    assert w.shape == (2, 32, 32)  # one map per head
    np.testing.assert_allclose(w.sum(axis=-1), 1.0, atol=1e-5)
    encoder = getattr(model, attribute_names(arch)[node])
    assert not encoder.self_attn._forward_pre_hooks and not encoder.self_attn._forward_hooks
    torch.testing.assert_close(model(tokens), before)


def test_hidden_state_norms_follow_the_recurrent_output_at_every_step():
    arch = load_template("lstm_text")
    model = compile_model(arch).eval()
    names = attribute_names(arch)
    tokens = torch.randint(1, 500, (2, 32))
    norms = hidden_state_norms(model, arch, tokens, index=1, names=names)
    lstm_node = next(n for n in arch.node_ids if arch.type_of(n) == "LSTM")
    embedded = getattr(model, names["embed1"])(tokens[1:2])
    full, _ = getattr(model, names[lstm_node])(embedded)
    assert norms[lstm_node].shape == (32,)
    np.testing.assert_allclose(norms[lstm_node], full[0].norm(dim=-1).detach().numpy(), rtol=1e-5)


def test_gru_template_gives_hidden_norms_too():
    arch = load_template("gru_text")
    norms = hidden_state_norms(compile_model(arch), arch, torch.randint(1, 500, (1, 32)))
    assert [v.shape for v in norms.values()] == [(32,)]


def test_inside_views_say_when_the_model_has_no_such_layer():
    arch = load_template("mlp_digits")
    model = compile_model(arch)
    x = torch.rand(2, *arch.params_of(arch.input_nodes()[0])["shape"])
    with pytest.raises(BuilderError, match="no attention layer"):
        attention_weights(model, arch, x)
    with pytest.raises(BuilderError, match="no recurrent layer"):
        hidden_state_norms(model, arch, x)


def test_choosing_an_example_out_of_range_is_an_error_with_the_range():
    arch = load_template("lstm_text")
    with pytest.raises(BuilderError, match="from 0 to 1"):
        hidden_state_norms(compile_model(arch), arch, torch.randint(1, 500, (2, 32)), index=5)


def test_family_of_tells_which_views_fit_each_template():
    assert family_of(load_template("lstm_text"))["recurrent"]
    assert family_of(load_template("transformer_text"))["attention"]
    conv = family_of(load_template("conv_autoencoder"))
    assert conv["images"] and not conv["recurrent"] and not conv["attention"]
