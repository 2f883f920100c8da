"""Each layer type and option against torch doing the same thing by hand.

Every case builds a small graph, compiles its generated module, copies the generated
layer's weights into a module written by hand here (load_state_dict, strict: same names
and shapes), and compares parameter counts and outputs (max abs diff <= 1e-5). The
generated sources are also checked with ruff under its default settings.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from torch import nn
from torch.nn import functional as F

from builder.codegen import generate_source
from builder.compile import compile_model, example_inputs
from builder.graph import Architecture
from builder.shapes import analyse

TOLERANCE = 1e-5


def graph(inputs, layer, params=None, *, ports=None, dtype="float32"):
    """Inputs -> one layer -> Output nodes; ports: the layer's output ports to return."""
    arch = Architecture("torch check")
    names = []
    for i, shape in enumerate(inputs):
        names.append(arch.add_node("Input", {"shape": list(shape), "dtype": dtype}, id=f"in{i}"))
    node = arch.add_node(layer, params or {}, id="layer")
    for name in names:
        arch.connect(name, node)
    for i, port in enumerate(ports or []):
        out = arch.add_node("Output", id=f"out{i}")
        arch.connect(node, out, source_port=port)
    return arch


def compare(arch, reference, *, module=None, batch=3, inputs=None):
    """The generated model against reference(*inputs); module: a hand-built torch module
    that receives the generated layer's weights first (and is what reference calls)."""
    analysis = analyse(arch)
    assert analysis.ok, analysis.errors
    model = compile_model(arch).eval()
    inputs = inputs or example_inputs(arch, batch_size=batch)
    if module is not None:
        module.load_state_dict(model.layer.state_dict())
        module.eval()
        assert analysis.total_params == sum(p.numel() for p in module.parameters())
    assert analysis.total_params == sum(p.numel() for p in model.parameters())
    with torch.no_grad():
        got, want = model(*inputs), reference(*inputs)
    got = got if isinstance(got, tuple) else (got,)
    want = want if isinstance(want, tuple) else (want,)
    assert len(got) == len(want)
    for g, w, node in zip(got, want, arch.output_nodes(), strict=True):
        assert g.shape == w.shape, (g.shape, w.shape)
        assert tuple(g.shape[1:]) == analysis.nodes[node].output_shape
        diff = (g - w).abs().nan_to_num(0.0).max().item() if g.numel() else 0.0
        assert diff <= TOLERANCE, diff
    return model


# (type, input shapes, params, reference taking the inputs, output ports or None)
def unet_pad(x1, x2):
    """milesial's Pytorch-UNet Up.forward: pad the upsampled x1 to the skip x2's size."""
    diff_y = x2.size()[2] - x1.size()[2]
    diff_x = x2.size()[3] - x1.size()[3]
    return F.pad(x1, [diff_x // 2, diff_x - diff_x // 2, diff_y // 2, diff_y - diff_y // 2])


FUNCTION_CASES = [
    ("mul", [(3, 4)], {"other": 0.5}, lambda x: x * 0.5, None),
    ("add", [(3, 4)], {"other": -2.0}, lambda x: x - 2.0, None),
    ("div", [(5,)], {"other": 4.0}, lambda x: x / 4.0, None),
    ("exp", [(2, 3)], {}, torch.exp, None),
    ("log", [(2, 3)], {}, torch.log, None),
    ("sqrt", [(4,)], {}, torch.sqrt, None),
    ("abs", [(4,)], {}, torch.abs, None),
    ("matmul", [(2, 3, 4), (2, 4, 5)], {}, torch.matmul, None),
    ("matmul", [(3, 4), (4, 6)], {}, torch.matmul, None),
    ("bmm", [(3, 4), (4, 5)], {}, torch.bmm, None),
    ("squeeze", [(1, 5)], {"dim": 1}, lambda x: x.squeeze(1), None),
    ("squeeze", [(5, 1)], {"dim": -1}, lambda x: x.squeeze(-1), None),
    ("squeeze", [(5, 2)], {"dim": 2}, lambda x: x.squeeze(2), None),
    ("squeeze", [(1,)], {"dim": 1}, lambda x: x.squeeze(1), None),
    ("unsqueeze", [(5,)], {"dim": 1}, lambda x: x.unsqueeze(1), None),
    ("unsqueeze", [(5, 3)], {"dim": -1}, lambda x: x.unsqueeze(-1), None),
    ("permute", [(3, 4, 5)], {"dims": [0, 2, 3, 1]}, lambda x: x.permute(0, 2, 3, 1), None),
    ("transpose", [(3, 4)], {"dim0": 1, "dim1": 2}, lambda x: x.transpose(1, 2), None),
    ("transpose", [(3, 4, 5)], {"dim0": -1, "dim1": 1}, lambda x: x.transpose(-1, 1), None),
    ("mean", [(3, 4, 5)], {"dim": [2, 3], "keepdim": True}, lambda x: x.mean((2, 3), True), None),
    ("mean", [(3, 4)], {"dim": [-1]}, lambda x: x.mean(-1), None),
    ("sum", [(3, 4, 5)], {"dim": [1]}, lambda x: x.sum(1), None),
    ("Reshape", [(2, 3, 4)], {"shape": [-1, 4]}, lambda x: x.view(len(x), -1, 4), None),
    ("Reshape", [(2, 3, 4)], {"shape": [3, 2, 2, 2]}, lambda x: x.view(-1, 3, 2, 2, 2), None),
    ("Reshape", [(1, 1, 1)], {"shape": []}, lambda x: x.view(-1), None),
    ("Reshape", [(6,)], {"shape": [-1]}, lambda x: x.view(len(x), -1), None),
    (
        "split",
        [(5, 3)],
        {"split_size_or_sections": [2]},
        lambda x: torch.split(x, 2, dim=1),
        [0, 1, 2],
    ),
    (
        "split",
        [(3, 6)],
        {"split_size_or_sections": [2, 4], "dim": -1},
        lambda x: torch.split(x, [2, 4], dim=-1),
        ["part1", "part0"],
    ),
    ("chunk", [(5,)], {"chunks": 3}, lambda x: torch.chunk(x, 3, dim=1), [0, 1, 2]),
    ("PadToMatch", [(3, 5, 5), (2, 6, 7)], {}, unet_pad, None),
    ("PadToMatch", [(3, 8, 8), (1, 6, 5)], {}, unet_pad, None),
    ("PadToMatch", [(3, 30, 30), (4, 60, 60)], {}, lambda x, s: F.pad(x, [15, 15, 15, 15]), None),
    ("chunk", [(4, 6)], {"chunks": 2, "dim": 2}, lambda x: torch.chunk(x, 2, dim=2)[1:], [1]),
    ("argmax", [(3, 5)], {"dim": -1}, lambda x: x.argmax(-1), None),
    ("argmax", [(3, 5)], {"dim": 1, "keepdim": True}, lambda x: x.argmax(1, keepdim=True), None),
    ("full", [(3,)], {"fill_value": 2}, lambda x: torch.full((len(x), 1), 2), None),
    (
        "full",
        [(3,)],
        {"size": [2, 2], "fill_value": -0.5, "dtype": "float32"},
        lambda x: torch.full((len(x), 2, 2), -0.5),
        None,
    ),
]


@pytest.mark.parametrize(("layer", "shapes", "params", "reference", "ports"), FUNCTION_CASES)
def test_tensor_op_matches_torch(layer, shapes, params, reference, ports):
    if ports is not None and isinstance(ports[0], str):
        order = [int(p.removeprefix("part")) for p in ports]
        parts = reference
        reference = lambda x: tuple(parts(x)[i] for i in order)  # noqa: E731
    compare(graph(shapes, layer, params, ports=ports), reference)


def test_reshape_with_minus_one_emits_the_batch_size(build_chain):
    source = generate_source(build_chain((2, 3, 4), ("Reshape", {"shape": [-1, 4]})))
    assert "x.reshape(x.shape[0], -1, 4)" in source


def test_a_discriminator_can_end_in_one_value_per_sample(build_chain, forward):
    arch = build_chain(
        (3, 4, 4),
        ("Conv2d", {"out_channels": 1, "kernel_size": 4}),
        ("Reshape", {"shape": [-1]}),
        ("squeeze", {"dim": 1}),
        "Sigmoid",
    )
    analysis = analyse(arch)
    assert analysis.ok and analysis.nodes["sigmoid1"].output_shape == ()
    out = forward(compile_model(arch), example_inputs(arch, batch_size=5))
    assert out.shape == (5,)
    assert "# (N,)" in generate_source(arch)


def test_a_layer_needing_features_refuses_one_value_per_sample(build_chain):
    arch = build_chain((4,), ("sum", {"dim": [1]}), ("Linear", {"out_features": 2}))
    error = analyse(arch).errors[0]
    assert error.node == "fc1" and "unsqueeze" in error.hint


def test_reshape_refuses_two_unknown_sizes(build_chain):
    error = analyse(build_chain((2, 3, 4), ("Reshape", {"shape": [-1, -1]}))).errors[0]
    assert error.node == "reshape1" and "-1" in str(error)


def test_permute_must_keep_the_batch_first(build_chain):
    error = analyse(build_chain((3, 4), ("permute", {"dims": [1, 0, 2]}))).errors[0]
    assert "batch" in str(error) and error.node == "permute1"


def causal_mask(length: int) -> torch.Tensor:
    """-inf above the diagonal, written out here rather than taken from nn.Transformer."""
    return torch.triu(torch.full((length, length), float("-inf")), diagonal=1)


def _call(m, *xs):
    return m(*xs)


def _first(m, *xs):
    return m(*xs)[0]


# (type, input shapes, params, hand-built module, reference(module, *inputs), output ports)
MODULE_CASES = [
    ("Conv3d", [(2, 5, 6, 7)], {"out_channels": 3, "kernel_size": 3, "padding": 1},
     lambda: nn.Conv3d(2, 3, 3, padding=1), _call, None),
    ("Conv2d", [(3, 9, 9)], {"out_channels": 4, "kernel_size": 3, "padding": "same"},
     lambda: nn.Conv2d(3, 4, 3, padding="same"), _call, None),
    ("Conv1d", [(3, 9)], {"out_channels": 2, "kernel_size": 4, "padding": "same", "dilation": 2},
     lambda: nn.Conv1d(3, 2, 4, padding="same", dilation=2), _call, None),
    ("Conv2d", [(3, 9, 9)], {"out_channels": 4, "kernel_size": 3, "padding": "valid"},
     lambda: nn.Conv2d(3, 4, 3, padding="valid"), _call, None),
    ("Conv2d", [(3, 6, 6)],
     {"out_channels": 2, "kernel_size": 3, "padding": 1, "padding_mode": "reflect"},
     lambda: nn.Conv2d(3, 2, 3, padding=1, padding_mode="reflect"), _call, None),
    ("Conv1d", [(2, 8)], {"out_channels": 2, "kernel_size": 3, "padding": 2,
                          "padding_mode": "circular"},
     lambda: nn.Conv1d(2, 2, 3, padding=2, padding_mode="circular"), _call, None),
    ("MaxPool2d", [(3, 5, 5)], {"kernel_size": 2, "ceil_mode": True},
     lambda: nn.MaxPool2d(2, ceil_mode=True), _call, None),
    ("MaxPool2d", [(1, 8, 8)], {"kernel_size": 3, "stride": 2, "padding": 1, "ceil_mode": True},
     lambda: nn.MaxPool2d(3, 2, 1, ceil_mode=True), _call, None),
    ("MaxPool3d", [(2, 4, 6, 6)], {"kernel_size": 2}, lambda: nn.MaxPool3d(2), _call, None),
    ("AvgPool3d", [(2, 4, 6, 5)], {"kernel_size": 2, "ceil_mode": True},
     lambda: nn.AvgPool3d(2, ceil_mode=True), _call, None),
    ("AvgPool1d", [(3, 9)], {"kernel_size": 3, "stride": 2},
     lambda: nn.AvgPool1d(3, 2), _call, None),
    ("BatchNorm3d", [(3, 4, 5, 6)], {}, lambda: nn.BatchNorm3d(3), _call, None),
    ("InstanceNorm1d", [(3, 10)], {}, lambda: nn.InstanceNorm1d(3), _call, None),
    ("InstanceNorm2d", [(3, 6, 6)], {"affine": True},
     lambda: nn.InstanceNorm2d(3, affine=True), _call, None),
    ("InstanceNorm2d", [(3, 6, 6)], {"track_running_stats": True, "eps": 1e-3},
     lambda: nn.InstanceNorm2d(3, eps=1e-3, track_running_stats=True), _call, None),
    ("InstanceNorm3d", [(2, 3, 4, 5)], {}, lambda: nn.InstanceNorm3d(2), _call, None),
    ("GroupNorm", [(6, 4, 4)], {"num_groups": 3}, lambda: nn.GroupNorm(3, 6), _call, None),
    ("GroupNorm", [(4, 5)], {"num_groups": 2, "affine": False},
     lambda: nn.GroupNorm(2, 4, affine=False), _call, None),
    ("ReflectionPad2d", [(2, 5, 6)], {"padding": 2}, lambda: nn.ReflectionPad2d(2), _call, None),
    ("ReflectionPad2d", [(2, 5, 6)], {"padding": [1, 2, 0, 3]},
     lambda: nn.ReflectionPad2d((1, 2, 0, 3)), _call, None),
    ("ZeroPad2d", [(2, 5, 6)], {"padding": [1, 0, 2, 1]},
     lambda: nn.ZeroPad2d((1, 0, 2, 1)), _call, None),
    ("ZeroPad2d", [(2, 5, 6)], {"padding": [-1, 0, 0, -2]},
     lambda: nn.ZeroPad2d((-1, 0, 0, -2)), _call, None),
    ("ConstantPad2d", [(2, 3, 3)], {"padding": 1, "value": 0.5},
     lambda: nn.ConstantPad2d(1, 0.5), _call, None),
    ("ReplicationPad2d", [(2, 3, 3)], {"padding": 2}, lambda: nn.ReplicationPad2d(2), _call, None),
    ("ReflectionPad1d", [(3, 8)], {"padding": [2, 1]},
     lambda: nn.ReflectionPad1d((2, 1)), _call, None),
    ("PixelShuffle", [(8, 3, 3)], {"upscale_factor": 2}, lambda: nn.PixelShuffle(2), _call, None),
    ("PixelUnshuffle", [(2, 4, 6)], {"downscale_factor": 2},
     lambda: nn.PixelUnshuffle(2), _call, None),
    ("Upsample", [(2, 4, 5)], {"scale_factor": 2.0, "mode": "bilinear", "align_corners": True},
     lambda: nn.Upsample(scale_factor=2.0, mode="bilinear", align_corners=True), _call, None),
    ("Upsample", [(2, 6)], {"scale_factor": 2.0, "mode": "linear", "align_corners": False},
     lambda: nn.Upsample(scale_factor=2.0, mode="linear", align_corners=False), _call, None),
    ("Upsample", [(2, 3, 4, 5)], {"scale_factor": 2.0, "mode": "trilinear"},
     lambda: nn.Upsample(scale_factor=2.0, mode="trilinear"), _call, None),
    ("Upsample", [(2, 4, 5)], {"scale_factor": 3.0, "mode": "bicubic"},
     lambda: nn.Upsample(scale_factor=3.0, mode="bicubic"), _call, None),
    ("PReLU", [(4, 6)], {}, lambda: nn.PReLU(), _call, None),
    ("PReLU", [(4, 6, 6)], {"num_parameters": 4, "init": 0.1},
     lambda: nn.PReLU(4, 0.1), _call, None),
    ("Softplus", [(5,)], {"beta": 2.0, "threshold": 10.0},
     lambda: nn.Softplus(2.0, 10.0), _call, None),
    ("Mish", [(5,)], {}, lambda: nn.Mish(), _call, None),
    ("Hardswish", [(5,)], {}, lambda: nn.Hardswish(), _call, None),
    ("Hardsigmoid", [(5,)], {}, lambda: nn.Hardsigmoid(), _call, None),
    ("ReLU6", [(5,)], {}, lambda: nn.ReLU6(), _call, None),
    ("GLU", [(6,)], {}, lambda: nn.GLU(), _call, None),
    ("GLU", [(4, 3)], {"dim": 1}, lambda: nn.GLU(dim=1), _call, None),
    ("Dropout1d", [(3, 7)], {"p": 0.3}, lambda: nn.Dropout1d(0.3), _call, None),
    ("Dropout3d", [(2, 3, 4, 5)], {}, lambda: nn.Dropout3d(), _call, None),
    ("Dropout2d", [(5,)], {"p": 0.2}, lambda: nn.Dropout2d(0.2), _call, None),  # (N, C)
    ("Embedding", [(6,)], {"num_embeddings": 9, "embedding_dim": 4, "weight_init": "normal"},
     lambda: nn.Embedding(9, 4), _call, None),
    ("RNN", [(7, 5)], {"hidden_size": 6, "nonlinearity": "relu"},
     lambda: nn.RNN(5, 6, nonlinearity="relu", batch_first=True),
     lambda m, x: m(x)[0][:, -1], None),
    ("RNNCell", [(5,)], {"hidden_size": 4, "nonlinearity": "relu"},
     lambda: nn.RNNCell(5, 4, nonlinearity="relu"), _call, None),
    ("RNNCell", [(5,), (4,)], {"hidden_size": 4}, lambda: nn.RNNCell(5, 4), _call, None),
    ("GRUCell", [(5,), (3,)], {"hidden_size": 3}, lambda: nn.GRUCell(5, 3), _call, None),
    ("LSTMCell", [(5,)], {"hidden_size": 3, "bias": False},
     lambda: nn.LSTMCell(5, 3, bias=False), _first, None),
    ("LSTMCell", [(5,), (3,), (3,)], {"hidden_size": 3}, lambda: nn.LSTMCell(5, 3),
     lambda m, x, h, c: m(x, (h, c)), ["h", "c"]),
    ("LSTM", [(7, 5), (2, 6), (2, 6)],
     {"hidden_size": 6, "num_layers": 2, "return": "sequence"},
     lambda: nn.LSTM(5, 6, num_layers=2, batch_first=True),
     lambda m, x, h, c: _batch_first_states(m(x, (_torch_state(h), _torch_state(c))), True),
     ["output", "h_n", "c_n"]),
    ("GRU", [(7, 5), (2, 4)], {"hidden_size": 4, "bidirectional": True},
     lambda: nn.GRU(5, 4, bidirectional=True, batch_first=True),
     lambda m, x, h: _batch_first_states(m(x, _torch_state(h)), False, last=True),
     ["output", "h_n"]),
    ("LSTM", [(7, 5)], {"hidden_size": 3}, lambda: nn.LSTM(5, 3, batch_first=True),
     lambda m, x: (m(x)[1][1].transpose(0, 1),), ["c_n"]),
    ("MultiheadAttention", [(6, 8)], {"num_heads": 2, "is_causal": True},
     lambda: nn.MultiheadAttention(8, 2, batch_first=True),
     lambda m, x: m(x, x, x, attn_mask=causal_mask(6))[0], None),
    ("MultiheadAttention", [(6, 8), (4, 8)], {"num_heads": 2},
     lambda: nn.MultiheadAttention(8, 2, batch_first=True),
     lambda m, q, kv: m(q, kv, kv), ["output", "attn_weights"]),
    ("MultiheadAttention", [(6, 8), (4, 5), (4, 3)], {"num_heads": 4, "bias": False},
     lambda: nn.MultiheadAttention(8, 4, bias=False, kdim=5, vdim=3, batch_first=True),
     lambda m, q, k, v: m(q, k, v)[0], None),
    ("TransformerEncoderLayer", [(6, 8)],
     {"nhead": 2, "dim_feedforward": 16, "is_causal": True, "layer_norm_eps": 1e-6},
     lambda: nn.TransformerEncoderLayer(8, 2, 16, layer_norm_eps=1e-6, batch_first=True),
     lambda m, x: m(x, src_mask=causal_mask(6)), None),
    ("TransformerDecoderLayer", [(5, 8), (7, 8)],
     {"nhead": 2, "dim_feedforward": 16, "tgt_is_causal": True},
     lambda: nn.TransformerDecoderLayer(8, 2, 16, batch_first=True),
     lambda m, t, mem: m(t, mem, tgt_mask=causal_mask(5)), None),
    ("TransformerDecoderLayer", [(5, 8), (7, 8)],
     {"nhead": 4, "dim_feedforward": 8, "norm_first": True, "activation": "gelu"},
     lambda: nn.TransformerDecoderLayer(8, 4, 8, activation="gelu", norm_first=True,
                                        batch_first=True),
     _call, None),
]  # fmt: skip


def _torch_state(state):
    """A batch-first graph state as torch takes it: (layers, N, hidden)."""
    return state.transpose(0, 1).contiguous()


def _batch_first_states(result, lstm, last=False):
    output, state = result
    states = state if lstm else (state,)
    return (output[:, -1] if last else output, *(s.transpose(0, 1) for s in states))


@pytest.mark.parametrize(
    ("layer", "shapes", "params", "make", "reference", "ports"),
    MODULE_CASES,
    ids=[f"{c[0]}-{i}" for i, c in enumerate(MODULE_CASES)],
)
def test_layer_matches_torch_by_hand(layer, shapes, params, make, reference, ports):
    module = make()
    dtype = "int64" if layer == "Embedding" else "float32"
    compare(
        graph(shapes, layer, params, ports=ports, dtype=dtype),
        lambda *xs: reference(module, *xs),
        module=module,
    )


def test_causal_attention_ignores_later_tokens():
    arch = graph([(6, 8)], "TransformerEncoderLayer", {"nhead": 2, "is_causal": True})
    model = compile_model(arch).eval()
    x = torch.randn(2, 6, 8)
    changed = x.clone()
    changed[:, 3:] = torch.randn(2, 3, 8)
    with torch.no_grad():
        before, after = model(x), model(changed)
    assert torch.allclose(before[:, :3], after[:, :3], atol=1e-6)
    assert not torch.allclose(before[:, 3:], after[:, 3:])


def test_recurrent_state_sizes_are_checked():
    arch = graph([(7, 5), (1, 4)], "GRU", {"hidden_size": 6})
    error = analyse(arch).errors[0]
    assert error.node == "layer" and "h0" in str(error) and "(1, 6)" not in str(error)


def test_lstm_needs_both_initial_states():
    arch = graph([(7, 5), (1, 6)], "LSTM", {"hidden_size": 6})
    assert "h0 and c0" in str(analyse(arch).errors[0])


def test_padding_same_with_a_stride_is_refused(build_chain):
    arch = build_chain((3, 8, 8), ("Conv2d", {"kernel_size": 3, "padding": "same", "stride": 2}))
    assert "stride 1" in str(analyse(arch).errors[0])


def test_padding_same_on_a_pool_gets_a_hint(build_chain):
    from builder.errors import BuilderError

    with pytest.raises(BuilderError) as err:
        build_chain((3, 8, 8), ("MaxPool2d", {"padding": "same"}))
    assert "kernel_size // 2" in err.value.hint


def test_minus_one_outside_reshape_gets_a_hint(build_chain):
    from builder.errors import BuilderError

    with pytest.raises(BuilderError) as err:
        build_chain((8,), ("Linear", {"out_features": -1}))
    assert "Reshape" in err.value.hint


# ---- output ports and Output nodes ------------------------------------------------------


def test_split_without_a_source_port_names_the_ports():
    arch = graph([(4,)], "split", {"split_size_or_sections": [2]})
    arch.add_node("ReLU", id="act")
    arch.connect("layer", "act")
    error = analyse(arch).errors[0]
    assert error.edge == ("layer", "act") and "part0, part1" in str(error)
    assert "source_port" in error.hint


def test_unknown_source_port_lists_the_real_ones():
    arch = graph([(4,)], "chunk", {"chunks": 2}, ports=["part7"])
    error = analyse(arch).errors[0]
    assert "part7" in str(error) and "part0, part1" in error.hint


def test_source_port_survives_the_json_round_trip():
    arch = graph([(4,)], "chunk", {"chunks": 2}, ports=["part1", 0])
    data = arch.to_json()
    assert {"source": "layer", "target": "out0", "source_port": "part1"} in data["edges"]
    again = Architecture.from_json(data)
    assert again.to_json() == data
    assert again.input_ports_of("out1") == [0]


def test_old_files_without_ports_load_unchanged(build_chain):
    arch = build_chain((4,), ("Linear", {"out_features": 2}))
    data = arch.to_json()
    assert all("source_port" not in edge for edge in data["edges"])
    assert Architecture.from_json(data).to_json() == data


def test_output_nodes_name_and_order_the_returned_values():
    arch = Architecture("vae heads")
    arch.add_node("Input", {"shape": [6]}, id="x")
    arch.add_node("Linear", {"out_features": 3}, id="fc_mu")
    arch.add_node("Linear", {"out_features": 3}, id="fc_logvar")
    arch.add_node("Linear", {"out_features": 4}, id="unused")
    for node in ("fc_mu", "fc_logvar", "unused"):
        arch.connect("x", node)
    arch.add_node("Output", id="logvar")
    arch.add_node("Output", id="mu")
    arch.connect("fc_logvar", "logvar")
    arch.connect("fc_mu", "mu")
    source = generate_source(arch)
    assert "return fc_logvar, fc_mu" in source
    assert "self.unused(" not in source  # computed by nothing the outputs need
    model = compile_model(arch).eval()
    x = torch.randn(2, 6)
    logvar, mu = model(x)
    assert torch.equal(mu, model.fc_mu(x)) and torch.equal(logvar, model.fc_logvar(x))


def test_an_output_node_cannot_feed_another_layer():
    arch = graph([(4,)], "ReLU", ports=[None])
    arch.add_node("Sigmoid", id="after")
    arch.connect("out0", "after")
    assert any(e.node == "out0" for e in analyse(arch).errors)


def test_chain_variable_is_not_overwritten_before_an_output_is_returned(build_chain):
    arch = Architecture("two chains")
    arch.add_node("Input", {"shape": [4]}, id="x")
    arch.add_node("Linear", {"out_features": 3}, id="a")
    arch.add_node("Output", id="first")
    arch.add_node("Linear", {"out_features": 2}, id="b")
    arch.add_node("ReLU", id="c")
    arch.add_node("Output", id="second")
    for src, dst in [("x", "a"), ("a", "first"), ("x", "b"), ("b", "c"), ("c", "second")]:
        arch.connect(src, dst)
    model = compile_model(arch).eval()
    x = torch.randn(2, 4)
    first, second = model(x)
    assert torch.equal(first, model.a(x)) and torch.equal(second, torch.relu(model.b(x)))


# ---- exported code is ruff-clean under default settings -------------------------------


def _ruff() -> list[str]:
    ruff = shutil.which("ruff") or str(Path(sys.executable).with_name("ruff"))
    return [ruff]


def ruff_clean(sources: dict[str, str], tmp_path: Path) -> None:
    """ruff check and ruff format --check, default settings (--isolated), on every source."""
    for name, source in sources.items():
        (tmp_path / f"{name}.py").write_text(source)
    for args in (["check", "--isolated", "--no-cache"], ["format", "--isolated", "--check"]):
        done = subprocess.run([*_ruff(), *args, str(tmp_path)], capture_output=True, text=True)
        assert done.returncode == 0, done.stdout + done.stderr


def test_generated_sources_are_ruff_clean(tmp_path):
    sources = {}
    for i, (layer, shapes, params, *_, ports) in enumerate(FUNCTION_CASES + MODULE_CASES):
        dtype = "int64" if layer == "Embedding" else "float32"
        arch = graph(shapes, layer, params, ports=ports, dtype=dtype)
        sources[f"case{i}_{layer}"] = generate_source(arch)
    ruff_clean(sources, tmp_path)


TORCH_CHECKED = {case[0] for case in FUNCTION_CASES + MODULE_CASES} | {"Output"}


# ---- VAE sampling, tied weights, weight init --------------------------------------------


class ReferenceVAE(nn.Module):
    """pytorch/examples vae/main.py's VAE (784-400-20), written out here; z = mu in eval."""

    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(784, 400)
        self.fc21 = nn.Linear(400, 20)
        self.fc22 = nn.Linear(400, 20)
        self.fc3 = nn.Linear(20, 400)
        self.fc4 = nn.Linear(400, 784)

    def forward(self, x):
        h1 = F.relu(self.fc1(x.view(-1, 784)))
        mu, logvar = self.fc21(h1), self.fc22(h1)
        z = mu + torch.exp(0.5 * logvar) * torch.randn_like(mu) if self.training else mu
        return torch.sigmoid(self.fc4(F.relu(self.fc3(z)))), mu, logvar


def vae_graph() -> Architecture:
    arch = Architecture("VAE")
    arch.add_node("Input", {"shape": [1, 28, 28]}, id="x")
    layers = [
        ("Flatten", {}, "flat", ["x"]),
        ("Linear", {"out_features": 400}, "fc1", ["flat"]),
        ("ReLU", {}, "relu1", ["fc1"]),
        ("Linear", {"out_features": 20}, "fc21", ["relu1"]),
        ("Linear", {"out_features": 20}, "fc22", ["relu1"]),
        ("Reparameterize", {}, "z", ["fc21", "fc22"]),
        ("Linear", {"out_features": 400}, "fc3", ["z"]),
        ("ReLU", {}, "relu3", ["fc3"]),
        ("Linear", {"out_features": 784}, "fc4", ["relu3"]),
        ("Sigmoid", {}, "sigmoid", ["fc4"]),
        ("Output", {}, "recon", ["sigmoid"]),
        ("Output", {}, "mu", ["fc21"]),
        ("Output", {}, "logvar", ["fc22"]),
    ]
    for type_name, params, node, sources in layers:
        arch.add_node(type_name, params, id=node)
        for src in sources:
            arch.connect(src, node)
    return arch


def test_vae_matches_the_reference_exactly_and_exposes_its_kl():
    reference = ReferenceVAE().eval()
    arch = vae_graph()
    model = compile_model(arch).eval()
    model.load_state_dict(reference.state_dict())  # same parameter names: loads directly
    x = torch.rand(4, 1, 28, 28)
    with torch.no_grad():
        got, want = model(x), reference(x)
    assert [tuple(t.shape) for t in got] == [(4, 784), (4, 20), (4, 20)]
    assert all((g - w).abs().max() <= TOLERANCE for g, w in zip(got, want, strict=True))
    assert analyse(arch).total_params == sum(p.numel() for p in reference.parameters())
    mu, logvar = want[1], want[2]
    kl = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp()) / len(x)
    assert torch.allclose(model.z_kl, kl)
    model.train()
    torch.manual_seed(1)
    first = model(x)[0]
    assert not torch.allclose(first, model(x)[0])  # training samples z


def test_vae_parallel_heads_do_not_warn_about_collapsing_linears():
    warnings = analyse(vae_graph()).warnings
    assert not any("collapse" in str(w) for w in warnings), warnings


class ReferenceWordLM(nn.Module):
    """word_language_model's RNNModel("LSTM", ntoken, ninp, nhid, 2, tie_weights=True)."""

    def __init__(self, ntoken=50, size=16):
        super().__init__()
        self.encoder = nn.Embedding(ntoken, size)
        self.rnn = nn.LSTM(size, size, 2, batch_first=True)
        self.decoder = nn.Linear(size, ntoken)
        self.decoder.weight = self.encoder.weight

    def forward(self, tokens, h0, c0):
        output, (h, c) = self.rnn(self.encoder(tokens), (h0, c0))
        return self.decoder(output), h, c


def test_tied_decoder_shares_the_embedding_weight_and_is_counted_once():
    arch = Architecture("word LM")
    arch.add_node("Input", {"shape": [9], "dtype": "int64"}, id="tokens")
    arch.add_node("Input", {"shape": [2, 16]}, id="h0")
    arch.add_node("Input", {"shape": [2, 16]}, id="c0")
    arch.add_node("Embedding", {"num_embeddings": 50, "embedding_dim": 16}, id="encoder")
    arch.add_node("LSTM", {"hidden_size": 16, "num_layers": 2, "return": "sequence"}, id="rnn")
    arch.add_node("Linear", {"out_features": 50, "tie_weight_to": "encoder"}, id="decoder")
    for src, dst, port in [
        ("tokens", "encoder", None),
        ("encoder", "rnn", None),
        ("h0", "rnn", None),
        ("c0", "rnn", None),
        ("rnn", "decoder", None),
        ("decoder", "logits", None),
        ("rnn", "hidden", "h_n"),
        ("rnn", "cell", "c_n"),
    ]:
        if dst not in arch:
            arch.add_node("Output", id=dst)
        arch.connect(src, dst, source_port=port)
    reference = ReferenceWordLM().eval()
    model = compile_model(arch).eval()
    assert model.decoder.weight is model.encoder.weight
    model.load_state_dict(reference.state_dict())
    assert model.decoder.weight is model.encoder.weight
    count = sum(p.numel() for p in reference.parameters())
    assert analyse(arch).total_params == count == sum(p.numel() for p in model.parameters())
    tokens, h0, c0 = torch.randint(0, 50, (3, 9)), torch.randn(2, 3, 16), torch.randn(2, 3, 16)
    with torch.no_grad():
        got = model(tokens, h0.transpose(0, 1), c0.transpose(0, 1))
        logits, h, c = reference(tokens, h0, c0)
    assert (got[0] - logits).abs().max() <= TOLERANCE
    assert (got[1] - h.transpose(0, 1)).abs().max() <= TOLERANCE
    assert (got[2] - c.transpose(0, 1)).abs().max() <= TOLERANCE


def test_tie_to_a_mismatched_embedding_is_refused(build_chain):
    arch = build_chain(
        (5,),
        ("Embedding", {"num_embeddings": 30, "embedding_dim": 8}),
        ("Linear", {"out_features": 20, "tie_weight_to": "embed1"}),
        dtype="int64",
    )
    error = next(e for e in analyse(arch).errors if e.field == "tie_weight_to")
    assert error.node == "fc1" and "30" in error.hint


def test_tie_to_a_missing_node_is_refused(build_chain):
    arch = build_chain((8,), ("Linear", {"out_features": 4, "tie_weight_to": "nowhere"}))
    assert "nowhere" in str(analyse(arch).errors[0])


def test_weight_init_is_carried_into_the_generated_code(build_chain):
    arch = build_chain(
        (3, 8, 8),
        ("Conv2d", {"out_channels": 4, "kernel_size": 3, "weight_init": "normal(0, 0.02)"}),
        ("BatchNorm2d", {"weight_init": "normal(1.0, 0.02)", "bias_init": "constant(0)"}),
    )
    source = generate_source(arch)
    assert "nn.init.normal_(self.conv1.weight, 0.0, 0.02)" in source
    assert "nn.init.constant_(self.bn1.bias, 0.0)" in source
    torch.manual_seed(0)
    model = compile_model(arch)
    assert abs(model.conv1.weight.std().item() - 0.02) < 0.005
    assert abs(model.bn1.weight.mean().item() - 1.0) < 0.05 and not model.bn1.bias.any()


def test_a_bad_init_is_refused_with_a_hint(build_chain):
    from builder.errors import BuilderError

    with pytest.raises(BuilderError) as err:
        build_chain((4,), ("Linear", {"weight_init": "__import__('os')"}))
    assert err.value.field == "weight_init" and "normal(0, 0.02)" in err.value.hint
    arch = build_chain((4,), ("Linear", {"weight_init": "normal(0, 1, 2)"}))
    assert analyse(arch).errors[0].field == "weight_init"


def test_vae_word_lm_and_init_sources_are_ruff_clean(tmp_path, build_chain):
    init = build_chain(
        (3, 8, 8),
        ("Conv2d", {"kernel_size": 3, "weight_init": "kaiming_normal", "bias_init": "zeros"}),
    )
    ruff_clean({"vae": generate_source(vae_graph()), "init": generate_source(init)}, tmp_path)


TORCH_CHECKED |= {"Reparameterize"}


def test_linear_heads_on_a_linear_trunk_do_not_warn_but_a_plain_pair_does(build_chain):
    arch = Architecture("heads")
    arch.add_node("Input", {"shape": [8]}, id="x")
    for node in ("trunk", "mu", "logvar"):
        arch.add_node("Linear", {"out_features": 4}, id=node)
    arch.connect("x", "trunk")
    arch.connect("trunk", "mu")
    arch.connect("trunk", "logvar")
    assert not any("collapse" in str(w) for w in analyse(arch).warnings)
    pair = build_chain((8,), ("Linear", {"out_features": 4}), ("Linear", {"out_features": 2}))
    assert any("collapse" in str(w) for w in analyse(pair).warnings)


def test_softmax_warning_skips_attention_weights_returned_beside_the_result(build_chain):
    arch = Architecture("attention decoder")
    arch.add_node("Input", {"shape": [6, 8]}, id="x")
    arch.add_node("Linear", {"out_features": 6}, id="scores")
    arch.add_node("Softmax", {"dim": -1}, id="weights")
    arch.add_node("bmm", id="context")
    arch.add_node("Output", id="result")
    arch.add_node("Output", id="attention")
    for src, dst in [("x", "scores"), ("scores", "weights"), ("weights", "context")]:
        arch.connect(src, dst)
    arch.connect("x", "context")
    arch.connect("context", "result")
    arch.connect("weights", "attention")
    analysis = analyse(arch)
    assert analysis.ok, analysis.errors
    assert not any("Softmax" in str(w) for w in analysis.warnings)
    classifier = build_chain((8,), ("Linear", {"out_features": 3}), ("Softmax", {"dim": 1}))
    assert any("Softmax" in str(w) for w in analyse(classifier).warnings)


def test_a_node_no_output_needs_is_warned_about():
    arch = graph([(4,)], "ReLU", ports=[None])
    arch.add_node("Sigmoid", id="stray")
    arch.connect("in0", "stray")
    assert any(w.node == "stray" for w in analyse(arch).warnings)


def test_two_ports_of_one_node_can_feed_one_layer():
    arch = Architecture("halves")
    arch.add_node("Input", {"shape": [4, 6]}, id="x")
    arch.add_node("split", {"split_size_or_sections": [3], "dim": 2}, id="halves")
    arch.add_node("transpose", {"dim0": 1, "dim1": 2}, id="flip")
    arch.add_node("matmul", id="product")
    arch.connect("x", "halves")
    arch.connect("halves", "product", source_port="part0")
    arch.connect("halves", "flip", source_port=1)
    arch.connect("flip", "product")
    again = Architecture.from_json(arch.to_json())
    x = torch.randn(2, 4, 6)
    a, b = x.split(3, dim=2)
    for graph_ in (arch, again):
        with torch.no_grad():
            out = compile_model(graph_)(x)
        assert (out - a @ b.transpose(1, 2)).abs().max() <= TOLERANCE
    arch.disconnect("halves", "product")
    assert arch.inputs_of("product") == ["flip"] and arch.input_ports_of("product") == [None]


def test_every_bad_node_of_a_file_is_reported_at_once_with_close_names():
    from builder.errors import BuilderErrors

    doc = {
        "format": "layercraft",
        "version": 1,
        "nodes": [
            {"id": "x", "type": "Input", "params": {"shape": [8]}},
            {"id": "fc", "type": "Dense", "params": {"out_features": 3}},
            {"id": "act", "type": "Relu"},
            {"id": "conv", "type": "Conv2d", "params": {"padding": "sam"}},
        ],
        "edges": [{"source": "x", "target": "fc"}, {"source": "fc", "target": "act"}],
    }
    with pytest.raises(BuilderErrors) as err:
        Architecture.from_json(doc)
    problems = err.value.errors
    assert [p.node for p in problems] == ["fc", "act", "conv"]
    assert "Linear" in problems[0].hint and "ReLU" in problems[1].hint
    assert '"same"' in problems[2].hint
    assert str(err.value).startswith("3 problems:\n- fc.type: unknown layer type 'Dense'")


def test_inserting_after_a_recurrent_layer_keeps_its_state_port_edges():
    arch = graph([(7, 5)], "LSTM", {"hidden_size": 4}, ports=[None, "h_n"])
    new = arch.insert_after("layer", "ReLU")
    assert arch.inputs_of("out0") == [new] and arch.inputs_of(new) == ["layer"]
    assert arch.inputs_of("out1") == ["layer"] and arch.input_ports_of("out1") == ["h_n"]
    assert analyse(arch).ok
