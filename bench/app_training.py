"""Training in the real app, with the live page open in Chromium, against the same Trainer alone.

    .venv/bin/python bench/app_training.py [--epochs 10] [--template transformer_text] [--rounds 5]

Starts `streamlit run app.py`, loads the template in headless Chromium, presses Train and
times the click until "Training finished" (live curves, diagram and predictions drawing
all along). The same run (template, dataset, settings, per-layer statistics as the app
takes them) then trains alone in a fresh interpreter, with no page, as the app trains it
(its thread, the app's thread count, a run store). The ratio is the alone time / the app
time (1.0 = the live page costs nothing). `--rounds N` runs N such pairs in turn and prints
their median: on this 2-core machine one pair can read anywhere from 0.65 to 0.95.
Needs Chromium (`make browser`).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from playwright.sync_api import sync_playwright  # noqa: E402

from builder.templates import load_template, template_dataset, template_settings  # noqa: E402
from tests.e2e.conftest import CHROMIUM, CHROMIUM_ARGS, _free_port, _wait_healthy  # noqa: E402
from tests.e2e.test_app_browser import load_template as load_in_page  # noqa: E402
from tests.e2e.test_app_browser import open_app, wait_idle  # noqa: E402


def app_seconds(stem: str, epochs: int) -> float:
    """Click Train to "Training finished" in the real app, the page open all along."""
    port = _free_port()
    env = {**os.environ, "LAYERCRAFT_HOME": tempfile.mkdtemp()}
    command = [sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(port),
               "--server.address", "127.0.0.1"]  # fmt: skip
    server = subprocess.Popen(
        command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT
    )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_healthy(url, server)
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1500, "height": 1000})
            open_app(page, url)
            load_in_page(page, load_template(stem).name)
            page.get_by_role("tab", name="Train").click()
            wait_idle(page)
            field = page.get_by_label("Epochs", exact=True).filter(visible=True)
            field.fill(str(epochs))
            field.press("Enter")
            wait_idle(page)
            if field.input_value() != str(epochs):  # timing a different run would mislead
                raise SystemExit(f"the page shows {field.input_value()} epochs, not {epochs}")
            start = time.perf_counter()
            page.get_by_role("button", name="Train", exact=True).click()
            page.get_by_text("Training finished").wait_for(timeout=600_000)
            seconds = time.perf_counter() - start
            browser.close()
        return seconds
    finally:
        server.terminate()
        server.wait()


def alone_seconds(stem: str, epochs: int) -> float:
    """The same run with no page, as the app trains it: Trainer.start() in its thread, on
    the app's thread count (all cores but one), recorded in a run store."""
    # Imported only now: torch loaded in this process before the app run slowed the app.
    from builder.data import load_dataset
    from builder.runs import RunStore
    from builder.training import TrainConfig, Trainer
    from components.dashboard import LOG_EVERY, STATS_EVERY
    from components.jobs import leave_a_core_for_the_page

    leave_a_core_for_the_page()  # equal thread counts: the figure is the page's cost alone

    config = TrainConfig(
        **{**template_settings(stem), "epochs": epochs},
        stats_every=STATS_EVERY,
        log_every=LOG_EVERY,
    )
    dataset = load_dataset(template_dataset(stem))
    store = RunStore(home=tempfile.mkdtemp())
    start = time.perf_counter()
    trainer = Trainer(load_template(stem), dataset, config, store=store)
    trainer.start()
    trainer.join()
    return time.perf_counter() - start


def alone_in_a_subprocess(stem: str, epochs: int) -> float:
    """alone_seconds() in a fresh interpreter, so a later app run never shares this process
    with a loaded torch (see alone_seconds)."""
    command = [sys.executable, __file__, "--template", stem, "--epochs", str(epochs), "--alone"]
    out = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=True).stdout
    return float(out.split()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--template", default="transformer_text")
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument(
        "--rounds", type=int, default=1, help="app/alone pairs, in turn; prints the median"
    )
    parser.add_argument("--alone", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.alone:
        print(f"{alone_seconds(args.template, args.epochs):.3f}")
        return
    if not os.path.exists(CHROMIUM):
        raise SystemExit(f"Chromium is not installed at {CHROMIUM} (run `make browser`)")
    print(f"{args.template}, {args.epochs} epochs, {os.cpu_count()} CPU cores")
    ratios = []
    for _ in range(args.rounds):
        in_app = app_seconds(args.template, args.epochs)
        alone = alone_in_a_subprocess(args.template, args.epochs)
        ratios.append(alone / in_app)
        print(f"  in the app, page open  {in_app:6.1f} s (click to 'Training finished')")
        print(f"  Trainer alone          {alone:6.1f} s")
        print(f"  alone / in the app = {ratios[-1]:.3f}x (1.0: the live page costs nothing)")
    if len(ratios) > 1:
        print(f"  median of {len(ratios)} rounds = {statistics.median(ratios):.3f}x")


if __name__ == "__main__":
    main()
