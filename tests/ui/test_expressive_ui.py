"""The app offers the issue 11 additions: tensor ops in the palette, list params with -1."""

from __future__ import annotations

from pathlib import Path

from streamlit.testing.v1 import AppTest

from tests.ui.navigate import layer_button

APP = Path(__file__).resolve().parents[2] / "app.py"


def test_tensor_ops_are_in_the_palette_and_reshape_takes_minus_one(home):
    at = AppTest.from_file(str(APP), default_timeout=60).run()
    for layer in ("matmul", "split", "permute", "Output", "PadToMatch"):
        assert layer_button(at, layer) is not None
    at.session_state["selected"] = "fc1"
    at.run()
    layer_button(at, "Reshape").click().run()
    assert at.session_state["arch"].inputs_of("reshape1") == ["fc1"]
    at.text_input(key="param_reshape1_shape").set_value("-1, 8").run()
    assert not any("reshape1" in e.value for e in at.error), [e.value for e in at.error]
    assert at.session_state["arch"].params_of("reshape1")["shape"] == [-1, 8]
    assert at.session_state["analysis"].nodes["reshape1"].output_shape == (8, 8)


def test_canvas_edges_from_output_ports_name_the_port_and_carry_its_shape():
    from builder.graph import Architecture
    from builder.shapes import analyse
    from components.canvas import edge_payloads

    arch = Architecture("state hand-off")
    arch.add_node("Input", {"shape": [7, 5]}, id="x")
    arch.add_node("GRU", {"hidden_size": 6, "num_layers": 2, "return": "sequence"}, id="gru")
    arch.add_node("Output", id="seq")
    arch.add_node("Output", id="hidden")
    arch.connect("x", "gru")
    arch.connect("gru", "seq")
    arch.connect("gru", "hidden", source_port="h_n")
    edges = edge_payloads(arch, analyse(arch))
    labels = {(e["source"], e["target"]): e for e in edges}
    assert labels[("gru", "seq")]["label"] == "(7, 6)"
    assert labels[("gru", "hidden")]["label"] == "h_n (2, 6)"
    assert labels[("gru", "hidden")]["source_port"] == "h_n"
    assert len({e["id"] for e in edges}) == len(edges)


def test_the_inspector_shares_a_layers_weights_with_another_of_its_type(home):
    from builder.codegen import generate_source

    at = AppTest.from_file(str(APP), default_timeout=60).run()
    at.session_state["selected"] = "relu1"
    at.run()
    layer_button(at, "Linear").click().run()
    new = at.session_state["selected"]
    assert at.session_state["arch"].inputs_of(new) == ["relu1"]
    weights = at.selectbox(key=f"param_{new}_shares")
    assert weights.options == ["its own", "shared with fc1", "shared with fc2"]

    weights.set_value("fc1").run()
    arch, analysis = at.session_state["arch"], at.session_state["analysis"]
    assert arch.user_params_of(new) == {"out_features": 64, "shares": "fc1"}  # fc1's settings
    assert analysis.ok, analysis.errors
    assert analysis.nodes[new].params == 0  # fc1 holds the weights, counted once
    assert analysis.total_params == analysis.nodes["fc1"].params + 64 * 10 + 10
    assert generate_source(arch).count("self.fc1(") == 2
    assert not at.error

    at.selectbox(key=f"param_{new}_shares").set_value("fc2").run()
    assert any("its input would need nn.Linear(64, 10)" in e.value for e in at.error)

    at.selectbox(key=f"param_{new}_shares").set_value(None).run()
    assert "shares" not in at.session_state["arch"].user_params_of(new)
