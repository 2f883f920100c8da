"""Composite blocks in the page: what the canvas is sent, the intents, the inspector, My blocks."""

from __future__ import annotations

import json
from pathlib import Path

from streamlit.testing.v1 import AppTest

from builder import groups
from builder.shapes import analyse
from builder.templates import load_template
from components.canvas import canvas_payload
from components.canvas_intents import apply_intent

APP = Path(__file__).resolve().parents[2] / "app.py"
BLOCK1 = ["b1_conv1", "b1_bn1", "b1_relu1", "b1_conv2", "b1_bn2", "b1_add", "b1_out"]


def resnet(collapsed: bool = False):
    arch = load_template("resnet_small")
    groups.set_collapsed(arch, "block1", collapsed)
    return arch


def payload(arch):
    return canvas_payload(arch, analyse(arch), rev=1)


def test_a_collapsed_block_is_one_node_with_its_ports_and_total_params():
    data = payload(resnet(collapsed=True))
    ids = {n["id"] for n in data["nodes"]}
    assert "block1" in ids and not ids & set(BLOCK1)
    block = next(n for n in data["nodes"] if n["id"] == "block1")
    assert block["block"] == {"name": "Residual block 1", "layers": 7}
    assert [p["id"] for p in block["ports"]] == ["in0", "in1"]
    assert block["shape"] == "(16, 8, 8)" and block["param_count"] == "4.7k"
    # The two edges in land on the block's two ports; the edge out leaves it; none inside.
    into = sorted((e["source"], e["target_port"]) for e in data["edges"] if e["target"] == "block1")
    assert into == [("stem_relu", 0), ("stem_relu", 1)]
    out = next(e for e in data["edges"] if e["source"] == "block1")
    assert out["ends"] == {"source": "b1_out", "target": "b2_conv1", "port": 0, "source_port": None}
    assert not any(e["source"] in BLOCK1 or e["target"] in BLOCK1 for e in data["edges"])


def test_an_expanded_block_is_sent_as_a_frame_over_its_layers():
    data = payload(resnet())
    assert {"b1_conv1", "b1_out"} <= {n["id"] for n in data["nodes"]}
    frame = data["groups"][0]
    assert frame["id"] == "block1" and not frame["collapsed"] and frame["nodes"] == BLOCK1


def test_group_collapse_move_and_delete_intents_act_on_the_real_layers():
    arch = load_template("resnet_small")
    arch.groups = []
    grouped = apply_intent(arch, {"kind": "group", "nodes": BLOCK1}, [])
    assert grouped.arch.groups[0]["nodes"] == BLOCK1 and grouped.selected == BLOCK1
    folded = apply_intent(
        grouped.arch, {"kind": "collapse", "group": "block1", "collapsed": True}, []
    )
    assert folded.relayout and folded.selected == ["block1"]
    corner = groups.anchor(folded.arch, folded.arch.groups[0])
    moved = apply_intent(
        folded.arch, {"kind": "move", "positions": {"block1": [corner[0] + 50, corner[1]]}}, []
    )
    old, new = folded.arch.pos_of("b1_bn1"), moved.arch.pos_of("b1_bn1")
    assert (new[0] - old[0], new[1] - old[1]) == (50, 0)
    # A wire to a collapsed block's port reaches the layer behind it.
    cut = apply_intent(
        moved.arch,
        {"kind": "delete", "nodes": [], "edges": [{"source": "stem_relu", "target": "b1_conv1"}]},
        [],
    )
    rewired = apply_intent(
        cut.arch, {"kind": "connect", "source": "stem_relu", "target": "block1", "port": 0}, []
    )
    taken = apply_intent(
        cut.arch, {"kind": "connect", "source": "stem_relu", "target": "block1", "port": 1}, []
    )
    assert "already connected" in str(taken.refusal)  # port 1: the skip into b1_add
    assert rewired.refusal is None and rewired.arch.inputs_of("b1_conv1") == ["stem_relu"]
    gone = apply_intent(rewired.arch, {"kind": "delete", "nodes": ["block1"], "edges": []}, [])
    assert not set(BLOCK1) & set(gone.arch.node_ids) and gone.arch.groups == []


def test_a_block_that_would_feed_itself_is_refused_on_the_canvas():
    arch = load_template("resnet_small")
    arch.groups = []
    result = apply_intent(arch, {"kind": "group", "nodes": ["stem_relu", "b1_add"]}, [])
    assert result.refusal is not None and "b1_conv1 lies between" in str(result.refusal)
    assert result.arch is arch


def _start(home) -> AppTest:
    at = AppTest.from_file(str(APP), default_timeout=60).run()
    at.sidebar.selectbox(key="template_pick").set_value("resnet_small")
    at.sidebar.button(key="load_template").click().run()
    return at


def test_the_inspector_names_collapses_and_saves_a_block_to_my_blocks(home):
    at = _start(home)
    at.session_state["canvas_selection"] = BLOCK1
    at.session_state["selected"] = BLOCK1[0]
    at.run()
    at.text_input(key="block_name_block1").set_value("Skip block").run()
    assert at.session_state["arch"].groups[0]["name"] == "Skip block"
    at.button(key="block_fold").click().run()
    assert at.session_state["arch"].groups[0]["collapsed"]
    at.button(key="block_save").click().run()
    assert not at.exception
    saved = json.loads((home / "blocks" / "skip_block.json").read_text())
    assert saved["name"] == "Skip block" and len(saved["nodes"]) == 7
    assert any("Saved 'Skip block' to My blocks" in m.value for m in at.success)
    # The palette lists it; a click with nothing selected places it unconnected.
    at.session_state["selected"] = None
    at.run()
    at.sidebar.button(key="block_skip_block").click().run()
    arch = at.session_state["arch"]
    assert len(arch.groups) == 3 and arch.groups[2]["name"] == "Skip block"
    assert len(arch) == 20 + 7


def test_several_selected_layers_are_offered_as_a_block(home):
    at = _start(home)
    at.session_state["canvas_selection"] = ["gap", "flatten"]
    at.session_state["selected"] = "gap"
    at.run()
    at.button(key="group_selection").click().run()
    arch = at.session_state["arch"]
    assert arch.groups[2]["nodes"] == ["gap", "flatten"]
    assert at.text_input(key="block_name_block3").value == "Block 3"


def test_a_chain_block_can_be_searched_repeated_and_a_residual_one_is_refused(home):
    at = AppTest.from_file(str(APP), default_timeout=60).run()
    at.session_state["canvas_selection"] = ["fc1", "relu1"]
    at.session_state["selected"] = "fc1"
    at.run()
    at.button(key="group_selection").click().run()
    at.toggle(key="repeat_on_block1").set_value(True).run()
    at.number_input(key="repeat_max_block1").set_value(4).run()
    search = at.session_state["arch"].search
    assert search["repeat"]["block1"] == {"nodes": ["fc1", "relu1"], "min": 1, "max": 4}
    # A residual block branches, so it cannot repeat as a chain: said plainly, nothing lost.
    at = _start(home)
    at.session_state["canvas_selection"] = BLOCK1
    at.session_state["selected"] = BLOCK1[0]
    at.run()
    at.toggle(key="repeat_on_block1").set_value(True).run()
    assert not at.exception
    assert any("must be a chain" in m.value for m in at.error)
    assert at.session_state["arch"].search is None
    assert not at.toggle(key="repeat_on_block1").value


def test_a_copied_folded_block_pastes_back_as_a_folded_block_of_fresh_layers():
    arch = resnet(collapsed=True)
    block = next(n for n in payload(arch)["nodes"] if n["id"] == "block1")
    clip = block["clip"]
    assert [n["id"] for n in clip["nodes"]] == BLOCK1
    assert {"source": "b1_bn2", "target": "b1_add", "port": 0} in clip["edges"]
    intent = {
        "kind": "paste",
        **clip,
        "groups": [{"name": "Residual block 1", "nodes": BLOCK1, "collapsed": True}],
    }
    pasted = apply_intent(arch, intent, [])
    assert pasted.refusal is None
    new = pasted.arch.groups[-1]
    assert new["collapsed"] and new["name"] == "Residual block 1" and len(new["nodes"]) == 7
    assert not set(new["nodes"]) & set(BLOCK1)
    assert pasted.selected == [new["id"]]


def test_the_canvas_marks_searched_and_frozen_layers():
    arch = load_template("search_digits")
    searched = {n["id"] for n in payload(arch)["nodes"] if n["searched"]}
    assert searched and searched <= set(arch.node_ids)
    frozen_id = next(n for n in arch.node_ids if arch.type_of(n) == "Linear")
    arch.set_trainable(frozen_id, False)
    frozen = {n["id"] for n in payload(arch)["nodes"] if n["frozen"]}
    assert frozen == {frozen_id}
