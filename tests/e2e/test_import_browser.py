"""Importing PyTorch code in a real browser: paste a model, name it, and it opens on the canvas."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from .conftest import screenshot
from .test_app_browser import node, open_app, wait_idle

pytestmark = pytest.mark.e2e
MODELS = Path(__file__).resolve().parents[1] / "reference" / "models.py"


def fill(page, label: str, text: str) -> None:
    box = page.get_by_test_id("stSidebar").get_by_label(label)
    box.fill(text)
    box.press("Tab")  # Streamlit commits a text box when it loses focus
    wait_idle(page)


def import_reference_model(page, app_url, expression: str, shapes: str):
    """Paste tests/reference/models.py into the Import panel and import `expression`;
    returns the canvas frame."""
    frame = open_app(page, app_url)
    sidebar = page.get_by_test_id("stSidebar")
    sidebar.get_by_text("Import PyTorch code").click()
    fill(page, "…or paste the code", MODELS.read_text(encoding="utf-8"))
    fill(page, "Class or constructor call", expression)
    fill(page, "Input shapes (no batch; ';' between inputs)", shapes)
    sidebar.get_by_role("button", name="Import", exact=True).click()
    return frame


def test_pasted_pytorch_code_opens_as_a_graph_on_the_canvas(page, app_url):
    frame = import_reference_model(page, app_url, "MnistNet", "1,28,28")
    page.get_by_text("Imported “MnistNet”").wait_for(timeout=120_000)
    for node_id in ("x", "conv1", "conv2", "dropout1", "fc1", "fc2"):
        node(frame, node_id).wait_for()
    assert "(32, 26, 26)" in node(frame, "conv1").inner_text()
    assert page.get_by_text("1,199,882").first.is_visible()  # the summary's total
    screenshot(page, "import_panel")


def test_a_greedy_decoder_imports_unrolled_with_its_steps_sharing_one_layer(page, app_url):
    """pytorch/tutorials' seq2seq attention decoder: a loop over self.gru and friends."""
    frame = import_reference_model(page, app_url, "AttnDecoderRNN(8, 12, 3)", "5,8; 1,8")
    page.get_by_text("Imported “AttnDecoderRNN”").wait_for(timeout=120_000)
    for node_id in ("token", "gru", "gru_2", "gru_3", "attention_Wa_3", "log_probs"):
        node(frame, node_id).wait_for()
    assert "shares=gru" in node(frame, "gru_3").inner_text()
    node(frame, "gru_3").scroll_into_view_if_needed()
    screenshot(page, "import_greedy_decoder")

    page.get_by_role("tab", name=re.compile("Export")).click()
    page.get_by_text("gru_3, gru_3_h_n = self.gru(concat3, gru_h0)").first.wait_for()
    page.get_by_text("self.gru = nn.GRU(16, 8, batch_first=True)").first.wait_for()
