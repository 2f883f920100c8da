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
    page.get_by_test_id("stSelectbox").filter(has_text="Dataset").click()
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
