"""The canvas component in Chromium: every edit goes to Python, and the canvas, the autosave
and the generated model agree afterwards."""

from __future__ import annotations

import json
import random
import re
import time
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pytest
from playwright.sync_api import expect

from builder.compile import compile_model
from builder.export import model_source
from builder.graph import Architecture
from builder.shapes import analyse
from components.canvas import edge_id

from .conftest import HOMES, screenshot

pytestmark = pytest.mark.e2e
MOD = "Control"


# ---- helpers ---------------------------------------------------------------------------------


def open_canvas(page, app_url, template: str | None = None):
    page.goto(app_url)
    page.locator(".react-flow__node").first.wait_for(timeout=60_000)
    if template:
        sidebar = page.get_by_test_id("stSidebar")
        sidebar.get_by_test_id("stSelectbox").filter(has_text="Template").click()
        page.get_by_role("option", name=template, exact=True).click()
        sidebar.get_by_role("button", name="Load", exact=True).click()
        page.get_by_text(f"Loaded the template “{template}”").wait_for(timeout=8000)
        page.mouse.move(700, 900)  # no tooltip left over the page
    wait_idle(page)


def wait_idle(page) -> None:
    page.wait_for_timeout(250)
    page.get_by_test_id("stStatusWidget").wait_for(state="hidden")


def node(page, node_id: str):
    return page.locator(f".react-flow__node[data-id='{node_id}']")


def canvas_ids(page) -> tuple[set[str], set[str]]:
    nodes = page.eval_on_selector_all(".react-flow__node", "els => els.map(e => e.dataset.id)")
    edges = page.eval_on_selector_all(".react-flow__edge", "els => els.map(e => e.dataset.id)")
    return set(nodes), set(edges)


def saved(page, app_url) -> dict:
    project = parse_qs(urlparse(page.url).query)["project"][0]
    path = HOMES[app_url] / "projects" / f"{project}.json"
    return json.loads(path.read_text())


def saved_ids(graph: dict) -> tuple[set[str], set[str]]:
    return (
        {n["id"] for n in graph["nodes"]},
        {
            f"{e['source']}->{e['target']}" + (f"-{e['source_port']}" if "source_port" in e else "")
            for e in graph["edges"]
        },
    )


def wait_agreed(page, app_url, until=None, timeout: float = 15) -> dict:
    """Wait until the canvas shows exactly the autosaved graph, and that graph satisfies
    `until` when given; return that graph. `until` names the edit's effect: on a slow machine
    the intent may reach Python after the first idle check, when canvas and file still agree
    on the graph from before the edit."""
    deadline = time.monotonic() + timeout
    while True:
        wait_idle(page)
        graph = saved(page, app_url)
        agreed = canvas_ids(page) == saved_ids(graph)
        if agreed and (until is None or until(graph)):
            return graph
        if time.monotonic() > deadline:
            assert canvas_ids(page) == saved_ids(graph)
            assert until is None or until(graph), (
                f"the edit never reached the saved graph: {saved_ids(graph)}"
            )
        page.wait_for_timeout(200)


def has_node(node_id: str):
    return lambda graph: any(n["id"] == node_id for n in graph["nodes"])


def lacks_node(node_id: str):
    return lambda graph: not has_node(node_id)(graph)


def inputs_of(graph: dict, node_id: str) -> set[str]:
    return {e["source"] for e in graph["edges"] if e["target"] == node_id}


def params_of(graph: dict, node_id: str) -> dict:
    return next(n["params"] for n in graph["nodes"] if n["id"] == node_id)


def node_count(n: int):
    return lambda graph: len(graph["nodes"]) == n


def palette_item(page, layer_type: str):
    search = page.get_by_test_id("stSidebar").get_by_placeholder("conv, norm, lstm…")
    search.fill(layer_type.lower())
    search.press("Enter")
    wait_idle(page)
    item = page.locator(f'[data-layer-type="{layer_type}"]:visible').first
    item.wait_for()
    return item


def drag_handle(page, source, target) -> None:
    a, b = source.bounding_box(), target.bounding_box()
    page.mouse.move(a["x"] + a["width"] / 2, a["y"] + a["height"] / 2)
    page.mouse.down()
    page.mouse.move(b["x"] + b["width"] / 2, b["y"] + b["height"] / 2, steps=12)
    page.mouse.up()


def source_handle(page, node_id: str):
    return page.locator(f".react-flow__handle.source[data-nodeid='{node_id}']")


def target_handle(page, node_id: str, port: int = 0):
    return page.locator(
        f".react-flow__handle.target[data-nodeid='{node_id}'][data-handleid='in{port}']"
    )


def edge_center(page, src: str, dst: str) -> dict:
    box = page.locator(f".react-flow__edge[data-id='{src}->{dst}'] path").first.bounding_box()
    return {"x": box["x"] + box["width"] / 2, "y": box["y"] + box["height"] / 2}


def pane_point(page, client: dict) -> dict:
    box = page.locator(".react-flow__pane").bounding_box()
    return {"x": client["x"] - box["x"], "y": client["y"] - box["y"]}


def reachable_nodes(page) -> list[str]:
    """Nodes whose middle is on screen and not under the minimap or the toolbar."""
    return page.eval_on_selector_all(
        ".react-flow__node",
        """els => els.filter(e => {
            const r = e.getBoundingClientRect();
            const hit = document.elementFromPoint(r.x + r.width / 2, r.y + r.height / 2);
            return hit && hit.closest('.react-flow__node') === e;
        }).map(e => e.dataset.id).sort()""",
    )


def assert_model_matches(graph: dict) -> None:
    """The exported source and the compiled module hold one submodule per layer node."""
    arch = Architecture.from_json(graph)
    source = model_source(arch)
    for node_id in arch.node_ids:
        if arch.type_of(node_id) not in ("Input", "Add", "Concat", "Multiply"):
            assert f"self.{node_id} = " in source
    model = compile_model(arch, source)
    layers = {
        n for n in arch.node_ids if arch.type_of(n) not in ("Input", "Add", "Concat", "Multiply")
    }
    assert {name for name, _ in model.named_children()} == layers


# ---- tests -----------------------------------------------------------------------------------


def test_palette_drag_drops_the_layer_at_the_drop_point(page, app_url):
    open_canvas(page, app_url)
    before = saved(page, app_url)
    palette_item(page, "ReLU").drag_to(
        page.locator(".react-flow__pane"), target_position={"x": 120, "y": 420}
    )
    graph = wait_agreed(page, app_url, until=node_count(len(before["nodes"]) + 1))
    added = [n for n in graph["nodes"] if n["id"] not in saved_ids(before)[0]]
    assert [n["type"] for n in added] == ["ReLU"]
    box = node(page, added[0]["id"]).bounding_box()
    pane = page.locator(".react-flow__pane").bounding_box()
    # Placed centred on the drop point (within the node's size).
    assert abs(box["x"] + box["width"] / 2 - (pane["x"] + 120)) < box["width"] / 2
    assert abs(box["y"] + box["height"] / 2 - (pane["y"] + 420)) < box["height"]


def test_drop_on_an_edge_inserts_the_layer_into_it(page, app_url):
    open_canvas(page, app_url)
    item = palette_item(page, "Dropout")
    # Measured after the palette search's rerun, which may move the canvas.
    at = pane_point(page, edge_center(page, "fc1", "relu1"))
    item.drag_to(page.locator(".react-flow__pane"), target_position=at)
    graph = wait_agreed(page, app_url, until=has_node("dropout1"))
    edges = {(e["source"], e["target"]) for e in graph["edges"]}
    assert ("fc1", "dropout1") in edges and ("dropout1", "relu1") in edges
    assert ("fc1", "relu1") not in edges
    assert_model_matches(graph)


def test_connecting_to_port_two_of_a_concat_sets_the_input_order(page, app_url):
    open_canvas(page, app_url)
    palette_item(page, "Concat").drag_to(
        page.locator(".react-flow__pane"), target_position={"x": 560, "y": 300}
    )
    wait_agreed(page, app_url)
    node(page, "concat1").wait_for()
    assert target_handle(page, "concat1", 2).count() == 1  # two ports and a spare
    drag_handle(page, source_handle(page, "fc2"), target_handle(page, "concat1", 1))
    wait_agreed(page, app_url, until=lambda g: inputs_of(g, "concat1") == {"fc2"})
    drag_handle(page, source_handle(page, "relu1"), target_handle(page, "concat1", 0))
    graph = wait_agreed(page, app_url, until=lambda g: inputs_of(g, "concat1") == {"fc2", "relu1"})
    ports = {e["source"]: e.get("target_port") for e in graph["edges"] if e["target"] == "concat1"}
    assert ports == {"relu1": 0, "fc2": 1}
    node(page, "concat1").filter(has_text="(74,)").wait_for()
    screenshot(page, "canvas_concat_ports")


def test_connecting_from_a_named_output_port_reads_that_output(page, app_url):
    open_canvas(page, app_url, "LSTM text classifier")
    lstm_outputs = page.locator(".react-flow__handle.source[data-nodeid='lstm1']")
    assert lstm_outputs.evaluate_all("hs => hs.map(h => h.dataset.handleid)") == [
        "out",
        "out:h_n",
        "out:c_n",
    ]
    palette_item(page, "Linear").drag_to(
        page.locator(".react-flow__pane"), target_position={"x": 120, "y": 420}
    )
    wait_agreed(page, app_url)
    node(page, "fc2").wait_for()  # a Linear is named fc<n>
    h_n = page.locator(".react-flow__handle.source[data-nodeid='lstm1'][data-handleid='out:h_n']")
    drag_handle(page, h_n, target_handle(page, "fc2"))
    graph = wait_agreed(
        page, app_url, until=lambda g: any(e["target"] == "fc2" for e in g["edges"])
    )
    [edge] = [e for e in graph["edges"] if e["target"] == "fc2"]
    assert edge["source"] == "lstm1" and edge["source_port"] == "h_n"
    page.locator(".react-flow__edge[data-id='lstm1->fc2-h_n']").wait_for()
    assert_model_matches(graph)
    screenshot(page, "canvas_output_ports")


def test_delete_and_backspace_remove_nodes_everywhere(page, app_url):
    open_canvas(page, app_url, "LeNet-5")
    # From the output end, so the graph stays valid and model.py can be generated each time.
    for key, victim in (("Delete", "fc3"), ("Backspace", "relu4")):
        node(page, victim).click()
        page.keyboard.press(key)
        graph = wait_agreed(page, app_url, until=lacks_node(victim))
        assert victim not in saved_ids(graph)[0]
        assert node(page, victim).count() == 0
        assert f"self.{victim}" not in model_source(Architecture.from_json(graph))
        assert_model_matches(graph)
    # A canvas edit reruns only the Build tab; the sidebar's Save still gives the graph now.
    with page.expect_download() as info:
        page.get_by_test_id("stSidebar").get_by_role("button", name="Save").click()
    assert saved_ids(json.loads(Path(info.value.path()).read_text())) == saved_ids(graph)
    # The context menu and the inspector take the same path.
    node(page, "fc2").click(button="right")
    page.locator(".lc-menu").get_by_role("button", name="Delete").click()
    graph = wait_agreed(page, app_url, until=lacks_node("fc2"))
    assert "fc2" not in saved_ids(graph)[0]
    node(page, "relu3").click()
    wait_idle(page)
    page.get_by_role("button", name="Delete", exact=True).click()
    graph = wait_agreed(page, app_url, until=lacks_node("relu3"))
    assert "relu3" not in saved_ids(graph)[0]
    assert_model_matches(graph)
    # The Export tab's model.py is the same code.
    page.get_by_role("tab", name=re.compile("Export")).click()
    with page.expect_download() as info:
        page.get_by_role("button", name=re.compile("model.py")).click()
    text = Path(info.value.path()).read_text()
    assert "self.fc1" in text and "self.fc2" not in text and "self.relu3" not in text
    # So are graph.json here and the sidebar's Save (both serialised on click).
    with page.expect_download() as info:
        page.get_by_role("button", name=re.compile("graph.json")).click()
    assert saved_ids(json.loads(Path(info.value.path()).read_text())) == saved_ids(graph)
    with page.expect_download() as info:
        page.get_by_test_id("stSidebar").get_by_role("button", name="Save").click()
    assert saved_ids(json.loads(Path(info.value.path()).read_text())) == saved_ids(graph)


def test_undo_and_redo_keys(page, app_url):
    open_canvas(page, app_url)
    redo_button = page.get_by_role("button", name="Redo")
    expect(redo_button).to_be_disabled()  # nothing undone yet
    node(page, "relu1").click()
    # Delete only once Python has confirmed the selection, or the key may land mid-redraw.
    page.get_by_text("max(0, x)").wait_for(timeout=15_000)
    wait_idle(page)
    node(page, "relu1").click()
    page.keyboard.press("Delete")
    wait_agreed(page, app_url, until=lacks_node("relu1"))
    page.keyboard.press(f"{MOD}+z")
    wait_agreed(page, app_url, until=has_node("relu1"))
    # The undo reran only the Build tab, and its Redo button (in the tab) is live.
    expect(redo_button).to_be_enabled()
    page.locator(".lc-canvas").focus()
    page.keyboard.press(f"{MOD}+Shift+z")
    wait_agreed(page, app_url, until=lacks_node("relu1"))


def test_copy_and_paste_a_subgraph_with_fresh_ids(page, app_url):
    open_canvas(page, app_url)
    node(page, "fc1").click()
    node(page, "relu1").click(modifiers=["Shift"])
    wait_idle(page)
    page.keyboard.press(f"{MOD}+c")
    page.keyboard.press(f"{MOD}+v")
    graph = wait_agreed(page, app_url, until=has_node("relu2"))
    ids = saved_ids(graph)[0]
    assert {"fc3", "relu2"} <= ids
    edges = {(e["source"], e["target"]) for e in graph["edges"]}
    assert ("fc3", "relu2") in edges
    fc3 = next(n for n in graph["nodes"] if n["id"] == "fc3")
    assert fc3["params"] == {"out_features": 64}


def test_a_refused_cycle_says_why_on_the_canvas(page, app_url):
    open_canvas(page, app_url)
    at = pane_point(page, edge_center(page, "fc1", "relu1"))
    palette_item(page, "Add").drag_to(page.locator(".react-flow__pane"), target_position=at)
    wait_agreed(page, app_url)
    before = saved(page, app_url)
    drag_handle(page, source_handle(page, "relu1"), target_handle(page, "add1", 1))
    message = page.locator(".lc-refusal")
    message.wait_for()
    assert "cycle" in message.inner_text()
    assert saved(page, app_url)["edges"] == before["edges"]
    screenshot(page, "canvas_refused_cycle")


def test_forty_random_intents_keep_canvas_autosave_and_model_in_step(page, app_url):
    rng = random.Random(7)
    open_canvas(page, app_url)
    kinds = ["select", "palette", "drop", "delete", "undo", "redo", "connect", "move", "paste"]
    for step in range(40):
        kind = rng.choice(kinds)
        ids = reachable_nodes(page)
        pick = rng.choice(ids) if ids else None
        if kind == "select" and pick:
            node(page, pick).click()
        elif kind == "palette":
            page.get_by_test_id("stSidebar").get_by_placeholder("conv, norm, lstm…").fill("")
            palette_item(page, rng.choice(["ReLU", "Dropout", "Linear"])).click()
        elif kind == "drop":
            palette_item(page, rng.choice(["ReLU", "Linear"])).drag_to(
                page.locator(".react-flow__pane"),
                target_position={"x": rng.randint(60, 700), "y": rng.randint(60, 600)},
            )
        elif kind == "delete" and pick:
            node(page, pick).click()
            page.keyboard.press(rng.choice(["Delete", "Backspace"]))
        elif kind in ("undo", "redo"):
            page.locator(".lc-canvas").focus()
            page.keyboard.press(f"{MOD}+z" if kind == "undo" else f"{MOD}+Shift+z")
        elif kind == "connect" and len(ids) > 1:
            src, dst = rng.sample(ids, 2)
            target = page.locator(f".react-flow__handle.target[data-nodeid='{dst}']").first
            if source_handle(page, src).count() and target.count():
                drag_handle(page, source_handle(page, src), target)
        elif kind == "move" and pick:
            box = node(page, pick).bounding_box()
            page.mouse.move(box["x"] + 40, box["y"] + 15)
            page.mouse.down()
            page.mouse.move(box["x"] + 40 + rng.randint(-80, 80), box["y"] + 15 + 30, steps=5)
            page.mouse.up()
        elif kind == "paste" and pick:
            node(page, pick).click()
            page.keyboard.press(f"{MOD}+c")
            page.keyboard.press(f"{MOD}+v")
        graph = wait_agreed(page, app_url)
        arch = Architecture.from_json(graph)
        if analyse(arch).ok:
            assert_model_matches(graph)
        assert page.get_by_test_id("stException").count() == 0, f"step {step}: {kind}"


def test_screenshots_of_lenet_and_resnet_are_readable(page, app_url):
    open_canvas(page, app_url, "LeNet-5")
    page.wait_for_timeout(800)
    zoom = page.eval_on_selector(
        ".react-flow__viewport", "e => new DOMMatrix(getComputedStyle(e).transform).a"
    )
    assert zoom >= 0.8  # a readable zoom, even though LeNet-5 is taller than the canvas
    screenshot(page, "canvas_lenet5")
    open_canvas(page, app_url, "Small ResNet")
    page.wait_for_timeout(800)
    screenshot(page, "canvas_resnet")
    # Each shortcut takes a lane beside the layers it skips (a straight run plus curves: an
    # "L" in its path); the edges between neighbours are plain curves.
    laned = page.eval_on_selector_all(
        ".react-flow__edge",
        """els => els.filter(e => / L /.test(
            e.querySelector('path.react-flow__edge-path').getAttribute('d'))).map(e => e.dataset.id)""",
    )
    assert set(laned) == {edge_id("stem_relu", "b1_add"), edge_id("b1_out", "b2_add")}


def test_live_tint_changes_during_a_run_and_edits_mark_the_graph_changed(page, app_url):
    open_canvas(page, app_url)
    page.get_by_role("tab", name=re.compile("Train")).click()
    page.get_by_text("The network fits this dataset.").wait_for()
    epochs = page.get_by_role("spinbutton", name="Epochs")
    epochs.fill("1000")  # stopped below; long enough to watch
    epochs.press("Enter")
    wait_idle(page)
    lr = page.get_by_role("spinbutton", name="Learning rate")
    lr.fill("0.0001")  # slow learning: the gradient norms fall over seconds, not at once
    lr.press("Enter")
    wait_idle(page)
    batch = page.get_by_role("spinbutton", name="Batch size")
    batch.fill("8")  # many steps per epoch: the run outlasts this test even on a fast machine
    batch.press("Enter")
    wait_idle(page)
    page.get_by_role("button", name=re.compile("Train$")).click()
    page.get_by_role("tab", name=re.compile("Build")).click()
    page.locator(".lc-legend").wait_for(timeout=60_000)

    def tint(node_id: str) -> str:
        return node(page, node_id).locator(".lc-node").evaluate("e => e.style.backgroundColor")

    # The scale stays fixed at the first snapshot, so as the gradients fall the colour moves.
    seen = set()
    deadline = time.monotonic() + 60
    while len(seen) < 2 and time.monotonic() < deadline:
        seen.add(tint("fc1"))
        seen.discard("")
        page.wait_for_timeout(100)
    assert len(seen) >= 2, f"the tint never moved during the run: {seen}"
    # Editing during the run is allowed; the canvas says the graph changed since the start.
    node(page, "relu1").click()
    # Delete only once Python has confirmed the selection, or the key may land mid-redraw.
    page.get_by_text("max(0, x)").wait_for(timeout=15_000)
    wait_idle(page)
    node(page, "relu1").click()
    page.keyboard.press("Delete")
    page.locator(".lc-banner").wait_for(timeout=15_000)
    assert "Changed since this run started" in page.locator(".lc-banner").inner_text()
    node(page, "relu1").wait_for(state="detached")
    assert "relu1" not in saved_ids(saved(page, app_url))[0]
    screenshot(page, "canvas_live_tint")
    page.get_by_role("tab", name=re.compile("Train")).click()
    page.get_by_test_id("stTabs").get_by_role("button", name="Stop").click()


def test_one_click_fix_on_the_node(page, app_url):
    open_canvas(page, app_url)
    node(page, "fc2").click()
    wait_idle(page)
    field = page.get_by_role("spinbutton", name="out_features")
    field.fill("3")
    field.press("Enter")
    fix = node(page, "fc2").locator(".lc-fix")
    fix.wait_for(timeout=15_000)
    assert "fit digits" in fix.inner_text()
    screenshot(page, "canvas_fix_button")
    fix.click()
    graph = wait_agreed(page, app_url, until=lambda g: params_of(g, "fc2")["out_features"] == 10)
    fc2 = next(n for n in graph["nodes"] if n["id"] == "fc2")
    assert fc2["params"]["out_features"] == 10
    node(page, "fc2").locator(".lc-fix").wait_for(state="detached")
