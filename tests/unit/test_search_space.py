"""The search section of graph JSON: strict checks, apply_trial, and edits that keep it valid."""

from __future__ import annotations

import itertools
import json

import pytest

from builder.compile import compile_model
from builder.errors import BuilderError
from builder.graph import Architecture
from builder.search import apply_trial, parse_space, searched_nodes, space_of
from builder.search.edit import mark_param, mark_train, unmark_param
from builder.shapes import analyse
from builder.templates import TEMPLATE_DIR, load_template
from builder.training import TrainConfig


def mlp_with_search(search):
    data = json.loads((TEMPLATE_DIR / "mlp_digits.json").read_text())
    data["search"] = search
    return data


def test_graph_without_search_section_loads_and_saves_unchanged():
    data = json.loads((TEMPLATE_DIR / "mlp_digits.json").read_text())
    arch = Architecture.from_json(data)
    assert arch.search is None and "search" not in arch.to_json()
    assert not space_of(arch)


def test_search_template_round_trips_with_every_kind_of_dimension():
    arch = load_template("search_digits")
    names = {dim.name for dim in space_of(arch).dims}
    assert {"conv1.out_channels", "drop1.p", "act1.type", "bn1.use", "deep.repeat", "lr"} <= names
    assert Architecture.from_json(arch.to_json()).to_json() == arch.to_json()
    assert searched_nodes(arch) == {"conv1", "conv2", "drop1", "act1", "act2", "pool1", "bn1"}


@pytest.mark.parametrize(
    ("search", "where", "words"),
    [
        (
            {"params": {"fc1": {"out_features": {"low": 64, "high": 8}}}},
            "fc1.out_features",
            "empty",
        ),
        (
            {"params": {"fc1": {"out_features": {"low": 0, "high": 8}}}},
            "fc1.out_features",
            "at least 1",
        ),
        (
            {"params": {"fc1": {"out_features": {"low": 1.5, "high": 8}}}},
            "fc1.out_features",
            "whole",
        ),
        ({"params": {"fc1": {"bogus": {"low": 1, "high": 8}}}}, "fc1.bogus", "no parameter"),
        (
            {"params": {"fc9": {"out_features": {"low": 1, "high": 8}}}},
            "search.params",
            "missing node",
        ),
        (
            {"train": {"weight_decay": {"low": 0.0, "high": 0.1, "log": True}}},
            "train.weight_decay",
            "above 0",
        ),
        ({"train": {"optimizer": {"choices": ["adam", "lbfgs"]}}}, "train.optimizer", "lbfgs"),
        ({"train": {"seed": {"low": 1, "high": 3}}}, "train.seed", "cannot be searched"),
        ({"types": {"relu1": ["ReLU", "Add"]}}, "relu1.type", "input"),
        ({"types": {"relu1": ["ReLU", "Nope"]}}, "relu1.type", "unknown layer type"),
        ({"types": {"x": ["Input", "ReLU"]}}, "x.type", "cannot change"),
        ({"optional": ["fc2"]}, "fc2.optional", "output node"),
        ({"repeat": {"b": {"nodes": ["fc1", "fc2"], "max": 3}}}, "repeat.b", "chain"),
        ({"repeat": {"b": {"nodes": ["fc1", "relu1"], "min": 3, "max": 2}}}, "repeat.b", "empty"),
        ({"metric": "f1"}, "search.metric", "unknown metric"),
        ({"surprise": 1}, None, "unknown key"),
    ],
)
def test_bad_search_section_is_a_builder_error_naming_where(search, where, words):
    with pytest.raises(BuilderError) as info:
        Architecture.from_json(mlp_with_search(search))
    assert info.value.where == where if where else True
    assert words in str(info.value)


def test_apply_trial_swaps_types_sets_values_repeats_blocks_and_skips_optional_nodes():
    arch = load_template("search_digits")
    params = {
        "conv1.out_channels": 12,
        "act1.type": "GELU",
        "act2.type": "SiLU",
        "pool1.type": "AvgPool2d",
        "bn1.use": False,
        "deep.repeat": 3,
        "drop1.p": 0.25,
        "lr": 0.005,
    }
    before = arch.to_json()
    trial, config = apply_trial(arch, TrainConfig(epochs=2), params)
    assert arch.to_json() == before  # the searched graph itself is untouched
    assert config.lr == 0.005 and config.epochs == 2
    assert "bn1" not in trial and trial.inputs_of("act1") == ["conv1"]
    assert trial.type_of("act1") == "GELU" and trial.type_of("pool1") == "AvgPool2d"
    chain = ["conv2", "act2", "conv2_r2", "act2_r2", "conv2_r3", "act2_r3", "pool1"]
    for prev, node in itertools.pairwise(chain):
        assert trial.inputs_of(node) == [prev]
    assert trial.type_of("act2_r3") == "SiLU"
    assert trial.params_of("drop1")["p"] == 0.25 and trial.search is None
    assert analyse(trial).ok
    compile_model(trial)


def test_apply_trial_of_one_repeat_and_kept_node_is_the_graph_itself():
    arch = load_template("search_digits")
    trial, _ = apply_trial(arch, TrainConfig(), {"deep.repeat": 1, "bn1.use": True})
    assert trial.node_ids == arch.node_ids


def test_deleting_or_renaming_a_searched_node_keeps_the_file_loadable():
    arch = load_template("search_digits")
    arch.remove_node("drop1")
    arch.rename_node("conv1", "stem")
    data = arch.to_json()
    assert "drop1" not in json.dumps(data["search"])
    assert "stem" in data["search"]["params"]
    Architecture.from_json(data)


def test_marking_a_param_checks_it_first_and_changes_nothing_on_error():
    arch = load_template("mlp_digits")
    mark_param(arch, "fc1", "out_features", {"low": 16, "high": 128, "log": True})
    mark_train(arch, "lr", {"low": 1e-4, "high": 1e-1, "log": True})
    saved = arch.to_json()
    with pytest.raises(BuilderError, match="empty"):
        mark_param(arch, "fc1", "out_features", {"low": 128, "high": 16})
    assert arch.to_json() == saved
    unmark_param(arch, "fc1", "out_features")
    mark_train(arch, "lr", None)
    assert arch.search is None


def test_grid_needs_a_step_for_float_ranges():
    arch = Architecture.from_json(
        mlp_with_search({"params": {"fc1": {"out_features": {"choices": [8, 16]}}}})
    )
    assert space_of(arch).grid() == {"fc1.out_features": [8, 16]}
    space = parse_space(arch, {"train": {"lr": {"low": 1e-3, "high": 1e-2}}})
    with pytest.raises(BuilderError, match="step"):
        space.grid()
    space = parse_space(arch, {"train": {"lr": {"low": 0.01, "high": 0.03, "step": 0.01}}})
    assert space.grid() == {"lr": [0.01, 0.02, 0.03]}


def test_diagram_marks_searched_nodes_with_a_dashed_border():
    from builder.diagram import render_dot

    dot = render_dot(load_template("search_digits"))
    act1 = next(line for line in dot.splitlines() if line.strip().startswith("act1 ["))
    fc1 = next(line for line in dot.splitlines() if line.strip().startswith("fc1 ["))
    assert "dashed" in act1 and "searched" in act1
    assert "dashed" not in fc1


def test_apply_best_writes_values_and_settles_structure_keeping_value_searches():
    from builder.search.apply import apply_best

    arch = load_template("search_digits")
    params = {"conv1.out_channels": 12, "act1.type": "GELU", "bn1.use": False, "deep.repeat": 2}
    best = apply_best(arch, params)
    assert best.params_of("conv1")["out_channels"] == 12 and best.type_of("act1") == "GELU"
    assert "bn1" not in best and "conv2_r2" in best and best.pos_of("conv2_r2") is not None
    assert "repeat" not in best.search and "optional" not in best.search
    assert "conv1" in best.search["params"]
    Architecture.from_json(best.to_json())
