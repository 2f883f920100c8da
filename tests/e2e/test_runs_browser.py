"""Runs in a real browser: a reload reattaches (Stop works), a closed tab's run is there on
return, two runs compare (curves and graph diff), and a SIGKILLed server's run shows
interrupted after a restart and resumes."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from contextlib import contextmanager
from urllib.parse import parse_qs, urlparse

import pytest

from .conftest import ROOT, _free_port, _wait_healthy, screenshot

pytestmark = pytest.mark.e2e


def open_app(page, url):
    """The canvas is our own component, in the page itself (no iframe)."""
    page.goto(url)
    page.locator(".react-flow__node").first.wait_for(timeout=60_000)


def project_of(page) -> str:
    page.wait_for_function("() => location.search.includes('project=')")
    return parse_qs(urlparse(page.url).query)["project"][0]


def train_tab(page):
    page.get_by_role("tab", name=re.compile("Train")).click()
    page.get_by_text("The network fits this dataset.").wait_for()


def start_training(page, epochs: int, lr: str | None = None) -> None:
    box = page.get_by_role("spinbutton", name="Epochs")
    box.fill(str(epochs))
    box.press("Enter")
    if lr is not None:
        rate = page.get_by_role("spinbutton", name="Learning rate")
        rate.fill(lr)
        rate.press("Enter")
    page.wait_for_timeout(500)
    page.get_by_role("button", name=re.compile("Train$")).click()


def stop_button(page):
    # The Train tab's Stop, not Streamlit's own "Stop" in the running-script status widget.
    return page.get_by_test_id("stTabs").get_by_role("button", name="Stop")


def wait_for_epoch(page, epoch: int, timeout=120_000) -> None:
    """Until the progress line shows at least this epoch ("epoch 7/1000 · step ...")."""
    page.wait_for_function(
        """(least) => {
            const m = document.body.innerText.match(/epoch (\\d+)\\/\\d+ · step/);
            return m !== null && Number(m[1]) >= least;
        }""",
        arg=epoch,
        timeout=timeout,
    )


def test_reload_mid_run_reattaches_and_stop_works(page, app_url):
    open_app(page, app_url)
    train_tab(page)
    start_training(page, 1000)
    wait_for_epoch(page, 2)
    page.reload()
    page.locator(".react-flow__node").first.wait_for(timeout=60_000)
    train_tab(page)
    wait_for_epoch(page, 3)  # the curves go on in the reloaded page
    stop = stop_button(page)
    assert stop.is_enabled()
    screenshot(page, "runs_reattached")
    stop.click()
    page.get_by_text(re.compile("Training stopped: stopped by the user")).wait_for(timeout=30_000)


def test_closing_the_tab_leaves_the_run_to_finish_and_shows_it_on_return(browser, app_url):
    context = browser.new_context(viewport={"width": 1600, "height": 1000})
    first = context.new_page()
    first.set_default_timeout(30_000)
    open_app(first, app_url)
    project = project_of(first)
    train_tab(first)
    start_training(first, 4)
    wait_for_epoch(first, 1)
    first.close()  # every tab of the project is gone now
    later = context.new_page()
    later.set_default_timeout(30_000)
    open_app(later, f"{app_url}/?project={project}")
    train_tab(later)
    later.get_by_text(re.compile("Training finished: finished 4 epochs")).wait_for(timeout=120_000)
    screenshot(later, "runs_after_return")
    context.close()


def test_comparing_two_runs_shows_both_curves_and_the_graph_diff(page, app_url):
    open_app(page, app_url)
    train_tab(page)
    start_training(page, 2)
    page.get_by_text(re.compile("Training finished: finished 2 epochs")).wait_for(timeout=120_000)
    page.wait_for_timeout(500)
    start_training(page, 3, lr="0.05")
    page.get_by_text(re.compile("Training finished: finished 3 epochs")).wait_for(timeout=120_000)
    page.get_by_role("tab", name=re.compile("Runs")).click()
    picker = page.get_by_test_id("stMultiSelect")
    for _ in range(2):
        picker.click()
        page.get_by_role("option").first.click()
        page.keyboard.press("Escape")
        page.wait_for_timeout(500)
    page.get_by_text("Validation curves").wait_for(timeout=30_000)
    curves = page.locator(".js-plotly-plot").filter(has_text="Validation curves")
    assert curves.locator(".scatterlayer .trace").count() >= 4  # loss and accuracy of both
    page.get_by_text(re.compile(r"Graph diff .* same layers")).wait_for()
    # Both diagrams, each under its run's caption (the closed Train tab, whose live diagram
    # would be a third, is not drawn at all).
    assert page.get_by_text(re.compile(r"^run [0-9a-f]{12}$")).count() == 2
    assert page.get_by_test_id("stGraphVizChart").count() == 2
    page.get_by_text("Graph diff").scroll_into_view_if_needed()
    screenshot(page, "runs_compare")


# ---- a server of our own, to kill and restart --------------------------------------------


@contextmanager
def serve(home, port):
    env = {
        **os.environ,
        "LAYERCRAFT_HOME": str(home),
        "STREAMLIT_BROWSER_GATHER_USAGE_STATS": "false",
    }
    log = open(home / f"streamlit-{port}.log", "a")  # noqa: SIM115 - closed below
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "streamlit",
            "run",
            "app.py",
            "--server.headless",
            "true",
            "--server.port",
            str(port),
            "--server.address",
            "127.0.0.1",
        ],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        url = f"http://127.0.0.1:{port}"
        _wait_healthy(url, proc)
        yield url, proc
    finally:
        if proc.poll() is None:
            proc.terminate()
            proc.wait(timeout=10)
        log.close()


def test_sigkill_mid_run_then_restart_shows_interrupted_and_resumes(browser, tmp_path):
    port = _free_port()
    context = browser.new_context(viewport={"width": 1600, "height": 1000})
    page = context.new_page()
    page.set_default_timeout(30_000)
    with serve(tmp_path, port) as (url, proc):
        open_app(page, url)
        project = project_of(page)
        train_tab(page)
        start_training(page, 1000)
        wait_for_epoch(page, 3)
        page.wait_for_timeout(1500)  # the recorder writes the epoch checkpoint within a second
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    with serve(tmp_path, port) as (url, _):
        page.goto(f"{url}/?project={project}")
        page.locator(".react-flow__node").first.wait_for(timeout=60_000)
        train_tab(page)
        page.get_by_text(re.compile(r"was interrupted after epoch \d+")).wait_for(timeout=30_000)
        screenshot(page, "runs_interrupted")
        page.get_by_role("button", name=re.compile(r"Resume from epoch \d+")).click()
        wait_for_epoch(page, 5)
        stop_button(page).click()
        page.get_by_text(re.compile("Training stopped")).wait_for(timeout=30_000)
    context.close()
