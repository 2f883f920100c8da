"""Architecture editing and strict graph JSON v1 loading."""

from __future__ import annotations

import json

import pytest

from builder.errors import BuilderError
from builder.graph import MAX_NODES, Architecture
from builder.shapes import analyse
from tests.conftest import chain


def _graph(nodes, edges, **top):
    return {"format": "layercraft", "version": 1, "name": "g", "nodes": nodes, "edges": edges, **top}


INPUT = {"id": "x", "type": "Input", "params": {"shape": [4]}}
LINEAR = {"id": "fc", "type": "Linear", "params": {"out_features": 2}}


def test_json_round_trip_keeps_nodes_params_positions_and_input_order(lenet_arch):
    arch = Architecture.from_json(json.dumps(lenet_arch.to_json()))
    assert arch.to_json() == lenet_arch.to_json()
    merged = Architecture.load("assets/templates/inception_block.json")
    again = Architecture.from_json(merged.to_json())
    assert again.inputs_of("concat") == merged.inputs_of("concat") == ["b1x1_1", "b3x3_2", "b5x5_2", "bpool_2"]


def test_target_port_orders_inputs_regardless_of_edge_order():
    data = _graph(
        [INPUT, {"id": "y", "type": "Input", "params": {"shape": [4]}}, {"id": "cat", "type": "Concat", "params": {}}],
        [{"source": "x", "target": "cat", "target_port": 1}, {"source": "y", "target": "cat", "target_port": 0}],
    )
    assert Architecture.from_json(data).inputs_of("cat") == ["y", "x"]


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (_graph([INPUT], [], extra=1), "unknown key 'extra'"),
        (_graph([{**INPUT, "colour": "red"}], []), "x: unknown key 'colour'"),
        (_graph([INPUT, {"id": "c", "type": "Conv9d"}], []), "c.type: unknown layer type 'Conv9d'"),
        (_graph([INPUT, {**LINEAR, "params": {"out_features": "2"}}], []), 'fc.out_features: must be a whole number, not "2"'),
        (_graph([INPUT, {**LINEAR, "params": {"out_features": 0}}], []), "fc.out_features: must be at least 1, not 0"),
        (_graph([INPUT, {**LINEAR, "params": {"kernel_size": 3}}], []), "fc.kernel_size: Linear has no parameter 'kernel_size'"),
        (_graph([INPUT, INPUT], []), "x: duplicate node id"),
        (_graph([INPUT], [{"source": "x", "target": "ghost"}]), "edge x -> ghost: edge points to a missing node 'ghost'"),
        (_graph([INPUT, LINEAR, {"id": "fc2", "type": "Linear"}], [{"source": "x", "target": "fc"}, {"source": "fc", "target": "fc2"}, {"source": "fc2", "target": "fc"}]), "fc2 -> fc"),
        (_graph([{"id": "bad id", "type": "Input"}], []), "node id 'bad id' is not a valid name"),
        (_graph([INPUT], [], version=2), "unsupported version"),
        ({"format": "other"}, 'format: not a LayerCraft graph'),
        ([1, 2], "must hold a JSON object"),
    ],
)
def test_strict_loading_names_the_problem(data, expected):
    with pytest.raises(BuilderError) as info:
        Architecture.from_json(data)
    assert expected in str(info.value)


def test_cycle_error_names_edge():
    data = _graph(
        [INPUT, LINEAR, {"id": "fc2", "type": "Linear"}],
        [{"source": "x", "target": "fc"}, {"source": "fc", "target": "fc2"}, {"source": "fc2", "target": "fc"}],
    )
    with pytest.raises(BuilderError) as info:
        Architecture.from_json(data)
    assert info.value.edge == ("fc2", "fc") and "cycle" in info.value.message


def test_invalid_json_text_is_a_builder_error():
    with pytest.raises(BuilderError, match="not valid JSON"):
        Architecture.from_json("{nope")


def test_load_names_the_file(tmp_path):
    path = tmp_path / "broken.json"
    path.write_text("[]")
    with pytest.raises(BuilderError) as info:
        Architecture.load(path)
    assert str(path) in str(info.value)
    with pytest.raises(BuilderError, match="cannot read"):
        Architecture.load(tmp_path / "missing.json")


def test_insert_after_rewires_between_node_and_successor():
    arch = chain((4,), [("Linear", {"out_features": 3})])
    new = arch.insert_after("x", "ReLU")
    assert arch.edges == [("x", new), (new, "fc1")]


def test_remove_node_drops_its_edges_and_rename_keeps_order():
    arch = chain((4,), [("Linear", {}), ("ReLU", {})])
    arch.rename_node("fc1", "hidden")
    assert arch.edges == [("x", "hidden"), ("hidden", "relu1")]
    arch.remove_node("hidden")
    assert arch.edges == [] and arch.node_ids == ["x", "relu1"]


def test_failed_param_update_changes_nothing():
    arch = chain((4,), [("Linear", {"out_features": 3})])
    with pytest.raises(BuilderError):
        arch.update_params("fc1", out_features=-1)
    assert arch.params_of("fc1")["out_features"] == 3


def test_connect_refuses_second_input_to_single_input_layer_and_cycles():
    arch = chain((4,), [("Linear", {}), ("ReLU", {})])
    with pytest.raises(BuilderError, match="takes 1 input"):
        arch.connect("x", "relu1")
    with pytest.raises(BuilderError, match="cycle"):
        arch.connect("relu1", "fc1")


def test_node_limit_is_enforced_with_a_message():
    arch = Architecture()
    for i in range(MAX_NODES):
        arch.graph.add_node(f"n{i}", type="Identity", params={}, inputs=[], pos=None)
    with pytest.raises(BuilderError, match="at most 1000 nodes"):
        arch.add_node("ReLU")


def test_huge_model_is_refused_before_allocation():
    arch = chain((100_000,), [("Linear", {"out_features": 100_000})])
    analysis = analyse(arch)
    assert not analysis.ok and "GiB" in analysis.errors[0].message


@pytest.mark.parametrize(
    ("layers", "fragment"),
    [
        ([("Linear", {}), ("Softmax", {})], "Softmax as the last layer"),
        ([("Linear", {}), ("Linear", {})], "collapse into one linear map"),
        ([("Dropout", {}), ("BatchNorm1d", {})], "Dropout right before BatchNorm"),
        ([("Linear", {"out_features": 60_000_000})], "over 50M"),
    ],
)
def test_common_mistakes_are_warnings_not_errors(layers, fragment):
    analysis = analyse(chain((4,), layers))
    assert analysis.ok
    assert any(fragment in str(w) for w in analysis.warnings)
