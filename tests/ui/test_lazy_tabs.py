"""Only the open tab runs: closed tabs keep their widgets' values, and a run started on the
Train tab is followed, kept watched and (when queued) started while that tab is closed.
The palette draws every item, open or not."""

from __future__ import annotations

from pathlib import Path

from streamlit.testing.v1 import AppTest

from components import jobs, live_runs
from tests.ui.navigate import layer_button, open_tab

APP = Path(__file__).resolve().parents[2] / "app.py"


class HeldSlot:
    """Another session's run, holding a slot until it finishes."""

    state = "running"


def _epochs(at: AppTest):
    return next(w for w in at.number_input if w.key.startswith("cfg_epochs_"))


def test_a_closed_tab_is_not_run_and_keeps_its_settings(home):
    at = AppTest.from_file(str(APP), default_timeout=60).run()
    assert not at.exception
    assert not any(w.key == "dataset_pick" for w in at.selectbox)  # the Train tab did not run
    assert at.session_state["current_dataset"].name == "digits"  # the canvas's fixes know it
    at = open_tab(at, "Train")
    at.selectbox(key="dataset_pick").set_value("moons").run()
    _epochs(at).set_value(7).run()
    at.number_input(key="cfg_batch").set_value(16).run()
    at = open_tab(at, "Build")
    layer_button(at, "Dropout").click().run()
    at = open_tab(at, "Search")
    at.number_input(key="search_trials").set_value(4).run()
    at = open_tab(at, "Train")
    assert not at.exception
    assert at.selectbox(key="dataset_pick").value == "moons"
    assert _epochs(at).value == 7 and at.number_input(key="cfg_batch").value == 16
    assert open_tab(at, "Search").number_input(key="search_trials").value == 4


def test_a_run_is_watched_while_the_train_tab_is_closed(home):
    at = open_tab(AppTest.from_file(str(APP), default_timeout=60).run(), "Train")
    _epochs(at).set_value(1000).run()
    at.number_input(key="cfg_idle").set_value(1).run()  # stop it when unwatched for a minute
    at.button(key="train_btn").click().run()
    trainer = at.session_state["trainer"]
    try:
        at = open_tab(at, "Build")
        seen_before = live_runs._watched[id(trainer)][0]
        at.run()  # the canvas's once-a-second tick
        assert live_runs._watched[id(trainer)][0] > seen_before
        assert trainer.running
    finally:
        trainer.stop()
        trainer.join(timeout=60)


def test_a_queued_run_starts_when_a_slot_frees_with_the_train_tab_closed(home, monkeypatch):
    slots = jobs.JobSlots(1)
    monkeypatch.setattr("components.dashboard.SLOTS", slots)
    other = HeldSlot()
    slots.acquire("someone else")
    slots.attach("someone else", other)
    at = open_tab(AppTest.from_file(str(APP), default_timeout=60).run(), "Train")
    _epochs(at).set_value(1).run()
    at.button(key="train_btn").click().run()
    assert at.session_state["pending"] is not None
    assert any("Queued" in m.value for m in at.info)
    at = open_tab(at, "Build")
    assert at.session_state["pending"] is not None  # still in line
    other.state = "finished"
    at.run()  # the queue's poll, from the Build tab
    assert not at.exception
    assert at.session_state.get("pending") is None
    trainer = at.session_state["trainer"]
    assert trainer.join(timeout=60) and trainer.state == "finished"


def test_every_palette_item_is_drawn_open_or_not_and_a_search_keeps_its_matches(home):
    # The canvas contract: each palette item carries data-layer-type in the page, so a
    # closed category still draws its buttons (hidden in the browser).
    at = AppTest.from_file(str(APP), default_timeout=60).run()
    everything = {b.key for b in at.sidebar.button if b.key.startswith("add_")}
    assert {"add_Conv2d", "add_Linear", "add_LSTM"} <= everything
    at.sidebar.text_input(key="palette_search").set_value("conv").run()
    found = {b.key for b in at.sidebar.button if b.key.startswith("add_")}
    assert "add_Conv2d" in found and "add_Linear" not in found
    at.sidebar.text_input(key="palette_search").set_value("").run()
    layer_button(at, "Linear").click().run()
    assert "fc3" in at.session_state["arch"].node_ids
