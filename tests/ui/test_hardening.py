"""Issue 13 under AppTest: a failing panel stays in its panel; uploads, budgets, revisions."""

from __future__ import annotations

from pathlib import Path

from streamlit.testing.v1 import AppTest

from tests.ui.navigate import open_tab

APP = Path(__file__).resolve().parents[2] / "app.py"


def start(project: str | None = None) -> AppTest:
    at = AppTest.from_file(str(APP), default_timeout=60)
    if project:
        at.query_params["project"] = project
    return at.run()


def test_a_failing_panel_shows_a_message_there_and_the_rest_of_the_page_works(home, monkeypatch):
    import components.export_tab as export_tab

    def broken():
        raise OverflowError("int too large to convert to float /srv/secret/path.py")

    monkeypatch.setattr(export_tab, "render_export", broken)
    at = open_tab(start(), "Export")
    assert not at.exception
    errors = [e.value for e in at.error]
    assert any(e.startswith("Export could not be shown (OverflowError)") for e in errors)
    assert not any("/srv/secret" in e for e in errors)  # no server paths on the page
    # The other panels still drew: the canvas, the inspector, the palette; then the Train tab.
    assert any(e.type == "bidi_component" for e in at.main)
    assert at.sidebar.text_input(key="palette_search") is not None
    at = open_tab(at, "Train")
    assert at.button(key="train_btn") is not None
    assert any(w.key == "dataset_pick" for w in at.selectbox)


def test_train_tab_refuses_a_model_that_would_not_fit_and_offers_a_batch_that_does(
    home, monkeypatch
):
    from builder import budget
    from tests.unit.test_budget import GIB, upsampling_model

    monkeypatch.setattr(budget, "free_memory", lambda device="cpu": 16 * GIB)
    at = open_tab(start(), "Train")
    at.session_state["arch"] = upsampling_model()
    at.session_state["version"] = at.session_state["version"] + 1
    at.run()
    assert not at.exception
    assert any("more than the" in e.value for e in at.error)
    assert at.button(key="train_btn").disabled
    offer = [b for b in at.button if b.key == "fit_batch_btn"]
    assert offer, "no smaller batch offered"
    offer[0].click().run()
    assert at.session_state["cfg_batch"] < 64
    assert not at.button(key="train_btn").disabled  # the batch offered fits, validation too


def test_upload_cache_returns_memory_when_the_session_drops_it(monkeypatch):
    import gc

    from components import uploads

    calls = []
    monkeypatch.setattr(uploads, "release_freed_memory", lambda: calls.append(1))
    cache = uploads.UploadCache()
    cache.put(("k",), object())
    assert cache.get(("k",)) is not None and cache.get(("other",)) is None
    del cache
    gc.collect()
    assert calls == [1]


def test_upload_states_the_size_limit_on_the_page(home):
    at = open_tab(start(), "Train")
    at.selectbox(key="dataset_pick").set_value("Upload a file…").run()
    assert not at.exception
    captions = " ".join(c.value for c in at.caption)
    assert "Up to 200 MB per file" in captions
    assert "zip of the four standard files" in captions


def test_export_tab_after_an_edit_says_so_and_offers_the_last_runs_graph(home):
    import torch

    from builder.data import load_dataset
    from builder.training import TrainConfig, Trainer

    at = start()
    torch.manual_seed(0)
    trainer = Trainer(
        at.session_state["arch"].copy(), load_dataset("digits"), TrainConfig(epochs=1, device="cpu")
    )
    trainer.run()
    edited = trainer.arch.copy()
    edited.update_params("fc1", out_features=48)
    at.session_state["trainer"] = trainer
    from components.dashboard import new_curves

    live = {"cursor": 0, "curves": new_curves(), "last_step": None, "started": 0.0, "view": {}}
    live.update(snap_time=0.0, snap_wait=1.0, steps_per_epoch=23)
    for key, value in live.items():
        at.session_state[key] = value
    at.session_state["arch"] = edited
    at.session_state["version"] = at.session_state["version"] + 1
    at = open_tab(at, "Export")
    assert not at.exception
    assert not any("could not be shown" in e.value for e in at.error)
    assert any("changed since the last run" in w.value for w in at.warning)
    assert any(b.key == "dl_weights_off" for b in at.button)  # no old weights for new code
    code = next(c for c in at.code if "class" in c.value)
    assert "nn.Linear(64, 48)" in code.value
    at.radio(key="export_which").set_value("last_run").run()
    code = next(c for c in at.code if "class" in c.value)
    assert "nn.Linear(64, 64)" in code.value
    assert not any(b.key == "dl_weights_off" for b in at.button)
