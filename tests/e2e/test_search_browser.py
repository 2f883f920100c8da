"""AutoML in a real browser: mark two params as searched, run 5 trials, apply the best, undo."""

from __future__ import annotations

import re

import pytest

from .conftest import screenshot
from .test_app_browser import node, open_app, wait_idle

pytestmark = pytest.mark.e2e


def test_search_two_params_apply_the_best_and_undo(page, app_url):
    frame = open_app(page, app_url)
    assert "(64,)" in node(frame, "fc1").inner_text()

    # Mark fc1.out_features in the inspector, with a narrow range so the best must differ.
    node(frame, "fc1").click()
    page.get_by_test_id("stExpander").get_by_text("Search", exact=True).click()
    page.get_by_text("search out_features").click()
    field = page.get_by_role("textbox", name="out_features range or choices")
    field.fill("8..24")
    field.press("Enter")
    wait_idle(page)
    page.get_by_text("Search (1 marked)").wait_for()
    screenshot(page, "search_mark_param")

    # Mark the learning rate in the Search tab, then run 5 one-epoch trials.
    page.get_by_role("tab", name=re.compile("Search")).click()
    page.get_by_text("search lr").click()
    wait_idle(page)
    page.get_by_role("textbox", name="lr range or choices").wait_for()
    for label, value in (("Trials", "5"), ("Epochs per trial", "1")):
        box = page.get_by_role("spinbutton", name=label)
        box.fill(value)
        box.press("Enter")
        wait_idle(page)
    page.get_by_role("button", name=re.compile("Run search")).click()
    page.get_by_text("finished: 5 trials in the study").wait_for(timeout=120_000)
    page.get_by_text(re.compile(r"Best so far: \d\.\d{4}")).wait_for()
    page.get_by_test_id("stDataFrame").last.wait_for()
    history = page.locator(".js-plotly-plot").first
    history.wait_for()
    assert history.locator(".scatterlayer .trace").count() >= 1
    page.get_by_role("tab", name=re.compile("Search")).scroll_into_view_if_needed()
    screenshot(page, "search_tab")

    # Apply the best: fc1 gets the best width (within 8..24), so its output shape changes.
    page.get_by_role("button", name=re.compile("Apply best")).click()
    page.get_by_text(re.compile("Applied trial \\d+ to the graph")).wait_for()
    page.get_by_role("tab", name=re.compile("Build")).click()
    changed = frame.locator(
        ".react-flow__node[data-id='fc1']", has_text=re.compile(r"\((8|9|1\d|2[0-4]),\)")
    )
    changed.wait_for()
    screenshot(page, "search_applied")

    wait_idle(page)
    page.get_by_role("button", name="Undo").click()
    frame.locator(".react-flow__node[data-id='fc1']", has_text="(64,)").wait_for()
