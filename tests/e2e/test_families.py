"""The GAN panel and the autoencoder view in a real browser: train briefly, see the live grids.

Drives the standalone page tests/e2e/family_page.py (the same components the app wires in).
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from .conftest import ROOT, _free_port, _wait_healthy, screenshot

pytestmark = pytest.mark.e2e
PAGE = ROOT / "tests" / "e2e" / "family_page.py"


@pytest.fixture(scope="module")
def family_url(tmp_path_factory):
    """family_page.py served by a real Streamlit on a free port."""
    port = _free_port()
    home = tmp_path_factory.mktemp("families_home")
    log = open(home / "streamlit.log", "w")  # noqa: SIM115 - closed at teardown
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "LAYERCRAFT_HOME": str(home),
        "STREAMLIT_BROWSER_GATHER_USAGE_STATS": "false",
    }
    command = [sys.executable, "-m", "streamlit", "run", str(PAGE), "--server.headless", "true"]
    command += ["--server.port", str(port), "--server.address", "127.0.0.1"]
    proc = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_healthy(url, proc)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


@pytest.fixture
def tab(browser, family_url):
    context = browser.new_context(viewport={"width": 1400, "height": 1400})
    page = context.new_page()
    page.set_default_timeout(30_000)
    page.goto(family_url)
    page.get_by_text("Generative adversarial network").wait_for(timeout=60_000)
    yield page
    context.close()


def _set_number(page, label: str, value: int) -> None:
    field = page.get_by_label(label, exact=True)
    field.fill(str(value))
    field.press("Enter")


def test_gan_panel_trains_and_shows_live_curves_and_samples(tab):
    tab.get_by_text("the pair fits").wait_for()
    _set_number(tab, "Epochs", 2)
    _set_number(tab, "Samples every (steps)", 5)
    tab.get_by_role("button", name="Train GAN").click()
    # The sample grid appears while it trains and refreshes until the run ends.
    # Generous timeouts: a loaded 2-core CI machine trains the pair slowly.
    tab.get_by_text("Generated samples").wait_for(timeout=180_000)
    tab.get_by_text("Discriminator output").wait_for()
    tab.get_by_text("finished · epoch 2/2").wait_for(timeout=240_000)
    assert tab.get_by_text("diversity").first.is_visible()
    screenshot(tab, "gan_panel")


def test_autoencoder_trains_and_shows_inputs_next_to_reconstructions(tab):
    tab.get_by_role("tab", name="Autoencoder").click()
    _set_number(tab, "Autoencoder epochs", 2)
    tab.get_by_role("button", name="Train autoencoder").click()
    tab.get_by_text("input · reconstruction").wait_for(timeout=180_000)
    tab.get_by_text("finished").wait_for(timeout=240_000)
    screenshot(tab, "autoencoder_reconstructions")
