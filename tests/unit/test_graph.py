"""Architecture: edits, graph JSON v1 round trips and strict loading of untrusted files."""

from __future__ import annotations

import copy
import json

import pytest

from builder.errors import BuilderError
from builder.graph import MAX_NODES, Architecture

GOOD = {
    "format": "layercraft",
    "version": 1,
    "name": "tiny",
    "nodes": [
        {"id": "x", "type": "Input", "params": {"shape": [4]}, "pos": [0, 0]},
        {"id": "fc1", "type": "Linear", "params": {"out_features": 3}},
        {"id": "act", "type": "ReLU", "params": {}},
    ],
    "edges": [{"source": "x", "target": "fc1"}, {"source": "fc1", "target": "act"}],
}


def _with(**changes):
    data = copy.deepcopy(GOOD)
    data.update(changes)
    return data


def _load_error(data) -> BuilderError:
    with pytest.raises(BuilderError) as err:
        Architecture.from_json(data)
    return err.value


def test_json_round_trip_keeps_nodes_params_positions_and_edges():
    arch = Architecture.from_json(GOOD)
    again = Architecture.from_json(json.dumps(arch.to_json()))
    assert again.to_json() == arch.to_json()
    assert again.node_ids == ["x", "fc1", "act"]
    assert again.pos_of("x") == (0.0, 0.0)
    assert again.user_params_of("fc1") == arch.user_params_of("fc1")
    assert again.params_of("fc1")["out_features"] == 3 and again.params_of("fc1")["bias"]
    assert again.user_params_of("fc1") == {"out_features": 3}


def test_save_and_load_file(tmp_path):
    arch = Architecture.from_json(GOOD)
    arch.save(tmp_path / "g.json")
    assert Architecture.load(tmp_path / "g.json").to_json() == arch.to_json()


def test_load_names_the_file_it_cannot_read(tmp_path):
    with pytest.raises(BuilderError) as err:
        Architecture.load(tmp_path / "missing.json")
    assert err.value.file.endswith("missing.json")
    (tmp_path / "junk.json").write_text("{not json")
    with pytest.raises(BuilderError) as err:
        Architecture.load(tmp_path / "junk.json")
    assert "not valid JSON" in str(err.value) and err.value.file.endswith("junk.json")


def test_load_rejects_unknown_top_level_key():
    assert "unknown key 'description'" in str(_load_error(_with(description="x")))


def test_load_rejects_unknown_node_key():
    data = copy.deepcopy(GOOD)
    data["nodes"][1]["colour"] = "red"
    assert "fc1: unknown key 'colour'" in str(_load_error(data))


def test_load_rejects_unknown_type_naming_the_node():
    data = copy.deepcopy(GOOD)
    data["nodes"][1]["type"] = "Dense"
    err = _load_error(data)
    assert err.node == "fc1" and "Dense" in err.message and "Linear" in err.hint


def test_load_rejects_wrong_param_type_naming_node_and_field():
    data = copy.deepcopy(GOOD)
    data["nodes"][1]["params"] = {"out_features": "ten"}
    err = _load_error(data)
    assert (err.node, err.field) == ("fc1", "out_features")
    assert "whole number" in err.message


def test_load_rejects_unknown_param_listing_the_known_ones():
    data = copy.deepcopy(GOOD)
    data["nodes"][1]["params"] = {"in_features": 4}
    err = _load_error(data)
    assert err.field == "in_features" and "out_features" in err.hint


def test_load_rejects_out_of_range_param():
    data = copy.deepcopy(GOOD)
    data["nodes"][1]["params"] = {"out_features": 0}
    assert str(_load_error(data)) == "fc1.out_features: must be at least 1, not 0"


def test_load_rejects_bool_where_a_number_is_expected():
    data = copy.deepcopy(GOOD)
    data["nodes"][1]["params"] = {"out_features": True}
    assert _load_error(data).field == "out_features"


def test_load_rejects_duplicate_ids():
    data = copy.deepcopy(GOOD)
    data["nodes"][2]["id"] = "fc1"
    err = _load_error(data)
    assert err.node == "fc1" and "duplicate" in err.message


def test_load_rejects_dangling_edge_naming_it():
    data = _with(edges=[*GOOD["edges"], {"source": "act", "target": "ghost"}])
    err = _load_error(data)
    assert err.edge == ("act", "ghost") and "missing node 'ghost'" in err.message


def test_load_rejects_cycles_naming_the_closing_edge():
    data = copy.deepcopy(GOOD)
    data["nodes"].append({"id": "add", "type": "Add"})
    data["edges"] = [
        {"source": "x", "target": "fc1"},
        {"source": "fc1", "target": "add"},
        {"source": "add", "target": "act"},
        {"source": "act", "target": "add"},
    ]
    err = _load_error(data)
    assert err.edge == ("act", "add") and "cycle" in err.message


def test_load_rejects_invalid_ids_without_echoing_them_whole():
    data = copy.deepcopy(GOOD)
    data["nodes"][1]["id"] = "__import__('os').system('x')" * 10
    err = _load_error(data)
    problems = getattr(err, "errors", [err])  # the dangling edges are reported too
    assert err.field == "id" and all(len(str(e)) < 250 for e in problems)


@pytest.mark.parametrize(
    "data",
    [
        [],
        "[]",
        "null",
        _with(format="other"),
        _with(version=2),
        _with(version=True),
        _with(nodes={}),
        _with(name=7),
        _with(edges=[["x", "fc1"]]),
    ],
)
def test_load_rejects_malformed_documents(data):
    _load_error(data)


def test_target_port_orders_a_merge_nodes_inputs():
    data = {
        "format": "layercraft",
        "version": 1,
        "nodes": [
            {"id": "a", "type": "Input", "params": {"shape": [2, 4, 4]}},
            {"id": "b", "type": "Input", "params": {"shape": [3, 4, 4]}},
            {"id": "cat", "type": "Concat"},
        ],
        "edges": [
            {"source": "a", "target": "cat", "target_port": 1},
            {"source": "b", "target": "cat", "target_port": 0},
        ],
    }
    arch = Architecture.from_json(data)
    assert arch.inputs_of("cat") == ["b", "a"]
    assert Architecture.from_json(arch.to_json()).inputs_of("cat") == ["b", "a"]


def test_add_node_makes_ids_from_the_type():
    arch = Architecture()
    assert arch.add_node("Conv2d") == "conv1"
    assert arch.add_node("Conv2d") == "conv2"
    assert arch.add_node("Linear") == "fc1"


def test_connect_refuses_cycles_self_loops_and_second_input():
    arch = Architecture()
    a, b = arch.add_node("Identity"), arch.add_node("Identity")
    arch.connect(a, b)
    with pytest.raises(BuilderError, match="cycle"):
        arch.connect(b, a)
    with pytest.raises(BuilderError, match="feed itself"):
        arch.connect(a, a)
    c = arch.add_node("Identity")
    with pytest.raises(BuilderError, match="takes 1 input"):
        arch.connect(c, b)


def test_connect_refuses_an_input_into_input():
    arch = Architecture()
    a, b = arch.add_node("Input"), arch.add_node("Input")
    with pytest.raises(BuilderError, match="no inputs"):
        arch.connect(a, b)


def test_remove_node_drops_its_edges_and_input_slots():
    arch = Architecture.from_json(GOOD)
    arch.remove_node("fc1")
    assert arch.edges == [] and arch.inputs_of("act") == []


def test_disconnect_and_reorder_inputs():
    arch = Architecture()
    a, b, add = arch.add_node("Input"), arch.add_node("Input"), arch.add_node("Add")
    arch.connect(a, add)
    arch.connect(b, add, port=0)
    assert arch.inputs_of(add) == [b, a]
    arch.reorder_inputs(add, [a, b])
    assert arch.inputs_of(add) == [a, b]
    arch.disconnect(a, add)
    assert arch.inputs_of(add) == [b]
    with pytest.raises(BuilderError):
        arch.disconnect(a, add)


def test_set_params_validates_and_changes_nothing_on_error():
    arch = Architecture.from_json(GOOD)
    with pytest.raises(BuilderError) as err:
        arch.set_params("fc1", {"out_features": -3})
    assert (err.value.node, err.value.field) == ("fc1", "out_features")
    assert arch.params_of("fc1")["out_features"] == 3
    arch.update_params("fc1", bias=False)
    assert arch.user_params_of("fc1") == {"out_features": 3, "bias": False}


def test_rename_keeps_edges_and_input_order():
    arch = Architecture.from_json(GOOD)
    arch.rename_node("fc1", "hidden")
    assert arch.node_ids == ["x", "hidden", "act"]
    assert arch.edges == [("x", "hidden"), ("hidden", "act")]
    with pytest.raises(BuilderError):
        arch.rename_node("hidden", "bad name")
    with pytest.raises(BuilderError, match="already exists"):
        arch.rename_node("hidden", "act")


def test_insert_after_moves_outgoing_edges_onto_the_new_node():
    arch = Architecture.from_json(GOOD)
    new = arch.insert_after("fc1", "Dropout", {"p": 0.1})
    assert set(arch.edges) == {("x", "fc1"), ("fc1", new), (new, "act")}


def test_topological_order_and_outputs():
    arch = Architecture.from_json(GOOD)
    assert arch.topological_order() == ["x", "fc1", "act"]
    assert arch.input_nodes() == ["x"] and arch.output_nodes() == ["act"]


def test_node_limit_is_enforced_on_edit_and_load():
    arch = Architecture()
    for i in range(MAX_NODES):
        arch.add_node("Identity", id=f"n{i}")
    with pytest.raises(BuilderError, match=f"at most {MAX_NODES}"):
        arch.add_node("Identity")
    data = {
        "format": "layercraft",
        "version": 1,
        "nodes": [{"id": f"n{i}", "type": "Identity"} for i in range(MAX_NODES + 1)],
        "edges": [],
    }
    assert "limit" in str(_load_error(data))


def test_copy_is_independent():
    arch = Architecture.from_json(GOOD)
    other = arch.copy()
    other.update_params("fc1", out_features=9)
    assert arch.params_of("fc1")["out_features"] == 3


def test_numpy_numbers_from_widgets_are_stored_as_plain_python():
    import numpy as np

    arch = Architecture.from_json(GOOD)
    arch.set_params("fc1", {"out_features": np.int64(5)})
    value = arch.params_of("fc1")["out_features"]
    assert value == 5 and type(value) is int
    json.dumps(arch.to_json())


def test_copy_is_independent_of_the_original():
    arch = Architecture("Copied")
    x = arch.add_node("Input", {"shape": [1, 8, 8]}, id="x")
    conv = arch.add_node("Conv2d", {"out_channels": 4, "kernel_size": [3, 3]}, id="conv2d1")
    flat = arch.add_node("Flatten", id="flatten1", pos=(10.0, 20.0))
    arch.connect(x, conv)
    arch.connect(conv, flat)
    twin = arch.copy()
    assert twin.to_json() == arch.to_json()
    twin.update_params("conv2d1", out_channels=8, kernel_size=[5, 5])
    twin.disconnect("conv2d1", "flatten1")
    twin.layout["direction"] = "RIGHT"
    assert arch.params_of("conv2d1")["out_channels"] == 4
    assert list(arch.params_of("conv2d1")["kernel_size"]) == [3, 3]
    assert arch.inputs_of("flatten1") == ["conv2d1"]
    assert arch.layout.get("direction") != "RIGHT"
