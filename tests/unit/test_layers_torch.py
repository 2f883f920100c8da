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
    ("chunk", [(4, 6)], {"chunks": 2, "dim": 2}, lambda x: torch.chunk(x, 2, dim=2)[1:], [1]),
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


def test_tensor_op_sources_are_ruff_clean(tmp_path):
    sources = {}
    for i, (layer, shapes, params, _, ports) in enumerate(FUNCTION_CASES):
        sources[f"case{i}_{layer}"] = generate_source(graph(shapes, layer, params, ports=ports))
    ruff_clean(sources, tmp_path)


TORCH_CHECKED = {case[0] for case in FUNCTION_CASES} | {"Output"}
