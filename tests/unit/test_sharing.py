"""Shared weights (`shares`), argmax and full: a layer called at several places, a greedy
decoder's next token and its start token."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from builder.codegen import generate_source
from builder.compile import compile_model
from builder.export.settings import _frozen_attributes
from builder.graph import Architecture
from builder.importer import import_file
from builder.shapes import analyse
from builder.sharing import candidates, share_layer


def siamese(second=None, right_size=4) -> Architecture:
    """Two inputs through one Linear (the second call shares it), then summed."""
    arch = Architecture("siamese")
    arch.add_node("Input", {"shape": [4]}, id="left")
    arch.add_node("Input", {"shape": [right_size]}, id="right")
    arch.add_node("Linear", {"out_features": 3}, id="fc")
    arch.add_node("Linear", second or {"out_features": 3, "shares": "fc"}, id="fc_2")
    arch.add_node("Add", id="total")
    for src, dst in (("left", "fc"), ("right", "fc_2"), ("fc", "total"), ("fc_2", "total")):
        arch.connect(src, dst)
    return arch


def errors_of(arch) -> list[str]:
    return [str(e) for e in analyse(arch).errors]


def test_a_shared_layer_is_built_once_and_called_twice():
    arch = siamese()
    analysis = analyse(arch)
    assert analysis.ok, analysis.errors
    assert analysis.nodes["fc_2"].params == 0
    assert analysis.total_params == 4 * 3 + 3
    source = generate_source(arch)
    assert source.count("nn.Linear(") == 1
    assert "fc_2 = self.fc(right)" in source
    model = compile_model(arch)
    assert list(model.state_dict()) == ["fc.weight", "fc.bias"]
    left, right = torch.randn(5, 4), torch.randn(5, 4)
    assert torch.allclose(model(left, right), model.fc(left) + model.fc(right))


def test_both_calls_train_the_one_weight():
    model = compile_model(siamese())
    model(torch.randn(5, 4), torch.zeros(5, 4)).sum().backward()
    from_left_only = model.fc.weight.grad.clone()
    model.zero_grad()
    model(torch.randn(5, 4), torch.ones(5, 4)).sum().backward()
    # the right input of ones adds its own gradient to the same weight
    assert not torch.equal(from_left_only, model.fc.weight.grad)


@pytest.mark.parametrize(
    ("second", "right_size", "expected"),
    [
        (
            {"out_features": 4, "shares": "fc"},
            4,
            "fc_2.shares: it calls fc's layer, so it needs fc's settings: out_features is 4",
        ),
        (
            {"out_features": 3, "shares": "nope"},
            4,
            "fc_2.shares: there is no Linear named 'nope' to share weights with. Give the id "
            "of another Linear: fc.",
        ),
        ({"out_features": 3, "shares": "fc_2"}, 4, "fc_2.shares: shares its weights with itself"),
        (
            {"out_features": 3, "shares": "fc"},
            5,
            "fc_2.shares: its input would need nn.Linear(5, 3), but fc's layer is nn.Linear(4, 3)",
        ),
    ],
)
def test_a_sharer_that_cannot_call_the_layer_is_refused_by_name(second, right_size, expected):
    assert any(e.startswith(expected) for e in errors_of(siamese(second, right_size)))


def test_a_sharer_of_a_sharer_is_pointed_at_the_owner():
    arch = siamese()
    arch.add_node("Linear", {"out_features": 3, "shares": "fc_2"}, id="fc_3")
    arch.connect("left", "fc_3")
    arch.connect("fc_3", "total")
    assert "fc_3.shares: fc_2 shares fc's weights itself. Set shares to fc." in errors_of(arch)
    assert candidates(arch, "fc_3") == ["fc"]


def test_sharing_takes_the_owners_settings_and_can_be_undone():
    arch = siamese({"out_features": 7, "bias": False})
    share_layer(arch, "fc_2", "fc")
    assert arch.user_params_of("fc_2") == {"out_features": 3, "shares": "fc"}
    assert analyse(arch).ok
    share_layer(arch, "fc_2", None)
    assert arch.user_params_of("fc_2") == {"out_features": 3}
    assert analyse(arch).total_params == 2 * 15


def test_renaming_the_owner_keeps_the_sharers_pointing_at_it():
    arch = siamese()
    arch.rename_node("fc", "encoder")
    assert arch.params_of("fc_2")["shares"] == "encoder"
    assert analyse(arch).ok


def test_graph_json_keeps_the_share_and_a_frozen_sharer_has_no_attribute_of_its_own():
    arch = Architecture.from_json(siamese().to_json_string())
    assert arch.params_of("fc_2")["shares"] == "fc"
    arch.set_trainable("fc_2", False)
    assert (
        "fc_2: is frozen, but its weights are fc's, which still train. Freeze fc to keep "
        "the shared weights fixed." in [str(w) for w in analyse(arch).warnings]
    )
    arch.set_trainable("fc", False)
    assert _frozen_attributes(arch) == ["fc"]
    assert not analyse(arch).warnings


def test_argmax_gives_token_ids_and_full_a_start_token_per_sample():
    arch = Architecture("greedy")
    arch.add_node("Input", {"shape": [2, 6]}, id="scores")
    arch.add_node("argmax", {"dim": -1}, id="best")
    arch.add_node("full", {"size": [1], "fill_value": 3, "dtype": "int64"}, id="start")
    arch.add_node("Output", id="first")
    arch.add_node("Output", id="next")
    for src, dst in (("scores", "best"), ("scores", "start"), ("start", "first"), ("best", "next")):
        arch.connect(src, dst)
    analysis = analyse(arch)
    assert analysis.ok, analysis.errors
    assert analysis.nodes["best"].dtype == analysis.nodes["start"].dtype == "int64"
    assert analysis.nodes["best"].output_shape == (2,)
    assert analysis.nodes["start"].output_shape == (1,)
    scores = torch.randn(4, 2, 6)
    first, following = compile_model(arch)(scores)
    assert first.dtype == following.dtype == torch.int64
    assert torch.equal(first, torch.full((4, 1), 3))
    assert torch.equal(following, scores.argmax(-1))


def test_full_refuses_a_fraction_for_token_ids():
    arch = Architecture("start")
    arch.add_node("Input", {"shape": [4]}, id="x")
    arch.add_node("full", {"fill_value": 0.5, "dtype": "int64"}, id="start")
    arch.connect("x", "start")
    assert errors_of(arch) == [
        "start: fill_value 0.5 is not a whole number, but the dtype is int64. Use a whole "
        'number (a token id), or dtype "float32".'
    ]


SIAMESE_SOURCE = """
import torch
from torch import nn


class Towers(nn.Module):
    def __init__(self):
        super().__init__()
        self.tower = nn.Linear(4, 3)

    def forward(self, a, b):
        return torch.cat([self.tower(a), self.tower(b)], dim=1)


class TopValues(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 5)

    def forward(self, x):
        values, indices = self.fc(x).topk(1)
        return values
"""


def test_import_maps_a_module_called_twice_to_a_sharer(tmp_path):
    path = tmp_path / "towers.py"
    path.write_text(SIAMESE_SOURCE)
    result = import_file(f"{path}:Towers", [(4,), (4,)])
    assert result.arch.params_of("tower_2")["shares"] == "tower"
    assert result.comparison.params == result.comparison.original_params == 15
    assert result.comparison.max_diff == 0.0


def test_import_says_where_the_values_of_topk_are_read(tmp_path):
    path = tmp_path / "towers.py"
    path.write_text(SIAMESE_SOURCE)
    with pytest.raises(Exception, match=r"reads the values of x.topk\(1\)"):
        import_file(f"{path}:TopValues", [(4,)])


def test_the_import_of_an_unrolled_greedy_decoder_equals_it(tmp_path):
    """A loop of three steps over one GRU, one attention and one output layer."""
    path = tmp_path / "decoder.py"
    path.write_text(DECODER_SOURCE)
    result = import_file(f"{path}:Decoder", [(1, 8)])
    assert result.comparison.max_diff <= 1e-6
    assert (
        result.comparison.params
        == sum(p.numel() for p in nn.GRU(8, 8).parameters()) + (12 * 8 + 12) + 12 * 8
    )
    source = generate_source(result.arch)
    assert source.count("nn.GRU(") == 1 and source.count("self.gru(") == 3


DECODER_SOURCE = """
import torch
from torch import nn


class Decoder(nn.Module):
    def __init__(self):
        super().__init__()
        self.embedding = nn.Embedding(12, 8)
        self.gru = nn.GRU(8, 8, batch_first=True)
        self.out = nn.Linear(8, 12)

    def forward(self, hidden):  # (N, 1, 8), batch first
        token = torch.full((hidden.size(0), 1), 1, dtype=torch.long)
        outputs = []
        for _ in range(3):
            state = hidden.transpose(0, 1).contiguous()
            output, state = self.gru(self.embedding(token), state)
            hidden = state.transpose(0, 1)
            output = self.out(output)
            outputs.append(output)
            token = output.argmax(dim=-1)
        return torch.cat(outputs, dim=1)
"""


def test_a_sharer_fed_what_its_layer_cannot_take_gets_an_error_not_a_crash():
    arch = Architecture("broken")
    arch.add_node("Input", {"shape": [4]}, id="x")
    arch.add_node("Linear", {"out_features": 3}, id="fc")
    arch.add_node("mean", {"dim": [1]}, id="scalar")  # one value per sample: (N,)
    arch.add_node("Linear", {"out_features": 3, "shares": "fc"}, id="fc_2")
    for src, dst in (("x", "fc"), ("x", "scalar"), ("scalar", "fc_2")):
        arch.connect(src, dst)
    errors = errors_of(arch)
    assert errors and all("fc_2.shares" not in e for e in errors)  # its own error says why


def test_two_layers_sharing_each_other_are_told_to_clear_one():
    arch = siamese()
    arch.update_params("fc", shares="fc_2")
    assert any("fc_2 each share the other's weights" in e for e in errors_of(arch))


def test_a_weight_tied_to_a_sharing_embedding_is_pointed_at_its_owner():
    arch = Architecture("tied")
    arch.add_node("Input", {"shape": [5], "dtype": "int64"}, id="tokens")
    arch.add_node("Embedding", {"num_embeddings": 9, "embedding_dim": 4}, id="emb")
    arch.add_node(
        "Embedding", {"num_embeddings": 9, "embedding_dim": 4, "shares": "emb"}, id="emb2"
    )
    arch.add_node("Linear", {"out_features": 9, "tie_weight_to": "emb2"}, id="decoder")
    arch.add_node("Add", id="both")
    for src, dst in (("tokens", "emb"), ("tokens", "emb2"), ("emb", "both"), ("emb2", "both")):
        arch.connect(src, dst)
    arch.connect("both", "decoder")
    assert "decoder.tie_weight_to: emb2 uses emb's weights. Tie the weight to emb." in errors_of(
        arch
    )
    arch.update_params("decoder", tie_weight_to="emb")
    assert analyse(arch).ok
    arch.rename_node("emb", "encoder")  # a tie follows a rename, as a share does
    assert arch.params_of("decoder")["tie_weight_to"] == "encoder"
    assert arch.params_of("emb2")["shares"] == "encoder"


def test_per_call_options_may_differ_from_the_owners():
    """One GRU read as a whole sequence at one place and for its last step at another."""
    arch = Architecture("gru twice")
    arch.add_node("Input", {"shape": [6, 4]}, id="x")
    arch.add_node("GRU", {"hidden_size": 4, "return": "sequence"}, id="gru")
    arch.add_node("GRU", {"hidden_size": 4, "return": "last", "shares": "gru"}, id="gru_2")
    arch.connect("x", "gru")
    arch.connect("gru", "gru_2")
    assert analyse(arch).ok, errors_of(arch)
    model = compile_model(arch)
    x = torch.randn(2, 6, 4)
    assert torch.allclose(model(x), model.gru(model.gru(x)[0])[0][:, -1])


def test_a_saved_block_brought_into_another_graph_keeps_no_outside_share(tmp_path):
    from builder.blocks import insert_block

    block = Architecture("Towers")
    block.add_node("Linear", {"out_features": 3}, id="a")
    block.add_node("Linear", {"out_features": 3, "shares": "a"}, id="b")
    block.add_node("Linear", {"out_features": 3, "shares": "elsewhere"}, id="c")
    target = siamese()
    insert_block(target, block)
    added = [n for n in target.node_ids if n not in siamese().node_ids]
    assert {n: target.params_of(n).get("shares") for n in added} == {
        "a1": None,
        "b1": "a1",  # the copy calls the copied layer
        "c1": None,  # its owner stayed behind: its own weights, not some "elsewhere" here
    }


def test_structured_pruning_refuses_a_shared_layer_by_name():
    from builder.compress.prune import check_channel_prunable
    from builder.errors import BuilderError

    with pytest.raises(BuilderError, match=r"fc_2: structured pruning cannot resize a layer used"):
        check_channel_prunable(siamese())
