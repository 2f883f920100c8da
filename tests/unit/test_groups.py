"""Composite blocks in the graph: the `groups` section, grouping edits and My blocks."""

import json

import pytest

from builder import blocks, groups
from builder.codegen import generate_source
from builder.errors import BuilderError, BuilderErrors
from builder.graph import Architecture
from builder.shapes import analyse
from builder.templates import load_template

BLOCK1 = ["b1_conv1", "b1_bn1", "b1_relu1", "b1_conv2", "b1_bn2", "b1_add", "b1_out"]


@pytest.fixture
def resnet():
    arch = load_template("resnet_small")
    arch.groups = []  # the template's own blocks aside: each test groups what it needs
    return arch


def test_a_residual_block_has_two_entries_and_one_exit(resnet):
    gid = groups.create(resnet, BLOCK1, "Residual block")
    group = groups.get(resnet, gid)
    assert gid == "block1" and group["name"] == "Residual block"
    assert groups.entries(resnet, group) == [("b1_conv1", 0), ("b1_add", 1)]
    assert groups.exits(resnet, group) == ["b1_out"]


def test_groups_round_trip_through_graph_json_and_old_files_load_unchanged(resnet):
    gid = groups.create(resnet, BLOCK1, "Residual block")
    groups.set_collapsed(resnet, gid, True)
    data = resnet.to_json()
    assert data["groups"] == [
        {"id": "block1", "name": "Residual block", "nodes": BLOCK1, "collapsed": True}
    ]
    again = Architecture.from_json(json.dumps(data))
    assert again.groups == resnet.groups
    del data["groups"]
    assert Architecture.from_json(data).groups == []
    assert "groups" not in Architecture.from_json(data).to_json()


def test_grouping_never_changes_the_generated_model(resnet):
    before = generate_source(resnet)
    groups.set_collapsed(resnet, groups.create(resnet, BLOCK1), True)
    assert generate_source(resnet) == before


@pytest.mark.parametrize(
    ("groups_section", "message"),
    [
        ("no", '"groups" must be a list'),
        ([{"id": "block1", "nodes": ["ghost"]}], "no node named 'ghost'"),
        ([{"id": "stem", "nodes": ["x"]}], "already taken"),
        ([{"id": "1bad", "nodes": ["x"]}], "not a valid name"),
        ([{"id": "block1", "nodes": ["x"], "colour": "red"}], "unknown key 'colour'"),
        ([{"id": "block1", "nodes": ["x"], "collapsed": "yes"}], "true or false"),
        ([{"id": "block1", "nodes": ["x"], "name": ""}], "1 to 64 characters"),
        ([{"id": "block1", "nodes": []}], "list of node ids"),
    ],
)
def test_a_bad_groups_section_is_refused_naming_the_group(resnet, groups_section, message):
    data = resnet.to_json()
    data["groups"] = groups_section
    with pytest.raises(BuilderError, match=message):
        Architecture.from_json(data)


def test_every_bad_group_is_reported_and_a_node_is_in_one_block_only(resnet):
    data = resnet.to_json()
    data["groups"] = [
        {"id": "a", "nodes": ["x", "stem"]},
        {"id": "b", "nodes": ["stem"]},
        {"id": "c", "nodes": ["nowhere"]},
    ]
    with pytest.raises(BuilderErrors) as caught:
        Architecture.from_json(data)
    text = str(caught.value)
    assert "stem is in both a and b" in text and "'nowhere'" in text


def test_a_block_a_path_leaves_and_reenters_is_refused(resnet):
    # stem_relu feeds b1_add directly and through b1_conv1: leaving out the branch between
    with pytest.raises(BuilderError, match="b1_conv1 lies between"):
        groups.create(resnet, ["stem_relu", "b1_add"])


def test_blocks_do_not_nest_and_ids_stay_apart_from_node_ids(resnet):
    groups.create(resnet, BLOCK1)
    with pytest.raises(BuilderError, match="already in the block"):
        groups.create(resnet, ["b1_out", "b2_conv1"])
    with pytest.raises(BuilderError, match="a block named 'block1' already exists"):
        resnet.rename_node("fc", "block1")
    assert resnet.add_node("Linear", {"out_features": 2}, pos=(0, 0)) == "fc1"


def test_deleting_and_renaming_members_keep_the_block_in_step(resnet):
    gid = groups.create(resnet, ["b2_conv1", "b2_bn1"])
    resnet.rename_node("b2_conv1", "first")
    assert groups.get(resnet, gid)["nodes"] == ["first", "b2_bn1"]
    resnet.remove_node("first")
    resnet.remove_node("b2_bn1")
    assert groups.find(resnet, gid) is None
    Architecture.from_json(resnet.to_json())  # still loads


def test_moving_a_block_moves_its_layers_together(resnet):
    gid = groups.create(resnet, ["b2_conv1", "b2_bn1"])
    resnet.set_pos("b2_conv1", (10, 20))
    resnet.set_pos("b2_bn1", (10, 120))
    groups.shift(resnet, gid, (110, 0))
    assert resnet.pos_of("b2_conv1") == (110, 0) and resnet.pos_of("b2_bn1") == (110, 100)


def test_a_saved_block_is_inserted_with_fresh_ids_and_its_own_wiring(resnet, tmp_path):
    gid = groups.create(resnet, BLOCK1, "Residual block")
    saved = blocks.save_block(resnet, gid, home=tmp_path)
    assert saved.slug == "residual_block" and saved.layers == 7
    assert (tmp_path / "blocks" / "residual_block.json").exists()
    assert blocks.list_blocks(tmp_path) == [saved]

    block = blocks.load_block("residual_block", home=tmp_path)
    new_gid = blocks.insert_block(resnet, block, at=(500, 500))
    members = groups.get(resnet, new_gid)["nodes"]
    assert len(members) == 7 and not set(members) & set(BLOCK1)
    assert groups.corner(resnet, members) == (500, 500)
    add = next(n for n in members if resnet.type_of(n) == "Add")
    assert len(resnet.inputs_of(add)) == 1  # the skip came from outside the block
    first = next(n for n in members if n.startswith("b1_conv"))
    assert groups.open_entries(resnet, groups.get(resnet, new_gid)) == [(first, 0), (add, 1)]


def test_a_block_inserted_after_a_layer_is_wired_in_with_its_skip(resnet, tmp_path):
    gid = groups.create(resnet, BLOCK1, "Residual block")
    blocks.save_block(resnet, gid, home=tmp_path)
    block = blocks.load_block("residual_block", home=tmp_path)
    new_gid = blocks.insert_block_after(resnet, block, "b2_out")
    members = groups.get(resnet, new_gid)["nodes"]
    exit_id = groups.exits(resnet, groups.get(resnet, new_gid))[0]
    add = next(n for n in members if resnet.type_of(n) == "Add")
    assert "b2_out" in resnet.inputs_of(add) and resnet.inputs_of("gap") == [exit_id]
    assert analyse(resnet).ok


def test_a_saved_block_file_is_checked_like_any_graph_file(tmp_path):
    folder = tmp_path / "blocks"
    folder.mkdir()
    (folder / "evil.json").write_text('{"format": "layercraft", "version": 1, "nodes": 3}')
    assert blocks.list_blocks(tmp_path) == []
    with pytest.raises(BuilderError) as caught:
        blocks.load_block("evil", home=tmp_path)
    assert caught.value.file.endswith("evil.json")
    with pytest.raises(BuilderError, match="no saved block"):
        blocks.load_block("../evil", home=tmp_path)
