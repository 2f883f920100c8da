"""The Search tab under AppTest: mark params, run trials in the background, apply the best, undo."""

from __future__ import annotations

from pathlib import Path

from streamlit.testing.v1 import AppTest

from builder.runs import RunStore
from tests.ui.navigate import open_tab

APP = Path(__file__).resolve().parents[2] / "app.py"


def frame_with(at, column: str):
    """The first dataframe on the page with that column, as pandas."""
    return next(d.value for d in at.dataframe if column in d.value.columns)


def test_mark_two_params_run_trials_apply_the_best_then_undo(home):
    at = AppTest.from_file(str(APP), default_timeout=60).run()
    at.session_state["selected"] = "fc1"
    at.run()
    at.toggle(key="search_on_fc1_out_features").set_value(True).run()
    assert at.session_state["arch"].search == {
        "params": {"fc1": {"out_features": {"low": 32, "high": 128}}}
    }
    at.text_input(key="search_range_fc1_out_features").set_value("8..24").run()
    at = open_tab(at, "Search")
    at.toggle(key="search_train_lr").set_value(True).run()
    space = at.session_state["arch"].search
    assert space["params"]["fc1"]["out_features"] == {"low": 8, "high": 24}
    assert space["train"]["lr"] == {"low": 0.0001, "high": 0.1, "log": True}
    assert "lr" in list(frame_with(at, "searched")["searched"])

    at.number_input(key="search_trials").set_value(3)
    at.number_input(key="search_epochs").set_value(1)
    at.selectbox(key="search_pruner").set_value("none")
    at.button(key="search_run").click().run()
    job = at.session_state["search_job"]
    assert job.join(120) and job.state == "finished", job.message
    at.run()
    assert not at.exception
    table = frame_with(at, "trial")
    assert list(table["trial"]) == [0, 1, 2] and set(table["state"]) == {"complete"}
    runs = RunStore(home).list(kind="trial")
    assert sorted(r.id for r in runs) == sorted(table["run"])

    best = job.best()["best_params"]["fc1.out_features"]
    at.button(key="search_apply").click().run()
    assert at.session_state["arch"].params_of("fc1")["out_features"] == best
    assert any("Applied trial" in m.value for m in at.success)
    at.button(key="undo").click().run()
    assert at.session_state["arch"].params_of("fc1")["out_features"] == 64


def test_a_bad_range_is_refused_with_a_message_and_changes_nothing(home):
    at = AppTest.from_file(str(APP), default_timeout=60).run()
    at.session_state["selected"] = "fc1"
    at.run()
    at.toggle(key="search_on_fc1_out_features").set_value(True).run()
    before = at.session_state["arch"].to_json()
    at.text_input(key="search_range_fc1_out_features").set_value("64..8").run()
    assert any("fc1.out_features" in e.value and "empty" in e.value for e in at.error)
    assert at.session_state["arch"].to_json() == before
    assert at.text_input(key="search_range_fc1_out_features").value == "32..128"
