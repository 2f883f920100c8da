"""Composite blocks in Chromium: group, collapse, expand, save to My blocks and reuse."""

from __future__ import annotations

import re
import struct
from pathlib import Path
from xml.etree import ElementTree

import pytest

from builder.export import model_source
from builder.graph import Architecture

from .conftest import HOMES, SCREENSHOTS, screenshot
from .test_canvas import (
    MOD,
    assert_model_matches,
    node,
    open_canvas,
    saved,
    saved_ids,
    wait_agreed,
    wait_idle,
)

pytestmark = pytest.mark.e2e


def wait_saved(page, app_url, check, timeout_ms: int = 15_000) -> dict:
    """The autosave once `check(graph)` holds (the canvas's edit went through Python)."""
    for _ in range(timeout_ms // 200):
        wait_idle(page)
        graph = saved(page, app_url)
        if check(graph):
            return graph
        page.wait_for_timeout(200)
    raise AssertionError(f"the autosave never satisfied the check: {graph.get('groups')}")


def test_group_collapse_and_expand_a_block(page, app_url):
    open_canvas(page, app_url)
    code_before = model_source(Architecture.from_json(saved(page, app_url)))
    node(page, "fc1").click()
    node(page, "relu1").click(modifiers=["Shift"])
    wait_idle(page)
    page.keyboard.press(f"{MOD}+g")
    graph = wait_saved(page, app_url, lambda g: g.get("groups"))
    assert graph["groups"] == [
        {"id": "block1", "name": "Block 1", "nodes": ["fc1", "relu1"], "collapsed": False}
    ]
    frame = page.locator(".lc-frame[data-group='block1']")
    frame.wait_for()
    assert "Block 1" in frame.inner_text() and "2 layers" in frame.inner_text()

    # Name it in the inspector (the new block is selected), then fold it into one node.
    name = page.get_by_role("textbox", name="Block name")
    name.fill("Hidden layer")
    name.press("Enter")
    wait_saved(page, app_url, lambda g: g["groups"][0]["name"] == "Hidden layer")
    frame.get_by_role("button", name="Collapse").click()
    graph = wait_saved(page, app_url, lambda g: g["groups"][0]["collapsed"])
    block = node(page, "block1")
    block.wait_for()
    assert node(page, "fc1").count() == 0 and node(page, "relu1").count() == 0
    assert "Hidden layer" in block.inner_text() and "2 layers" in block.inner_text()
    assert "params" in block.inner_text()
    # Edges into and out of the block land on its ports; the model stays flat and unchanged.
    edges = page.eval_on_selector_all(".react-flow__edge", "els => els.map(e => e.dataset.id)")
    assert {"flatten1->fc1", "relu1->fc2"} <= set(edges) and "fc1->relu1" not in edges
    assert model_source(Architecture.from_json(graph)) == code_before
    assert_model_matches(graph)
    screenshot(page, "canvas_block_collapsed")

    # Copy and paste the folded block: a second folded block of fresh layers.
    block.click()
    wait_idle(page)
    page.keyboard.press(f"{MOD}+c")
    page.keyboard.press(f"{MOD}+v")
    graph = wait_saved(page, app_url, lambda g: len(g.get("groups", [])) == 2)
    copy = graph["groups"][1]
    assert copy["collapsed"] and copy["name"] == "Hidden layer"
    assert len(copy["nodes"]) == 2 and not {"fc1", "relu1"} & set(copy["nodes"])
    node(page, copy["id"]).wait_for()
    page.keyboard.press(f"{MOD}+z")
    wait_saved(page, app_url, lambda g: len(g.get("groups", [])) == 1)

    block.get_by_role("button", name="Expand").click()
    wait_saved(page, app_url, lambda g: not g["groups"][0]["collapsed"])
    node(page, "fc1").wait_for()
    assert node(page, "block1").count() == 0
    wait_agreed(page, app_url)


def test_a_block_saved_to_my_blocks_is_dropped_back_with_fresh_ids(page, app_url):
    open_canvas(page, app_url, "Small ResNet")
    screenshot(page, "canvas_resnet_blocks")
    page.locator(".lc-frame[data-group='block1']").wait_for()
    # Select the block through its frame's layer, then save it from the inspector.
    node(page, "b1_conv1").click()
    wait_idle(page)
    page.keyboard.press("Escape")
    page.locator(".lc-canvas").focus()
    before = saved(page, app_url)
    # The template's block is selected by collapsing it (the block's node), then saved.
    page.locator(".lc-frame[data-group='block1']").get_by_role("button", name="Collapse").click()
    wait_saved(page, app_url, lambda g: g["groups"][0]["collapsed"])
    node(page, "block1").click()
    wait_idle(page)
    page.get_by_role("button", name="Save to My blocks").click()
    page.get_by_text("Saved 'Residual block 1' to My blocks (7 layers).").wait_for()
    assert (HOMES[app_url] / "blocks" / "residual_block_1.json").exists()

    item = page.locator("[data-block='residual_block_1']")
    item.wait_for()
    # Only My blocks items are draggable blocks: the inspector's own buttons (keyed
    # block_save, block_fold ...) share the key prefix but are not saved blocks.
    assert page.locator("[data-block]").count() == 1
    assert page.get_by_role("button", name="Save to My blocks").get_attribute("draggable") != "true"
    item.drag_to(page.locator(".react-flow__pane"), target_position={"x": 620, "y": 160})
    graph = wait_saved(page, app_url, lambda g: len(g["groups"]) == 3)
    new = graph["groups"][2]
    assert new["name"] == "Residual block 1" and len(new["nodes"]) == 7
    assert not set(new["nodes"]) & set(saved_ids(before)[0])
    page.locator(f".lc-frame[data-group='{new['id']}']").wait_for()
    wait_idle(page)  # the drop's rerun done, so the undo is not raced by its render
    page.locator(".lc-canvas").focus()
    page.keyboard.press(f"{MOD}+z")
    wait_saved(page, app_url, lambda g: len(g["groups"]) == 2)

    # A click inserts the block after the selected layer, wired in: the model stays valid.
    page.locator(".lc-frame[data-group='block2']").get_by_role("button", name="Collapse").click()
    wait_saved(page, app_url, lambda g: g["groups"][1]["collapsed"])
    node(page, "block2").click()
    wait_idle(page)
    item.click()
    graph = wait_saved(page, app_url, lambda g: len(g["groups"]) == 3)
    new = graph["groups"][2]
    first = next(n for n in new["nodes"] if n.startswith("b1_conv"))
    assert {"source": "b2_out", "target": first} in graph["edges"]
    assert_model_matches(graph)
    screenshot(page, "canvas_block_inserted")

    # Deleting a collapsed block removes its layers from the model too. The click's selection
    # must have come back from Python (the inspector shows the block) before the key: under
    # load, a render of the insert just before could otherwise still be on its way.
    node(page, "block1").click()
    wait_idle(page)
    page.get_by_role("button", name="Delete block").wait_for()
    node(page, "block1").click()
    page.keyboard.press("Delete")
    graph = wait_saved(page, app_url, lambda g: len(g["groups"]) == 2)
    assert "b1_conv1" not in saved_ids(graph)[0]
    page.get_by_role("tab", name=re.compile("Export")).click()
    assert page.get_by_test_id("stException").count() == 0


def test_the_svg_and_png_downloads_draw_every_layer_and_each_expanded_blocks_frame(page, app_url):
    open_canvas(page, app_url, "Small ResNet")
    graph = saved(page, app_url)
    toolbar = page.locator(".lc-canvas")
    with page.expect_download() as info:
        toolbar.get_by_role("button", name="SVG", exact=True).click()
    svg = Path(info.value.path()).read_text()
    root = ElementTree.fromstring(svg)  # well-formed, standalone
    text = " ".join("".join(t.itertext()) for t in root.iter("{http://www.w3.org/2000/svg}text"))
    for n in graph["nodes"]:
        assert n["id"] in text
    for group in graph["groups"]:
        assert f"▣ {group['name']}" in text and f"{len(group['nodes'])} layers" in text
    frames = [r for r in root.iter("{http://www.w3.org/2000/svg}rect") if r.get("stroke-dasharray")]
    assert len(frames) == len(graph["groups"])
    # Every frame lies inside the drawing, its label included.
    width, height = float(root.get("width")), float(root.get("height"))
    for r in frames:
        assert float(r.get("y")) >= 20 and float(r.get("x")) >= 0
        assert float(r.get("x")) + float(r.get("width")) <= width
        assert float(r.get("y")) + float(r.get("height")) <= height
    (SCREENSHOTS / "canvas_resnet_export.svg").write_text(svg)

    with page.expect_download() as info:
        toolbar.get_by_role("button", name="PNG", exact=True).click()
    png = Path(info.value.path()).read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    png_width, png_height = struct.unpack(">II", png[16:24])
    assert (png_width, png_height) == (2 * int(width), 2 * int(height))  # twice, for slides
