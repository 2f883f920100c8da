"""The model families in the real app: train the GAN and the autoencoder briefly, see the live grids."""

from __future__ import annotations

import pytest

from .conftest import screenshot
from .test_app_browser import load_template, open_app, wait_idle

pytestmark = pytest.mark.e2e


def _set_number(page, label: str, value: int) -> None:
    # Every tab is in the page; only the open tab's widget is visible.
    field = page.get_by_label(label, exact=True).filter(visible=True)
    field.fill(str(value))
    field.press("Enter")
    wait_idle(page)


def test_gan_tab_trains_and_shows_live_curves_and_samples(page, app_url):
    open_app(page, app_url)
    page.get_by_role("tab", name="GAN").click()
    page.get_by_text("the pair fits").wait_for()
    _set_number(page, "Epochs", 2)
    _set_number(page, "Samples every (steps)", 5)
    page.get_by_role("button", name="Train GAN").click()
    # The sample grid appears while it trains and refreshes until the run ends.
    # Generous timeouts: a loaded 2-core CI machine trains the pair slowly.
    page.get_by_text("Generated samples").wait_for(timeout=180_000)
    # Plotly briefly keeps the old chart beside the new one while it redraws.
    page.locator("text=Discriminator output >> visible=true").first.wait_for()
    page.get_by_text("finished · epoch 2/2").wait_for(timeout=240_000)
    assert page.get_by_text("diversity").first.is_visible()
    page.locator(".js-plotly-plot .heatmaplayer >> visible=true").first.wait_for()
    # Curves above, the sample grid below: both in the picture.
    page.get_by_text("Generated samples").evaluate("e => e.scrollIntoView({block: 'center'})")
    screenshot(page, "gan_panel")


def test_autoencoder_template_trains_with_live_reconstructions(page, app_url):
    open_app(page, app_url)
    load_template(page, "Conv autoencoder")
    page.get_by_role("tab", name="Train").click()
    # The output mirrors the input, so the app proposes reconstruction by itself.
    page.get_by_text("Reconstruct the input (autoencoder)").first.wait_for()
    page.get_by_text("The network fits this dataset.").wait_for()
    # Loading the template set its suggested settings, despite the canvas's immediate rerun.
    epochs = page.get_by_label("Epochs", exact=True).filter(visible=True)
    assert epochs.input_value() == "20"
    _set_number(page, "Epochs", 4)
    page.get_by_role("button", name="Train", exact=True).click()
    page.get_by_text("input · reconstruction").wait_for(timeout=180_000)
    page.get_by_text("Training finished").wait_for(timeout=240_000)
    # Once it ends the page reruns as a whole: Train is offered again, Stop is not.
    train = page.get_by_role("button", name="Train", exact=True)
    page.wait_for_function(
        "() => [...document.querySelectorAll('button')].some("
        "b => b.innerText.trim().endsWith('Train') && !b.disabled)",
        timeout=30_000,
    )
    assert train.is_enabled()
    # The family views run the model only once asked for.
    assert page.get_by_role("tab", name="Reconstructions").count() == 0
    page.get_by_text("Look inside the trained model").click()
    page.get_by_role("tab", name="Reconstructions").wait_for()
    page.get_by_text("Rows: input · reconstruction").nth(1).wait_for()  # the live grid and this one
    assert page.get_by_test_id("stException").count() == 0
    grid = page.locator(".js-plotly-plot .heatmaplayer >> visible=true").first
    grid.wait_for()
    grid.scroll_into_view_if_needed()
    page.mouse.wheel(0, 250)
    screenshot(page, "autoencoder_reconstructions")


def test_transformer_template_trains_and_shows_its_attention_on_a_sentence(page, app_url):
    open_app(page, app_url)
    load_template(page, "Transformer text classifier")
    page.get_by_role("tab", name="Train").click()
    wait_idle(page)
    # The template brought its dataset and settings along.
    page.get_by_text("The network fits this dataset.").wait_for()
    assert (
        page.get_by_label("Learning rate", exact=True).filter(visible=True).input_value() == "0.002"
    )
    _set_number(page, "Epochs", 2)
    page.get_by_role("button", name="Train", exact=True).click()
    page.get_by_text("Training finished").wait_for(timeout=240_000)
    page.get_by_text("Sample predictions (validation)").wait_for()
    page.get_by_text("Look inside the trained model").click()
    page.get_by_role("tab", name="Attention").click()
    attention = page.locator(".js-plotly-plot", has_text="key (looked at)").first
    attention.wait_for()
    attention.scroll_into_view_if_needed()
    # Rows and columns are the sentence's words ("3:good"), so the map reads as text.
    words = [t for t in attention.locator(".ytick text").all_text_contents() if ":" in t]
    assert words and all(t.split(":", 1)[1] for t in words)
    assert any(not t.split(":", 1)[1].isdigit() for t in words)
    page.mouse.wheel(0, 300)
    screenshot(page, "transformer_attention")
