"""Issue 13 in a real browser: an MNIST IDX upload that trains, two tabs on one project
(the tab that is behind is told), and an export made after an edit."""

from __future__ import annotations

import re
import struct

import numpy as np
import pytest

from .conftest import screenshot

pytestmark = pytest.mark.e2e


def _idx(array) -> bytes:
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(struct.pack(">I", d) for d in array.shape)
    return header + array.astype(np.uint8).tobytes()


def open_app(page, url):
    page.goto(url)
    page.get_by_role("tab", name=re.compile("Train")).wait_for(timeout=60_000)


def wait_idle(page) -> None:
    page.wait_for_timeout(300)
    page.get_by_test_id("stStatusWidget").wait_for(state="hidden")


def test_mnist_idx_images_and_labels_uploaded_together_train(page, app_url, tmp_path):
    # 8×8 "digits" as MNIST-format files with MNIST's extensionless names, so the starter
    # MLP (1×8×8 in, 10 classes out) fits them.
    rng = np.random.default_rng(0)
    labels = np.arange(200) % 10
    images = rng.integers(0, 60, (200, 8, 8)) + (labels[:, None, None] * 20)
    (tmp_path / "train-images-idx3-ubyte").write_bytes(_idx(images))
    (tmp_path / "train-labels-idx1-ubyte").write_bytes(_idx(labels))
    open_app(page, app_url)
    page.get_by_role("tab", name=re.compile("Train")).click()
    page.locator("[data-testid=stSelectbox]:visible").filter(has_text="Dataset").click()
    page.get_by_role("option", name="Upload a file…").click()
    page.get_by_text(re.compile("Up to \\d+ MB per file")).wait_for()
    page.get_by_test_id("stTabs").get_by_test_id("stFileUploaderDropzoneInput").set_input_files(
        [str(tmp_path / "train-images-idx3-ubyte"), str(tmp_path / "train-labels-idx1-ubyte")]
    )
    page.get_by_text("The network fits this dataset.").wait_for(timeout=30_000)
    epochs = page.get_by_role("spinbutton", name="Epochs")
    epochs.fill("2")
    epochs.press("Enter")
    wait_idle(page)
    page.get_by_role("button", name=re.compile("Train$")).click()
    page.get_by_text(re.compile("Training finished: finished 2 epochs")).wait_for(timeout=90_000)
    screenshot(page, "idx_upload")


def test_two_tabs_on_one_project_the_tab_that_is_behind_is_told(browser, app_url):
    url = f"{app_url}/?project=twotabs0123456789abcdef01234567"
    contexts = [browser.new_context(viewport={"width": 1400, "height": 900}) for _ in range(2)]
    try:
        tab_a, tab_b = (c.new_page() for c in contexts)
        for tab in (tab_a, tab_b):
            tab.set_default_timeout(30_000)
            open_app(tab, url)
            wait_idle(tab)
        name_a = tab_a.get_by_test_id("stSidebar").get_by_label("Network name")
        name_a.fill("Renamed in tab A")
        name_a.press("Enter")
        wait_idle(tab_a)
        name_b = tab_b.get_by_test_id("stSidebar").get_by_label("Network name")
        name_b.fill("Renamed in tab B")
        name_b.press("Enter")
        tab_b.get_by_text(re.compile("changed in another tab or window")).wait_for()
        wait_idle(tab_b)
        assert name_b.input_value() == "Renamed in tab A"  # B shows A's graph, not its own
        screenshot(tab_b, "two_tabs_behind")
    finally:
        for context in contexts:
            context.close()


def test_export_after_an_edit_never_pairs_new_code_with_old_weights(page, app_url, tmp_path):
    import json
    import subprocess
    import sys

    from builder.templates import load_template

    open_app(page, app_url)
    page.get_by_role("tab", name=re.compile("Train")).click()
    page.get_by_text("The network fits this dataset.").wait_for()
    epochs = page.get_by_role("spinbutton", name="Epochs")
    epochs.fill("2")
    epochs.press("Enter")
    wait_idle(page)
    page.get_by_role("button", name=re.compile("Train$")).click()
    page.get_by_text(re.compile("Training finished: finished 2 epochs")).wait_for(timeout=90_000)
    # The edit: the same graph with fc1 out_features 48, opened from a file (no canvas needed).
    edited = load_template("mlp_digits")
    edited.update_params("fc1", out_features=48)
    graph = tmp_path / "edited.json"
    graph.write_text(json.dumps(edited.to_json()))
    # The graph uploader (the Import panel has a .py one beside it).
    sidebar = page.get_by_test_id("stSidebar")
    sidebar.locator("input[type=file][accept*='.json']").set_input_files(str(graph))
    page.get_by_text(re.compile("Opened “MLP digits” from edited.json")).wait_for()
    page.get_by_role("tab", name=re.compile("Export")).click()
    page.get_by_text(re.compile("changed since the last run")).wait_for()
    assert page.get_by_role("button", name=re.compile("weights")).is_disabled()
    screenshot(page, "export_after_edit")
    page.get_by_text("the last run's graph with its trained weights").click()
    wait_idle(page)
    for name, file in (("model.py", "model.py"), ("weights", "weights.safetensors")):
        with page.expect_download() as info:
            page.get_by_role("button", name=re.compile(f"^{name}")).click()
        info.value.save_as(tmp_path / file)
    check = (
        "import model\nfrom safetensors.torch import load_file\n"
        "net = model.MLPDigits()\nnet.load_state_dict(load_file('weights.safetensors'))\n"
        "print(net.fc1.out_features)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", check], cwd=tmp_path, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "64"  # the last run's graph, with its own weights


def test_csv_labels_that_could_be_values_ask_for_the_task(page, app_url, tmp_path):
    rows = [f"{i % 7},{(i * 3) % 11},{i}" for i in range(500)]  # labels 0-499
    path = tmp_path / "ids.csv"
    path.write_text("a,b,label\n" + "\n".join(rows) + "\n")
    open_app(page, app_url)
    page.get_by_role("tab", name=re.compile("Train")).click()
    page.locator("[data-testid=stSelectbox]:visible").filter(has_text="Dataset").click()
    page.get_by_role("option", name="Upload a file…").click()
    uploader = page.get_by_test_id("stTabs").get_by_test_id("stFileUploaderDropzoneInput")
    uploader.set_input_files(str(path))
    page.get_by_text(re.compile("classes or values to predict")).wait_for()
    screenshot(page, "upload_task_choice")
    page.get_by_text("regression", exact=True).click()
    wait_idle(page)
    page.get_by_role("button", name="Use these choices").click()
    page.get_by_text(re.compile(r"400 train / 100 val.*regression")).wait_for()
