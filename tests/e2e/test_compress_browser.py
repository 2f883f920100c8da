"""Compress in a real browser: prune a finished run, compare, export, load it with torch only."""

from __future__ import annotations

import re
import subprocess
import sys
import zipfile

import pytest

from .conftest import screenshot
from .test_app_browser import load_template, node, open_app, wait_idle

pytestmark = pytest.mark.e2e


def train_digits_mlp(page, app_url) -> None:
    """The MLP digits template, trained for 3 epochs in the Train tab."""
    frame = open_app(page, app_url)
    load_template(page, "MLP digits")
    node(frame, "fc2").wait_for()
    page.get_by_role("tab", name=re.compile("Train")).click()
    page.get_by_text("The network fits this dataset.").wait_for()
    set_number(page, "Epochs", 3)
    page.get_by_role("button", name=re.compile("Train$")).click()
    page.get_by_text(re.compile("Training finished: finished 3 epochs")).wait_for(timeout=90_000)


def set_number(page, label: str, value: int) -> None:
    box = page.get_by_role("spinbutton", name=label)
    box.fill(str(value))
    box.press("Enter")


def test_prune_a_finished_run_compare_and_load_the_export_in_plain_python(page, app_url, tmp_path):
    train_digits_mlp(page, app_url)
    page.get_by_role("tab", name=re.compile("Compress")).click()
    page.get_by_text("Channel pruning (smaller layers)").click()
    page.get_by_role("button", name=re.compile("^compress Compress$|^Compress$")).click()
    page.get_by_text(re.compile("prune structured 0.5: done")).wait_for(timeout=120_000)
    table = page.get_by_test_id("stTable")
    table.wait_for()
    assert table.get_by_text("original").is_visible()
    assert table.get_by_text("prune structured 0.5").is_visible()
    assert table.get_by_text("2,410").is_visible()  # fc1 64 -> 32 units: 4,810 -> 2,410
    table.scroll_into_view_if_needed()
    screenshot(page, "compress")

    with page.expect_download() as info:
        page.get_by_role("button", name=re.compile("Export")).last.click()
    archive = tmp_path / "pruned.zip"
    info.value.save_as(archive)
    with zipfile.ZipFile(archive) as bundle:
        bundle.extractall(tmp_path)
    (folder,) = [p for p in tmp_path.iterdir() if p.is_dir()]
    check = (
        "import torch\n"
        "from safetensors.torch import load_file\n"
        "import model\n"
        "net = model.MLPDigits()\n"
        "net.load_state_dict(load_file('weights.safetensors'))\n"
        "print(net.fc1.out_features, tuple(net(torch.randn(3, 1, 8, 8)).shape))\n"
    )
    result = subprocess.run(
        [sys.executable, "-E", "-s", "-c", check], cwd=folder, capture_output=True, text=True,
        timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "32 (3, 10)"


def test_distil_on_a_share_of_the_labels_shows_both_students_curves(page, app_url):
    train_digits_mlp(page, app_url)  # the teacher; the student is the same graph
    page.get_by_role("tab", name=re.compile("Compress")).click()
    page.get_by_text("Distil into the graph on the canvas").click()
    set_number(page, "Training data (%)", 10)
    set_number(page, "Epochs", 20)
    wait_idle(page)
    page.get_by_role("button", name=re.compile("^compress Compress$|^Compress$")).click()
    page.get_by_text("distill T=4 alpha=0.7 on 10% of the data: done").wait_for(timeout=120_000)
    chart = page.get_by_test_id("stPlotlyChart").last
    chart.wait_for()
    for legend in ("distilled student", "student alone"):
        assert chart.get_by_text(legend).count() > 0
    chart.scroll_into_view_if_needed()
    screenshot(page, "compress_distill_share")


def test_look_inside_explains_a_digits_model_with_attribution_maps(page, app_url):
    frame = open_app(page, app_url)
    load_template(page, "MLP digits")
    node(frame, "fc2").wait_for()
    page.get_by_role("tab", name=re.compile("Train")).click()
    page.get_by_text("The network fits this dataset.").wait_for()
    page.get_by_role("button", name=re.compile("Train$")).click()  # the template's 20 epochs: ~5 s
    page.get_by_text(re.compile(r"Training finished: finished \d+ epochs")).wait_for(timeout=90_000)
    page.get_by_text("Look inside the trained model").click()
    page.get_by_role("tab", name="Explain").click()
    caption = page.get_by_text(re.compile("Integrated gradients: each pixel"))
    caption.wait_for(timeout=60_000)
    maps = page.locator(".js-plotly-plot").filter(has_text="integrated gradients")
    maps.wait_for()
    assert maps.locator(".heatmaplayer, .hm").count() > 0 or maps.is_visible()
    caption.scroll_into_view_if_needed()
    page.mouse.wheel(0, 200)
    page.wait_for_timeout(500)
    screenshot(page, "explain")
