"""The app in a real browser: load, edit, wire, train and export, as a new user would."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from .conftest import screenshot

pytestmark = pytest.mark.e2e


def open_app(page, app_url):
    """The canvas is our own component, in the page itself (no iframe)."""
    page.goto(app_url)
    page.locator(".react-flow__node").first.wait_for(timeout=60_000)
    return page


def load_template(page, name: str) -> None:
    sidebar = page.get_by_test_id("stSidebar")
    sidebar.get_by_test_id("stSelectbox").filter(has_text="Template").click()
    page.get_by_role("option", name=name, exact=True).click()
    sidebar.get_by_role("button", name="Load", exact=True).click()
    page.get_by_text(f"Loaded the template “{name}”").wait_for(timeout=8000)
    page.mouse.move(700, 900)  # no Load tooltip left over the page's screenshots


def wait_idle(page) -> None:
    """Let the script run the last action started finish before the next action."""
    page.wait_for_timeout(300)
    page.get_by_test_id("stStatusWidget").wait_for(state="hidden")


def node(frame, node_id: str):
    return frame.locator(f".react-flow__node[data-id='{node_id}']")


def drag(page, source, target) -> None:
    """Mouse-drag from one handle to another in small steps, as a person would."""
    a, b = source.bounding_box(), target.bounding_box()
    page.mouse.move(a["x"] + a["width"] / 2, a["y"] + a["height"] / 2)
    page.mouse.down()
    page.mouse.move(b["x"] + b["width"] / 2, b["y"] + b["height"] / 2, steps=15)
    page.mouse.up()


def test_lenet_template_edit_a_parameter_and_wire_a_new_layer(page, app_url):
    frame = open_app(page, app_url)
    load_template(page, "LeNet-5")
    for node_id in ("x", "conv1", "pool1", "conv2", "fc1", "fc3"):
        node(frame, node_id).wait_for()
    assert "(6, 28, 28)" in node(frame, "conv1").inner_text()
    assert page.get_by_text("61,706").first.is_visible()  # the summary's total
    # The canvas lays the template out on arrival (a move sent to Python, then the page's
    # catch-up rerun); that is no edit of the user's, so the notice stays.
    wait_idle(page)
    page.wait_for_timeout(800)
    wait_idle(page)
    assert page.get_by_text("Loaded the template “LeNet-5”").is_visible()
    screenshot(page, "lenet_template")

    # Select conv1, change out_channels: shapes and counts downstream update at once.
    node(frame, "conv1").click()
    field = page.get_by_role("spinbutton", name="out_channels")
    field.fill("8")
    field.press("Enter")
    frame.locator(".react-flow__node[data-id='conv1']", has_text="(8, 28, 28)").wait_for()
    frame.locator(".react-flow__node[data-id='pool1']", has_text="(8, 14, 14)").wait_for()
    frame.locator(".react-flow__edge-text", has_text="(8, 28, 28)").first.wait_for()
    page.get_by_role("tab", name=re.compile("Build")).scroll_into_view_if_needed()
    screenshot(page, "edit_parameter")

    # Nothing selected: the palette places the layer unconnected; wire it by dragging.
    wait_idle(page)
    page.locator(".react-flow__pane").click(position={"x": 20, "y": 300})  # deselects
    page.get_by_text("Select a node to edit its parameters").wait_for()  # Python has it
    sidebar = page.get_by_test_id("stSidebar")
    search = sidebar.get_by_placeholder("conv, norm, lstm…")
    search.fill("dropout")
    search.press("Enter")
    wait_idle(page)
    sidebar.get_by_role("button", name="Dropout", exact=True).click()
    new_node = node(frame, "dropout1")
    new_node.wait_for()
    assert "needs an input" in new_node.inner_text()
    for _ in range(6):  # LeNet-5 is taller than the canvas at a readable zoom: zoom out
        page.locator(".react-flow__controls-zoomout").click()
    source = frame.locator(".react-flow__handle.source[data-nodeid='fc3']")
    drag(page, source, frame.locator(".react-flow__handle.target[data-nodeid='dropout1']"))
    frame.locator(".react-flow__node[data-id='dropout1']", has_text="(10,)").wait_for()
    assert "needs an input" not in new_node.inner_text()
    assert "p=" not in new_node.inner_text()  # the inspector never rewrites untouched params
    page.get_by_role("tab", name=re.compile("Build")).scroll_into_view_if_needed()
    screenshot(page, "wired_by_dragging")

    # Delete it again from its context menu: the graph (not just the picture) loses it.
    wait_idle(page)
    new_node.click(button="right")
    frame.locator(".lc-menu").get_by_role("button", name="Delete").click()
    page.get_by_text("Select a node to edit its parameters").wait_for()
    new_node.wait_for(state="detached")  # the canvas redraws once Python confirms the delete
    assert frame.locator(".react-flow__node").count() == 13


def test_train_digits_mlp_then_download_and_run_model_py(page, app_url, tmp_path):
    frame = open_app(page, app_url)
    load_template(page, "MLP digits")
    node(frame, "fc2").wait_for()
    page.get_by_role("tab", name=re.compile("Train")).click()
    page.get_by_text("The network fits this dataset.").wait_for()
    epochs = page.get_by_role("spinbutton", name="Epochs")
    epochs.fill("2")
    epochs.press("Enter")
    page.get_by_role("button", name=re.compile("Train$")).click()
    page.get_by_text(re.compile("Training finished: finished 2 epochs")).wait_for(timeout=90_000)
    # Curves filled: two epoch points for train and val loss, and accuracy lines.
    plot = page.locator(".js-plotly-plot").first
    plot.wait_for()
    assert plot.locator(".scatterlayer .trace").count() >= 4
    assert page.get_by_text(re.compile(r"val accuracy \d+\.\d%")).first.is_visible()
    page.get_by_text("Confusion matrix (validation)").first.wait_for()
    screenshot(page, "training")
    page.get_by_role("tab", name=re.compile("Train")).scroll_into_view_if_needed()
    screenshot(page, "app")  # the README's picture
    page.get_by_text("Colour layers by").scroll_into_view_if_needed()
    screenshot(page, "live_diagram")

    page.get_by_role("tab", name=re.compile("Export")).click()
    with page.expect_download() as info:
        page.get_by_role("button", name=re.compile("model.py")).click()
    path = tmp_path / "model.py"
    info.value.save_as(path)
    screenshot(page, "export")
    check = (
        "import torch, model\n"
        "net = model.MLPDigits()\n"
        "out = net(torch.randn(3, 1, 8, 8))\n"
        "print(tuple(out.shape))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", check], cwd=tmp_path, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "(3, 10)"
