"""The canvas <-> Architecture conversion, palette insertion, autosave, undo, jobs, diagram."""

from __future__ import annotations

import re

import pytest

from builder.diagram import heat_colours, render_dot
from builder.errors import BuilderError
from builder.graph import Architecture
from builder.layers import get_spec
from builder.shapes import analyse
from builder.templates import load_template
from components import jobs, store
from components.canvas import canvas_payload, node_payload
from components.canvas_intents import apply_intent, unseen_intents
from components.history import History
from components.inspector import parse_ints, parse_widget_value
from components.jobs import JobSlots
from components.palette import add_layer, matching_specs
from components.project import open_graph_bytes


def lenet() -> Architecture:
    return load_template("lenet5")


def payload_node(data: dict, node_id: str) -> dict:
    return next(n for n in data["nodes"] if n["id"] == node_id)


def test_payload_shows_type_params_shape_param_count_and_category_colour():
    arch = lenet()
    data = canvas_payload(arch, analyse(arch), rev=1)
    conv1 = payload_node(data, "conv1")
    assert conv1["type"] == "Conv2d" and "out_channels=6" in conv1["summary"]
    assert conv1["shape"] == "(6, 28, 28)" and conv1["param_count"] == "156"
    assert conv1["color"] != payload_node(data, "relu1")["color"]  # categories differ
    assert [e["label"] for e in data["edges"] if e["source"] == "conv1"] == ["(6, 28, 28)"]
    assert payload_node(data, "x")["ports"] == []  # an Input takes nothing in


def test_payload_puts_the_error_message_on_the_broken_node():
    arch = lenet()
    arch.update_params("conv2", kernel_size=20)
    conv2 = payload_node(canvas_payload(arch, analyse(arch), rev=1), "conv2")
    assert conv2["error"] and "kernel" in conv2["error"].lower() and conv2["shape"] is None


def test_merge_nodes_get_one_port_per_input_plus_a_spare_and_edges_carry_the_port():
    arch = Architecture("m")
    for node_id in ("a", "b"):
        arch.add_node("Input", {"shape": [4]}, id=node_id)
    arch.add_node("Concat", id="cat")
    arch.connect("b", "cat")
    arch.connect("a", "cat")
    data = canvas_payload(arch, analyse(arch), rev=1)
    assert [p["label"] for p in payload_node(data, "cat")["ports"]] == ["1", "2", "+"]
    ports = {e["source"]: e["target_port"] for e in data["edges"]}
    assert ports == {"b": 0, "a": 1}


def test_node_payload_extras_add_badges_and_override_fields():
    arch = lenet()
    node = node_payload(arch, "conv1", analyse(arch), {"frozen": True, "tint": "#ff0000"})
    assert node["frozen"] is True and node["searched"] is False and node["tint"] == "#ff0000"


def test_delete_intent_removes_nodes_with_their_edges_and_keeps_the_original():
    arch = lenet()
    result = apply_intent(arch, {"kind": "delete", "nodes": ["relu1"], "edges": []}, ["relu1"])
    assert "relu1" not in result.arch and result.arch.inputs_of("pool1") == []
    assert result.selected == [] and result.record and "relu1" in arch


def test_connect_to_port_two_puts_the_source_second_among_the_inputs():
    arch = Architecture("m")
    for node_id in ("a", "b", "c"):
        arch.add_node("Input", {"shape": [4]}, id=node_id)
    arch.add_node("Concat", id="cat")
    arch.connect("a", "cat")
    arch.connect("b", "cat")
    intent = {"kind": "connect", "source": "c", "target": "cat", "port": 1, "x": 0, "y": 0}
    assert apply_intent(arch, intent, []).arch.inputs_of("cat") == ["a", "c", "b"]


def lstm_graph() -> Architecture:
    arch = Architecture("m")
    arch.add_node("Input", {"shape": [5, 3]}, id="x")
    arch.add_node("LSTM", {"hidden_size": 8}, id="lstm")
    arch.add_node("Linear", {"out_features": 2}, id="head")
    arch.connect("x", "lstm")
    return arch


def test_a_node_with_named_outputs_gets_one_source_handle_per_output():
    arch = lstm_graph()
    arch.connect("lstm", "head", source_port="h_n")
    data = canvas_payload(arch, analyse(arch), rev=1)
    handles = payload_node(data, "lstm")["out_ports"]
    assert [(h["id"], h["label"]) for h in handles] == [
        ("out", "output"),  # the default output keeps the plain handle
        ("out:h_n", "h_n"),
        ("out:c_n", "c_n"),
    ]
    assert payload_node(data, "head")["out_ports"] == []  # one output: one plain handle
    assert [p["label"] for p in payload_node(data, "lstm")["ports"]] == ["input", "h0", "c0"]
    edge = next(e for e in data["edges"] if e["target"] == "head")
    assert edge["source_handle"] == "out:h_n" and edge["label"].startswith("h_n")


def test_connecting_from_a_named_output_reads_that_output_and_bad_names_are_refused():
    arch = lstm_graph()
    intent = {"kind": "connect", "source": "lstm", "target": "head", "port": 0, "x": 0, "y": 0}
    result = apply_intent(arch, {**intent, "source_port": "c_n"}, [])
    assert result.refusal is None and result.arch.input_ports_of("head") == ["c_n"]
    assert analyse(result.arch).nodes["head"].input_shapes == [(1, 8)]
    refused = apply_intent(arch, {**intent, "source_port": "__import__('os')"}, [])
    assert refused.refusal is not None and refused.arch.inputs_of("head") == []
    unknown = apply_intent(arch, {**intent, "source_port": "nope"}, [])
    assert unknown.refusal is not None or analyse(unknown.arch).nodes["head"].error is not None


def test_paste_keeps_the_output_port_an_edge_reads():
    arch = lstm_graph()
    paste = {
        "kind": "paste",
        "nodes": [
            {"id": "lstm", "type": "LSTM", "params": {"hidden_size": 8}, "pos": [0, 0]},
            {"id": "head", "type": "Linear", "params": {"out_features": 2}, "pos": [0, 90]},
        ],
        "edges": [{"source": "lstm", "target": "head", "port": 0, "source_port": "h_n"}],
    }
    result = apply_intent(arch, paste, [])
    [copy] = [n for n in result.selected if result.arch.type_of(n) == "Linear"]
    assert copy != "head" and result.arch.input_ports_of(copy) == ["h_n"]


def test_a_cycle_is_refused_with_its_reason_and_the_graph_unchanged():
    arch = lenet()
    intent = {"kind": "connect", "source": "fc3", "target": "conv1", "port": 0, "x": 5, "y": 6}
    result = apply_intent(arch, intent, [])
    assert result.refusal is not None and result.at == (5.0, 6.0)
    assert "cycle" in str(result.refusal) or "takes 1 input" in str(result.refusal)
    assert result.arch is arch


def test_a_connection_that_breaks_the_target_shape_is_refused():
    arch = Architecture("m")
    arch.add_node("Input", {"shape": [4]}, id="a")
    arch.add_node("Input", {"shape": [1, 8, 8]}, id="b")
    arch.add_node("Add", id="add")
    arch.connect("a", "add")
    result = apply_intent(arch, {"kind": "connect", "source": "b", "target": "add", "port": 1}, [])
    assert result.refusal is not None and "add" in str(result.refusal)


def test_drop_on_an_edge_inserts_the_layer_into_it_at_the_same_port():
    arch = lenet()
    intent = {"kind": "add_on_edge", "type": "Dropout", "source": "conv1", "target": "relu1"}
    result = apply_intent(arch, {**intent, "x": 10, "y": 20}, [])
    new_id = result.selected[0]
    assert result.arch.inputs_of(new_id) == ["conv1"]
    assert result.arch.inputs_of("relu1") == [new_id]


def test_paste_copies_nodes_under_fresh_ids_with_their_inner_edges():
    arch = lenet()
    clip = {
        "kind": "paste",
        "nodes": [
            {
                "id": "conv1",
                "type": "Conv2d",
                "params": arch.user_params_of("conv1"),
                "pos": [1, 2],
            },
            {"id": "relu1", "type": "ReLU", "params": {}, "pos": [1, 90]},
        ],
        "edges": [{"source": "conv1", "target": "relu1", "port": 0}],
    }
    result = apply_intent(arch, clip, [])
    new_conv, new_relu = result.selected
    assert new_conv not in arch and new_relu not in arch
    assert result.arch.inputs_of(new_relu) == [new_conv]
    assert result.arch.user_params_of(new_conv) == arch.user_params_of("conv1")


def test_moves_are_stored_without_an_undo_step_and_bad_intents_are_refused():
    arch = lenet()
    result = apply_intent(arch, {"kind": "move", "positions": {"conv1": [3, 4]}}, [])
    assert result.arch.pos_of("conv1") == (3.0, 4.0) and not result.record
    with pytest.raises(BuilderError):
        apply_intent(arch, {"kind": "eval", "code": "1"}, [])
    bad = apply_intent(arch, {"kind": "add", "type": "NoSuchLayer", "x": 0, "y": 0}, [])
    assert bad.refusal is not None and bad.arch is arch


def test_layout_direction_is_kept_in_graph_json_and_old_files_load_unchanged():
    arch = lenet()
    assert "layout" not in arch.to_json()
    result = apply_intent(arch, {"kind": "direction", "direction": "RIGHT"}, [])
    data = result.arch.to_json()
    assert data["layout"] == {"direction": "RIGHT"} and result.relayout
    assert Architecture.from_json(data).layout == {"direction": "RIGHT"}
    with pytest.raises(BuilderError, match="layout"):
        Architecture.from_json({**data, "layout": {"direction": "UP"}})


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


def test_a_layer_dropped_on_an_edge_pushes_what_follows_so_nothing_overlaps():
    arch = load_template("mlp_digits")
    before = {n: arch.pos_of(n) for n in arch.node_ids}
    intent = {"kind": "add_on_edge", "type": "Dropout", "source": "fc1", "target": "relu1"}
    result = apply_intent(arch, {**intent, "x": 999, "y": -999}, [])
    new = result.selected[0]
    pos = {n: result.arch.pos_of(n) for n in result.arch.node_ids}
    assert pos[new][0] == before["fc1"][0] and pos[new][1] > before["fc1"][1]  # under fc1
    for later in ("relu1", "fc2"):  # pushed down by the same amount, so they keep their shape
        assert pos[later][1] - before[later][1] == pos["relu1"][1] - before["relu1"][1] > 0
        assert pos[later][1] >= pos[new][1] + 100
    assert pos["x"] == before["x"] and pos["fc1"] == before["fc1"]  # upstream stays put


def test_inserting_left_to_right_makes_room_along_x():
    arch = load_template("mlp_digits")
    arch.set_layout_direction("RIGHT")
    for n, (x, y) in {n: arch.pos_of(n) for n in arch.node_ids}.items():
        arch.set_pos(n, (y * 2.5, x))  # laid out along x, as ELK would
    before = arch.pos_of("relu1")
    result = apply_intent(arch, {"kind": "insert_after", "type": "Dropout"}, ["fc1"])
    new = result.selected[0]
    assert result.arch.pos_of(new)[0] == arch.pos_of("fc1")[0] + 260
    assert result.arch.pos_of("relu1")[0] >= result.arch.pos_of(new)[0] + 250
    assert result.arch.pos_of("relu1")[1] == before[1]


def test_a_resent_batch_applies_each_intent_once_and_a_replaced_trigger_loses_nothing():
    select = {"kind": "select", "ids": ["fc1"], "seq": 1}
    delete = {"kind": "delete", "nodes": ["fc1"], "edges": [], "seq": 2}
    first, ack = unseen_intents({"client": "a", "sent": 1, "intents": [select]}, None)
    assert first == [select] and ack == {"client": "a", "seq": 1}
    # The next trigger still carries the select (not acknowledged yet in the browser).
    second, ack = unseen_intents({"client": "a", "sent": 2, "intents": [select, delete]}, ack)
    assert second == [delete] and ack == {"client": "a", "seq": 2}
    again, ack = unseen_intents({"client": "a", "sent": 3, "intents": [select, delete]}, ack)
    assert again == [] and ack["seq"] == 2


def test_a_new_canvas_mount_starts_its_own_count_and_ticks_apply_nothing():
    ack = {"client": "old", "seq": 9}
    fresh, ack = unseen_intents(
        {"client": "new", "sent": 1, "intents": [{"kind": "undo", "seq": 1}]}, ack
    )
    assert fresh == [{"kind": "undo", "seq": 1}] and ack == {"client": "new", "seq": 1}
    ticks, ack = unseen_intents({"client": "new", "sent": 2, "intents": [{"kind": "tick"}]}, ack)
    assert ticks == [] and ack == {"client": "new", "seq": 1}
    assert unseen_intents({"kind": "undo"}, ack) == ([{"kind": "undo"}], ack)  # a bare intent
    assert unseen_intents({"intents": [{"seq": 1}]}, ack) == ([], ack)  # no client: ignored


def test_a_pasted_layer_and_its_sharer_keep_their_weights_together():
    arch = lenet()
    linear = {"out_features": 84}
    clip = {
        "kind": "paste",
        "nodes": [
            {"id": "fc2", "type": "Linear", "params": linear, "pos": [0, 0]},
            {"id": "again", "type": "Linear", "params": {**linear, "shares": "fc2"}},
            {"id": "lone", "type": "Linear", "params": {**linear, "shares": "fc2"}},
        ],
        "edges": [],
    }
    result = apply_intent(arch, {**clip, "nodes": clip["nodes"][:2]}, [])
    copy, again = result.selected
    assert copy != "fc2" and result.arch.params_of(again)["shares"] == copy
    result = apply_intent(arch, {**clip, "nodes": clip["nodes"][2:]}, [])
    # pasted without its owner, a sharer calls the original layer
    assert result.arch.params_of(result.selected[0])["shares"] == "fc2"
