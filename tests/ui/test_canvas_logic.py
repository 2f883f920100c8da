"""The canvas <-> Architecture conversion, palette insertion, autosave, undo, jobs, diagram."""

from __future__ import annotations

import re

import pytest
from streamlit_flow.elements import StreamlitFlowEdge, StreamlitFlowNode
from streamlit_flow.state import StreamlitFlowState

from builder.diagram import heat_colours, render_dot
from builder.errors import BuilderError
from builder.graph import Architecture
from builder.layers import get_spec
from builder.shapes import analyse
from builder.templates import load_template
from components import jobs, store
from components.canvas import apply_flow_change, build_flow_state, is_current
from components.history import History
from components.inspector import parse_ints, parse_widget_value
from components.jobs import JobSlots
from components.palette import add_layer, matching_specs
from components.project import open_graph_bytes


def lenet() -> Architecture:
    return load_template("lenet5")


def browser_echo(state: StreamlitFlowState, **changes) -> StreamlitFlowState:
    """What the browser sends back: the nodes and edges as dicts, then parsed again."""
    nodes = [StreamlitFlowNode.from_dict(n.asdict()) for n in state.nodes]
    edges = [StreamlitFlowEdge.from_dict(e.asdict()) for e in state.edges]
    return StreamlitFlowState(nodes, edges, changes.get("selected_id"), state.timestamp + 1)


def test_flow_state_shows_type_params_shape_and_param_count():
    arch = lenet()
    flow = build_flow_state(arch, analyse(arch))
    conv1 = next(n for n in flow.nodes if n.id == "conv1")
    content = conv1.data["content"]
    assert "Conv2d" in content and "out_channels=6" in content
    assert "(6, 28, 28)" in content and "156 params" in content
    assert [e.label for e in flow.edges if e.source == "conv1"] == ["(6, 28, 28)"]
    assert next(n for n in flow.nodes if n.id == "x").type == "input"


def test_flow_state_marks_error_nodes_red_with_the_reason():
    arch = lenet()
    arch.update_params("conv2", kernel_size=20)
    flow = build_flow_state(arch, analyse(arch))
    conv2 = next(n for n in flow.nodes if n.id == "conv2")
    assert conv2.style["background"] == "#fde8e8"
    assert "⚠" in conv2.data["content"] and "kernel" in conv2.data["content"].lower()


def test_node_styles_are_not_shared_between_nodes():
    flow = build_flow_state(lenet())
    flow.nodes[0].style["background"] = "red"
    assert flow.nodes[1].style["background"] != "red"


def test_browser_deleting_a_node_drops_it_and_its_dangling_edges():
    arch = lenet()
    flow = build_flow_state(arch, generation=3)
    echo = browser_echo(flow)
    echo.nodes = [
        n for n in echo.nodes if n.id != "relu1"
    ]  # edges to relu1 stay, as the library leaves them
    change = apply_flow_change(arch, echo, None)
    assert "relu1" not in change.arch and change.structural
    assert change.arch.inputs_of("pool1") == []
    assert "relu1" in arch  # the original is untouched


def test_browser_new_edge_connects_and_refused_edge_is_reported():
    arch = lenet()
    arch.add_node("ReLU", id="extra")
    echo = browser_echo(build_flow_state(arch))
    echo.edges.append(StreamlitFlowEdge("st-flow-edge_fc3-extra", "fc3", "extra"))
    echo.edges.append(StreamlitFlowEdge("st-flow-edge_fc3-conv1", "fc3", "conv1"))  # a cycle
    change = apply_flow_change(arch, echo, None)
    assert change.arch.inputs_of("extra") == ["fc3"]
    assert len(change.errors) == 1 and change.errors[0].edge == ("fc3", "conv1")


def test_browser_move_updates_positions_without_structural_change():
    arch = lenet()
    echo = browser_echo(build_flow_state(arch))
    echo.nodes[1].position = {"x": 321.0, "y": 55.5}
    change = apply_flow_change(arch, echo, "conv1")
    assert change.moved and not change.structural
    assert change.arch.pos_of(echo.nodes[1].id) == (321.0, 55.5)
    assert change.selected == "conv1"  # a drag keeps the selection


def test_node_click_selects_and_empty_echo_keeps_selection():
    arch = lenet()
    flow = build_flow_state(arch)
    assert apply_flow_change(arch, browser_echo(flow, selected_id="fc1"), None).selected == "fc1"
    assert apply_flow_change(arch, browser_echo(flow), "fc1").selected == "fc1"


def test_stale_browser_state_from_an_older_canvas_is_recognised():
    arch = lenet()
    old = build_flow_state(arch, generation=1)
    assert is_current(browser_echo(old), 1)
    assert not is_current(browser_echo(old), 2)


def test_palette_inserts_between_selected_node_and_its_successor():
    arch = lenet()
    new_id = add_layer(arch, "BatchNorm2d", "conv1")
    assert arch.inputs_of(new_id) == ["conv1"]
    assert arch.inputs_of("relu1") == [new_id]
    assert analyse(arch).ok


def test_palette_without_selection_places_the_layer_unconnected():
    arch = lenet()
    new_id = add_layer(arch, "Dropout", None)
    assert arch.inputs_of(new_id) == [] and arch.outputs_of(new_id) == []
    assert arch.pos_of(new_id) is not None


def test_palette_search_matches_type_and_help_text():
    hits = matching_specs("conv")
    assert "Conv2d" in [s.type for s in hits["convolution"]]
    assert matching_specs("no-such-layer-xyz") == {}


def test_inspector_parses_shapes_tuples_and_rejects_garbage():
    assert parse_ints("1, 28, 28", "shape") == [1, 28, 28]
    assert parse_ints("3x32x32", "shape") == [3, 32, 32]
    kernel = get_spec("Conv2d").param("kernel_size")
    assert parse_widget_value(kernel, "3") == 3
    assert parse_widget_value(kernel, "3, 5") == [3, 5]
    with pytest.raises(BuilderError) as err:
        parse_ints("big", "shape")
    assert err.value.field == "shape"


def test_autosave_round_trips_and_rejects_path_tricks(tmp_path, monkeypatch):
    monkeypatch.setenv("LAYERCRAFT_HOME", str(tmp_path))
    arch = lenet()
    store.save_project("abc123", arch)
    assert store.load_project("abc123").to_json() == arch.to_json()
    assert store.load_project("missing") is None
    with pytest.raises(BuilderError):
        store.project_path("../../etc/passwd")
    assert store.is_valid_project_id(store.new_project_id())


def test_autosave_ignores_a_corrupt_file(tmp_path, monkeypatch):
    monkeypatch.setenv("LAYERCRAFT_HOME", str(tmp_path))
    (tmp_path / "projects").mkdir()
    (tmp_path / "projects" / "bad.json").write_text("{not json")
    assert store.load_project("bad") is None


def test_undo_and_redo_walk_the_history():
    history = History()
    first = lenet()
    second = first.copy()
    second.remove_node("relu4")
    history.record(first)
    back = history.undo(second)
    assert "relu4" in back and history.can_redo
    forward = history.redo(back)
    assert "relu4" not in forward and not history.can_redo


def test_bad_upload_raises_builder_error_naming_the_file():
    with pytest.raises(BuilderError) as err:
        open_graph_bytes(
            b'{"format": "layercraft", "version": 1, "nodes": [{"id": "x", "type": "Nope"}]}',
            "mine.json",
        )
    assert "Nope" in str(err.value)
    with pytest.raises(BuilderError) as err:
        open_graph_bytes(b"not json", "mine.json")
    assert err.value.file == "mine.json"


def test_uploaded_graph_without_positions_gets_a_layout():
    data = lenet().to_json()
    for node in data["nodes"]:
        node.pop("pos")
    arch = open_graph_bytes(str.encode(__import__("json").dumps(data)), "g.json")
    assert all(arch.pos_of(n) is not None for n in arch.node_ids)


class FakeTrainer:
    def __init__(self, state="running"):
        self.state = state


def test_job_slots_cap_concurrent_training_and_queue_in_order():
    slots = JobSlots(2)
    assert slots.acquire("a") == 0 and slots.acquire("b") == 0
    ta, tb = FakeTrainer(), FakeTrainer()
    slots.attach("a", ta)
    slots.attach("b", tb)
    assert slots.acquire("c") == 1
    assert slots.acquire("d") == 2
    ta.state = "finished"
    assert slots.acquire("d") == 1  # c is still first in line
    assert slots.acquire("c") == 0
    assert slots.acquire("d") == 1


def test_job_queue_forgets_sessions_that_stop_checking_in():
    slots = JobSlots(1)
    slots.attach("a", FakeTrainer())
    slots.acquire("a")
    assert slots.acquire("gone", clock=lambda: 0.0) == 1
    assert slots.acquire("here", clock=lambda: 100.0) == 1  # "gone" timed out


@pytest.mark.parametrize(
    ("cores", "threads", "expected"), [(2, 2, 1), (8, 8, 7), (16, 8, 8), (1, 1, 1)]
)
def test_training_in_the_app_leaves_a_core_for_the_page(cores, threads, expected, monkeypatch):
    import torch

    monkeypatch.setattr(jobs.os, "cpu_count", lambda: cores)
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(threads)
        jobs.leave_a_core_for_the_page()
        assert torch.get_num_threads() == expected
    finally:
        torch.set_num_threads(before)


def test_diagram_shows_every_node_with_shapes_and_params():
    arch = lenet()
    dot = render_dot(arch)
    for node_id in arch.node_ids:
        assert re.search(rf"^\s*{node_id} \[", dot, re.M)
    assert "(6, 28, 28)" in dot and "156 params" in dot
    assert "conv1 -> relu1" in dot


def test_diagram_colours_nodes_by_the_chosen_stat():
    arch = lenet()
    stats = {
        "conv1": {"grad_norm": 0.01, "weight_norm": 5.0},
        "fc3": {"grad_norm": 3.0, "weight_norm": 1.0},
    }
    by_grad = render_dot(arch, stats=stats, metric="grad_norm")
    by_weight = render_dot(arch, stats=stats, metric="weight_norm")
    assert by_grad != by_weight
    colours = heat_colours(stats, "grad_norm")
    assert colours["conv1"] != colours["fc3"]
    assert "grad_norm 3" in by_grad


def test_diagram_escapes_hostile_names():
    arch = Architecture('evil" ]; x [label="pwn')
    arch.add_node("Input", {"shape": [2]}, id="x")
    dot = render_dot(arch)
    assert 'label="pwn"' not in dot
