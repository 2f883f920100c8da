"""Canvas speed in Chromium on a 200-node graph: an edit's round trip (key press -> intent ->
Python applies it -> the re-rendered canvas) and the ELK layout time.

Run: .venv/bin/python bench/canvas_roundtrip.py   (targets: round trip < 150 ms median,
layout < 300 ms). Needs Chromium at /usr/bin/chromium. Figures are medians of this run.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from builder.graph import Architecture  # noqa: E402
from components import store  # noqa: E402

NODES = 200
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "10"))  # more rounds steady a noisy machine
TAIL = "fc100"  # the last layer two_hundred_nodes() adds
CHROMIUM = "/usr/bin/chromium"
SERVE = ("--server.address", "127.0.0.1", "--server.port")

# Armed before a real key press: note when the keydown reaches the page, then wait (frame
# by frame) until the node is gone or back; resolves to the milliseconds in between.
# `layercraftPressedAt` keeps the keydown's time for the split below.
ARM_JS = """([nodeId, wantPresent]) => {
  window.layercraftRoundTrip = new Promise((resolve) => {
    let start = null;
    document.addEventListener("keydown", () => { start = window.layercraftPressedAt = performance.now(); }, {capture: true, once: true});
    const poll = () => {
      const present = !!document.querySelector(`.react-flow__node[data-id="${nodeId}"]`);
      if (start !== null && present === wantPresent) resolve(performance.now() - start);
      else if (start !== null && performance.now() - start > 10000) resolve(NaN);
      else requestAnimationFrame(poll);
    };
    requestAnimationFrame(poll);
  });
}"""


# Installed before the page loads: notes when each websocket message arrives, so a round
# trip splits into the server's part (until its last reply arrives) and the browser's
# (from there until the canvas is redrawn).
WIRE_JS = """(() => {
  window.layercraftArrivals = [];
  const Native = window.WebSocket;
  window.WebSocket = class extends Native {
    constructor(...args) {
      super(...args);
      this.addEventListener("message", () => window.layercraftArrivals.push(performance.now()));
    }
  };
})();"""

wire_splits: list[float] = []  # key press -> last reply arrived, for each timed key


def timed_key(page, key: str, node_id: str, want_present: bool) -> float:
    page.evaluate(ARM_JS, [node_id, want_present])
    page.evaluate("window.layercraftArrivals = []")
    page.keyboard.press(key)
    total = page.evaluate("window.layercraftRoundTrip")
    pressed, arrivals = page.evaluate("[window.layercraftPressedAt, window.layercraftArrivals]")
    # Only the replies that came before the redraw: a later message is not on its path.
    before_redraw = [t - pressed for t in arrivals if t - pressed <= total]
    if before_redraw:
        wire_splits.append(max(before_redraw))
    return total


def delete_and_undo(page, victim: str) -> tuple[list[float], list[float]]:
    """Delete a layer with the key and bring it back with Ctrl+Z, ROUNDS times."""
    deletes, undos = [], []
    for _ in range(ROUNDS):
        node = page.locator(f".react-flow__node[data-id='{victim}']")
        # The tail is far below the view (the canvas pans, the page does not scroll): a
        # click event selects it as a real click would.
        node.click() if node.is_visible() and node.bounding_box()[
            "y"
        ] < 1000 else node.dispatch_event("click")
        page.wait_for_timeout(400)  # the selection reached Python; not timed
        deletes.append(timed_key(page, "Delete", victim, False))
        page.locator(".lc-canvas").focus()
        undos.append(timed_key(page, "Control+z", victim, True))
        page.wait_for_timeout(300)
    return deletes, undos


def second_delete_in_a_row(page, first: str, second: str) -> list[float]:
    """Delete `first`, then time deleting `second` (nothing the sidebar shows changes, so
    only the Build tab reruns); two Ctrl+Z bring both back. ROUNDS times."""
    times = []
    for _ in range(ROUNDS):
        for victim, timed in ((first, False), (second, True)):
            page.locator(f".react-flow__node[data-id='{victim}']").dispatch_event("click")
            page.wait_for_timeout(400)
            if timed:
                times.append(timed_key(page, "Delete", victim, False))
            else:
                page.keyboard.press("Delete")
                page.wait_for_timeout(600)
        for victim in (second, first):
            page.locator(".lc-canvas").focus()
            timed_key(page, "Control+z", victim, True)
            page.wait_for_timeout(300)
    return times


def two_hundred_nodes() -> Architecture:
    arch = Architecture("Two hundred")
    prev = arch.add_node("Input", {"shape": [32]}, id="x")
    for i in range(NODES - 1):
        kind = "Linear" if i % 2 == 0 else "ReLU"
        node = arch.add_node(kind, {"out_features": 32} if kind == "Linear" else {})
        arch.connect(prev, node)
        prev = node
    return arch  # no positions: the canvas lays it out with ELK when it opens


def start_app(home: str, port: int) -> subprocess.Popen:
    env = {**os.environ, "LAYERCRAFT_HOME": home, "STREAMLIT_BROWSER_GATHER_USAGE_STATS": "false"}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "streamlit",
            "run",
            "app.py",
            "--server.headless",
            "true",
            *SERVE,
            str(port),
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    for _ in range(120):
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=2)
            return proc
        except OSError:
            time.sleep(0.5)
    proc.terminate()
    raise RuntimeError("streamlit did not start")


def main() -> None:
    from playwright.sync_api import sync_playwright

    port = 8765
    with tempfile.TemporaryDirectory() as home:
        os.environ["LAYERCRAFT_HOME"] = home
        store.save_project("bench200", two_hundred_nodes())
        proc = start_app(home, port)
        try:
            with sync_playwright() as pw:
                browser = pw.chromium.launch(
                    executable_path=CHROMIUM, args=["--headless", "--no-sandbox", "--disable-gpu"]
                )
                page = browser.new_page(viewport={"width": 1600, "height": 1000})
                page.add_init_script(WIRE_JS)
                page.goto(f"http://127.0.0.1:{port}/?project=bench200")
                page.wait_for_function(
                    f"document.querySelectorAll('.react-flow__node').length === {NODES}",
                    timeout=120_000,
                )
                layouts = []
                for _ in range(ROUNDS):
                    page.evaluate("window.layercraftLayoutMs = undefined")
                    page.locator(".lc-toolbar button", has_text="Auto-layout").click()
                    page.wait_for_function("window.layercraftLayoutMs !== undefined")
                    layouts.append(page.evaluate("window.layercraftLayoutMs"))
                    page.wait_for_timeout(300)
                # relu1 is near the top: deleting it cuts the chain, so every layer below
                # changes (no shape). The tail changes only itself.
                deletes, undos = delete_and_undo(page, "relu1")
                tail_deletes, tail_undos = delete_and_undo(page, TAIL)
                in_a_row = second_delete_in_a_row(page, TAIL, "relu99")
                browser.close()
        finally:
            proc.terminate()
            proc.wait(timeout=10)
    print(f"canvas, {NODES} nodes in Chromium (medians of {ROUNDS}):")
    print(
        f"  ELK layout:                         {statistics.median(layouts):7.1f} ms (target < 300)"
    )
    print(
        f"  Delete key -> canvas without node:  {statistics.median(deletes):7.1f} ms (target < 150)"
    )
    print(
        f"  Ctrl+Z -> canvas with node again:   {statistics.median(undos):7.1f} ms (target < 150)"
    )
    print(
        f"  Delete the last layer:              {statistics.median(tail_deletes):7.1f} ms (target < 150)"
    )
    print(
        f"  Ctrl+Z -> last layer back:          {statistics.median(tail_undos):7.1f} ms (target < 150)"
    )
    print(
        f"  Delete, the second edit in a row:   {statistics.median(in_a_row):7.1f} ms (target < 150)"
    )
    print(
        f"  of which until the last reply arrived {statistics.median(wire_splits):5.1f} ms "
        "(median over every timed key; the rest is the browser redrawing)"
    )


if __name__ == "__main__":
    main()
