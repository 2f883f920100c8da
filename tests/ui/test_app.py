"""The whole app under Streamlit's AppTest: session, autosave, palette, inspector, canvas, export."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import numpy as np
from streamlit.testing.v1 import AppTest

from builder.graph import Architecture
from builder.templates import list_templates
from tests.ui.navigate import layer_button, open_tab

APP = Path(__file__).resolve().parents[2] / "app.py"
TAB_NAMES = ("Train", "GAN", "Runs", "Search", "Export", "Compress")


def start(project: str | None = None) -> AppTest:
    at = AppTest.from_file(str(APP), default_timeout=60)
    if project:
        at.query_params["project"] = project
    return at.run()


def canvas_args(at: AppTest) -> dict:
    el = next(e for e in at.main if e.type == "bidi_component")
    return json.loads(el.proto.json)


def test_new_session_gets_a_project_id_and_autosaves_the_starter_graph(home):
    at = start()
    assert not at.exception
    project = at.query_params["project"]
    saved = Architecture.load(home / "projects" / f"{project}.json")
    assert saved.name == "MLP digits"
    assert {n["id"] for n in canvas_args(at)["nodes"]} == set(saved.node_ids)


def test_reload_with_the_same_project_id_restores_the_graph(home):
    at = start("proj1")
    at.sidebar.selectbox(key="template_pick").set_value("lenet5")
    at.sidebar.button(key="load_template").click().run()
    again = start("proj1")
    assert again.session_state["arch"].name == "LeNet-5"
    assert any("Restored your project" in m.value for m in again.info)


def _setting(at: AppTest, name: str):
    """A Train-tab setting's value (its widget key changes with each loaded template)."""
    return next(w for w in at.number_input if w.key.startswith(f"cfg_{name}_")).value


def test_loading_a_template_points_the_train_tab_at_its_data_and_settings(home):
    at = start()
    at.sidebar.selectbox(key="template_pick").set_value("transformer_text")
    at.sidebar.button(key="load_template").click().run()
    at = open_tab(at, "Train")
    assert not at.exception
    assert at.selectbox(key="dataset_pick").value == "sentiment"
    assert _setting(at, "lr") == 2e-3
    assert _setting(at, "epochs") == 15
    assert any("sentiment data, epochs 15, lr 0.002" in m.value for m in at.success)
    assert not at.error  # the template fits the data it is paired with
    at.sidebar.selectbox(key="template_pick").set_value("mlp_moons")
    at.sidebar.button(key="load_template").click().run()
    assert at.selectbox(key="dataset_pick").value == "moons"
    assert _setting(at, "lr") == 1e-2
    assert _setting(at, "epochs") == 30
    assert not at.toggle[0].value  # 2 features in, 2 classes out: a classifier, not an autoencoder
    at.sidebar.selectbox(key="template_pick").set_value("conv_autoencoder")
    at.sidebar.button(key="load_template").click().run()
    assert at.toggle[0].label.startswith("Reconstruct") and at.toggle[0].value


def test_palette_click_inserts_after_the_selected_node(home):
    at = start()
    at.session_state["selected"] = "fc1"
    at.run()
    layer_button(at, "Dropout").click().run()
    arch = at.session_state["arch"]
    assert arch.inputs_of("dropout1") == ["fc1"] and arch.inputs_of("relu1") == ["dropout1"]
    assert at.session_state["selected"] == "dropout1"
    assert "dropout1" in {n["id"] for n in canvas_args(at)["nodes"]}


def test_inspector_edit_reanalyses_and_shows_new_shapes_then_undo_restores(home):
    at = start()
    at.session_state["selected"] = "fc1"
    at.run()
    at.number_input(key="param_fc1_out_features").set_value(32).run()
    fc1 = next(n for n in canvas_args(at)["nodes"] if n["id"] == "fc1")
    assert fc1["shape"] == "(32,)"
    assert at.session_state["analysis"].nodes["fc2"].params == 330
    at.button(key="undo").click().run()
    assert at.session_state["arch"].params_of("fc1")["out_features"] == 64
    at.button(key="redo").click().run()
    assert at.session_state["arch"].params_of("fc1")["out_features"] == 32


def test_invalid_parameter_is_refused_with_a_message_naming_the_field(home):
    at = start()
    at.session_state["selected"] = "x"
    at.run()
    at.text_input(key="param_x_shape").set_value("one, two").run()
    assert any("shape" in e.value for e in at.error)
    assert at.session_state["arch"].params_of("x")["shape"] == [1, 8, 8]


def test_loading_a_template_over_an_edited_graph_asks_first(home):
    at = start()
    layer_button(at, "ReLU").click().run()
    at.sidebar.selectbox(key="template_pick").set_value("lenet5")
    at.sidebar.button(key="load_template").click().run()
    assert at.session_state["arch"].name == "MLP digits"  # not replaced yet
    assert any("Replace your edited graph" in w.value for w in at.sidebar.warning)
    at.sidebar.button(key="confirm_template_yes").click().run()
    assert at.session_state["arch"].name == "LeNet-5"


def test_canvas_gets_the_analysed_graph_with_ports_and_edge_shapes(home):
    at = start()
    at.sidebar.selectbox(key="template_pick").set_value("resnet_small")
    at.sidebar.button(key="load_template").click().run()
    args = canvas_args(at)
    arch = at.session_state["arch"]
    assert {n["id"] for n in args["nodes"]} == set(arch.node_ids)
    assert {(e["source"], e["target"]) for e in args["edges"]} == set(arch.edges)
    adds = [n for n in args["nodes"] if n["type"] == "Add"]
    assert adds and all([p["id"] for p in n["ports"]] == ["in0", "in1", "in2"] for n in adds)
    assert all(e["label"] for e in args["edges"])  # every edge carries its shape


def test_export_tab_shows_the_generated_code(home):
    at = open_tab(start(), "Export")
    code = at.code[0].value
    assert "class MLPDigits(nn.Module)" in code and "def forward" in code


def test_train_tab_reports_compatibility_and_offers_a_fix(home):
    at = start()
    at.session_state["selected"] = "fc2"
    at.run()
    at.number_input(key="param_fc2_out_features").set_value(3).run()
    at = open_tab(at, "Train")
    assert any("10" in e.value for e in at.error)  # digits has 10 classes
    at.button(key="fix_btn").click().run()
    assert at.session_state["arch"].params_of("fc2")["out_features"] == 10


def test_every_template_loads_and_renders_every_tab_without_errors(home):
    at = start()
    for stem, _, _ in list_templates():
        at.sidebar.selectbox(key="template_pick").set_value(stem)
        at.sidebar.button(key="load_template").click().run()
        assert not at.exception, (stem, at.exception)
        assert len(canvas_args(at)["nodes"]) == len(at.session_state["arch"])
        for tab in TAB_NAMES:
            assert not open_tab(at, tab).exception, (stem, tab, at.exception)
        open_tab(at, "Build")


def test_regression_training_draws_the_models_curve_over_the_data(home):
    import plotly.io

    at = start()
    at.sidebar.selectbox(key="template_pick").set_value("mlp_sine")
    at.sidebar.button(key="load_template").click().run()
    at = open_tab(at, "Train")
    # 1 feature in, 1 value out mirrors the input, yet it fits sine as it is: no autoencoder.
    assert not at.toggle[0].value
    next(w for w in at.number_input if w.key.startswith("cfg_epochs_")).set_value(3).run()
    at.button(key="train_btn").click().run()
    assert at.session_state["trainer"].join(timeout=60)
    at.run()
    assert not at.exception
    figures = [plotly.io.from_json(chart.proto.spec) for chart in at.get("plotly_chart")]
    fit = next(f for f in figures if f.layout.title.text == "Predictions (validation)")
    data, model = fit.data
    assert (data.name, model.name) == ("validation data", "model")
    # In the data's own units: inputs span about ±2π, not the standardised ±1.7.
    assert np.abs(_values(data.x)).max() > 5
    curve = _values(model.x)
    assert len(curve) == len(_values(data.x)) and np.all(np.diff(curve) >= 0)


def _values(array) -> np.ndarray:
    """Numbers from a plotly JSON array, plain or typed (base64 bytes of a numpy dtype)."""
    if isinstance(array, dict):
        return np.frombuffer(base64.b64decode(array["bdata"]), dtype=array["dtype"])
    return np.asarray(array)
