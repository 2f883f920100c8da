"""Concurrent edits and project ids: revisions, the tab that is behind, owners, bad ids."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from builder.errors import BuilderError
from builder.runs import RunStore
from builder.templates import load_template
from components import live_runs, store
from components.auth import owner_from
from tests.ui.navigate import open_tab

APP = Path(__file__).resolve().parents[2] / "app.py"


def start(project: str | None = None) -> AppTest:
    at = AppTest.from_file(str(APP), default_timeout=60)
    if project:
        at.query_params["project"] = project
    return at.run()


# ---- the store -------------------------------------------------------------------------------


def test_new_project_ids_are_128_bit_random_and_old_short_ids_still_load(home):
    ids = {store.new_project_id() for _ in range(100)}
    assert len(ids) == 100 and all(len(i) == 32 and int(i, 16) >= 0 for i in ids)
    old = "a1b2c3d4e5"  # the 10-hex-digit ids made before
    store.save_project(old, load_template("lenet5"))
    assert store.load_project(old).name == "LeNet-5"


def test_a_save_from_an_older_revision_is_refused_not_written(home):
    arch = load_template("mlp_digits")
    first = store.save_project("p1", arch, expected_revision=0)
    renamed = arch.copy()
    renamed.name = "Tab A"
    assert store.save_project("p1", renamed, expected_revision=first) == first + 1
    other = arch.copy()
    other.name = "Tab B"
    with pytest.raises(store.StaleRevision) as info:
        store.save_project("p1", other, expected_revision=first)
    assert info.value.revision == first + 1
    assert store.load_project("p1").name == "Tab A"  # nothing overwritten


def test_graph_file_stays_plain_graph_json_v1(home):
    store.save_project("p2", load_template("mlp_digits"))
    data = json.loads((home / "projects" / "p2.json").read_text())
    assert set(data) == {"format", "version", "name", "nodes", "edges"}
    assert store.read_meta("p2") == {"revision": 1, "owner": None}


def test_another_users_project_is_refused(home):
    store.save_project("p3", load_template("mlp_digits"), owner="ada@example.org")
    store.check_owner("p3", "ada@example.org")
    store.check_owner("p3", None)  # sign-in off: as before
    with pytest.raises(BuilderError, match="another user"):
        store.check_owner("p3", "eve@example.org")
    with pytest.raises(BuilderError, match="another user"):
        store.save_project("p3", load_template("lenet5"), owner="eve@example.org")


def test_owner_is_none_without_sign_in_configured():
    assert owner_from({}) is None  # no [auth] section: no is_logged_in key
    assert owner_from({"is_logged_in": False}) is None
    assert owner_from({"is_logged_in": True, "email": "ada@example.org"}) == "ada@example.org"


# ---- signed-in users (st.login configured) --------------------------------------------------


def start_as(user: dict, project: str | None = None) -> AppTest:
    at = AppTest.from_file(str(APP), default_timeout=60)
    at.user = user
    if project:
        at.query_params["project"] = project
    return at.run()


ADA = {"is_logged_in": True, "email": "ada@example.org", "name": "Ada"}
EVE = {"is_logged_in": True, "email": "eve@example.org", "name": "Eve"}


def test_a_signed_in_users_project_is_theirs_and_refused_to_another_user(home):
    ada = start_as(ADA)
    project = ada.query_params["project"]
    _rename(ada, "Ada's net")
    assert store.read_meta(project)["owner"] == "ada@example.org"

    eve = start_as(EVE, project)
    assert not eve.exception
    assert any("belongs to another user" in e.value for e in eve.error)
    assert eve.query_params["project"] != project  # Eve works in a new project of her own
    _rename(eve, "Eve's net")
    assert store.load_project(project).name == "Ada's net"  # nothing of Ada's overwritten
    assert store.read_meta(eve.query_params["project"])["owner"] == "eve@example.org"

    again = start_as(ADA, project)
    assert not again.error and again.session_state["arch"].name == "Ada's net"


def test_a_signed_in_users_runs_are_stamped_with_them_and_hidden_from_another_user(home):
    ada = open_tab(start_as(ADA), "Train")
    project = ada.query_params["project"]
    next(w for w in ada.number_input if w.key.startswith("cfg_epochs_")).set_value(1).run()
    ada.button(key="train_btn").click().run()
    trainer = ada.session_state["trainer"]
    assert trainer.join(timeout=120) and trainer.state == "finished"
    runs = RunStore(home=home)
    assert runs.get(trainer.run_id).owner == "ada@example.org"
    # Eve's run filed under Ada's project id (say, before Ada's project existed) stays hers.
    eves = runs.owned_by("eve@example.org").create(kind="train", project=project)
    ada = open_tab(start_as(ADA, project), "Runs")
    assert not ada.exception
    table = next(df.value for df in ada.dataframe if "run" in df.value.columns)
    assert list(table["run"]) == [trainer.run_id]
    with pytest.raises(BuilderError, match="belongs to another user"):
        live_runs.run_store("ada@example.org").get(eves)


def test_with_sign_in_configured_nobody_signed_in_gets_only_the_log_in_button(home):
    at = start_as({"is_logged_in": False})
    assert not at.exception
    assert any("Sign in" in i.value for i in at.info)
    assert [b.label for b in at.button] == ["Log in"]
    assert not (home / "projects").exists() or not list((home / "projects").glob("*.json"))


# ---- two tabs --------------------------------------------------------------------------------


def _rename(at: AppTest, name: str) -> AppTest:
    box = next(w for w in at.sidebar.text_input if w.key.startswith("graph_name"))
    return box.set_value(name).run()


def test_the_tab_that_is_behind_is_told_and_shows_the_newer_graph(home):
    project = "shared1"
    tab_a, tab_b = start(project), start(project)
    _rename(tab_a, "Renamed in A")
    assert store.load_project(project).name == "Renamed in A"
    # Tab B still shows the old graph and now edits it: it must not overwrite A's change.
    _rename(tab_b, "Renamed in B")
    assert not tab_b.exception
    assert store.load_project(project).name == "Renamed in A"
    assert tab_b.session_state["arch"].name == "Renamed in A"
    warnings = " ".join(w.value for w in tab_b.warning)
    assert "changed in another tab" in warnings and "not saved" in warnings
    # Now in step, B's next edit goes through.
    _rename(tab_b, "Renamed in B")
    assert store.load_project(project).name == "Renamed in B"


def test_a_tab_that_only_reruns_follows_a_newer_revision(home):
    project = "shared2"
    tab_a, tab_b = start(project), start(project)
    _rename(tab_a, "Newer")
    tab_b.run()
    assert tab_b.session_state["arch"].name == "Newer"
    assert any("changed in another tab" in w.value for w in tab_b.warning)


def test_a_second_newer_revision_replaces_the_first_warning_and_keeps_the_lost_edit(home):
    project = "shared3"
    tab_a, tab_b = start(project), start(project)
    _rename(tab_a, "First")
    _rename(tab_b, "Lost in B")  # refused: B was behind, so its edit is lost
    _rename(tab_a, "Second")
    tab_b.run()  # B follows revision 3, with no edit of its own in between
    assert tab_b.session_state["arch"].name == "Second"
    told = [w.value for w in tab_b.warning if "changed in another tab" in w.value]
    assert len(told) == 1, told
    assert "(revision 3)" in told[0] and "not saved" in told[0]


def test_an_invalid_project_id_in_the_url_says_so(home):
    at = start("../../etc/passwd")
    assert not at.exception
    assert any("is not valid" in e.value for e in at.error)
    assert at.query_params["project"] != "../../etc/passwd"


def test_an_unreadable_autosave_says_why_and_is_not_overwritten(home):
    (home / "projects").mkdir()
    broken = home / "projects" / "broken1.json"
    broken.write_text(
        '{"format": "layercraft", "version": 1, "nodes": [{"id": "x", "pos": [1e999]}]}'
    )
    at = start("broken1")
    assert any("Could not open project broken1" in e.value for e in at.error)
    assert at.query_params["project"] != "broken1"
    assert "1e999" in broken.read_text()
