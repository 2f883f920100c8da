"""The inspector's trainable switch freezes a layer in the graph (and so in training and export)."""

from __future__ import annotations

from pathlib import Path

from streamlit.testing.v1 import AppTest

APP = Path(__file__).resolve().parents[2] / "app.py"


def test_trainable_switch_freezes_the_selected_layer_and_undo_brings_it_back(tmp_path, monkeypatch):
    monkeypatch.setenv("LAYERCRAFT_HOME", str(tmp_path))
    at = AppTest.from_file(str(APP), default_timeout=60).run()
    at.session_state["selected"] = "fc1"
    at.run()
    switch = at.toggle(key="trainable_fc1")
    assert switch.value is True
    switch.set_value(False).run()
    assert not at.exception
    assert not at.session_state["arch"].trainable_of("fc1")
    assert at.session_state["arch"].to_json()["nodes"][2]["trainable"] is False
    at.button(key="undo").click().run()
    assert at.session_state["arch"].trainable_of("fc1")
    assert at.toggle(key="trainable_fc1").value is True
