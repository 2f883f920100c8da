"""The undo history and training settings that survive a reload (components/session_store)."""

from __future__ import annotations

import json

from components import session_store, store
from components.history import History
from tests.conftest import chain


def test_history_and_settings_round_trip_in_their_own_files():
    arch = chain([4], ("Linear", {"out_features": 3}))
    history = History()
    history.record(arch)
    session_store.save_session("p1", history=history)
    session_store.save_session("p1", settings={"epochs": 500})
    saved = session_store.load_session("p1")
    assert saved["settings"] == {"epochs": 500}
    assert saved["history"].past == [arch.to_json()]
    # Saving the history again does not touch the settings file, and the reverse.
    history.record(chain([4], "ReLU"))
    session_store.save_session("p1", history=history)
    assert session_store.load_session("p1")["settings"] == {"epochs": 500}
    assert len(session_store.load_session("p1")["history"].past) == 2


def test_a_session_file_from_before_the_split_still_gives_its_history():
    step = chain([4], "ReLU").to_json()
    path = session_store.session_path("old1")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        json.dumps({"history": {"past": [step], "future": []}, "settings": {"lr": 0.1}})
    )
    saved = session_store.load_session("old1")
    assert saved["history"].past == [step]
    assert saved["settings"] == {"lr": 0.1}


def test_history_text_is_the_json_of_the_kept_steps_and_follows_changes():
    history = History()
    for width in (1, 2, 3):
        history.record(chain([4], ("Linear", {"out_features": width})))
    assert json.loads(history.to_json_text(2)) == {"past": history.past[-2:], "future": []}
    history.undo(chain([4], "ReLU"))  # one step moves to the future
    assert json.loads(history.to_json_text(50)) == {"past": history.past, "future": history.future}
    assert len(history._texts) == 3  # only the steps still kept are remembered


def test_an_unreadable_history_file_falls_back_to_none():
    store.project_path("bad1").parent.mkdir(parents=True, exist_ok=True)
    session_store.history_path("bad1").write_text("{not json")
    assert session_store.load_session("bad1") == {"history": None, "settings": {}}
