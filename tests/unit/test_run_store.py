"""The run store: records, events, weights, errors, WAL, two writing processes, recording trainers."""

import sqlite3
import subprocess
import sys
import textwrap

import pytest
import torch

from builder.compile import compile_model
from builder.data import load_dataset
from builder.errors import BuilderError
from builder.gan import GanConfig, GanTrainer
from builder.runs import RunRecord, RunStore
from builder.templates import load_template
from builder.training import TrainConfig, Trainer
from tests.conftest import chain


@pytest.fixture
def store(tmp_path):
    return RunStore(home=tmp_path)


def _mlp():
    return chain((2,), ("Linear", {"out_features": 8}), "ReLU", ("Linear", {"out_features": 2}))


def test_create_then_get_round_trips_every_field(store):
    arch = _mlp()
    run_id = store.create(
        kind="train",
        project="p1",
        graph=arch.to_json(),
        config={"epochs": 3},
        dataset="moons",
        source="class M: pass",
        parent=None,
        note="first",
        extra={"seed": 1},
    )
    rec = store.get(run_id)
    assert isinstance(run_id, str) and isinstance(rec, RunRecord)
    assert (rec.id, rec.kind, rec.project, rec.status) == (run_id, "train", "p1", "running")
    assert rec.graph == arch.to_json() and rec.config == {"epochs": 3}
    assert (rec.dataset, rec.source, rec.note, rec.parent) == (
        "moons",
        "class M: pass",
        "first",
        None,
    )
    assert rec.extra == {"seed": 1} and rec.summary == {}
    assert rec.started > 0 and rec.ended is None


def test_home_none_uses_layercraft_home(tmp_path, monkeypatch):
    monkeypatch.setenv("LAYERCRAFT_HOME", str(tmp_path / "h"))
    store = RunStore()
    assert store.db_path == tmp_path / "h" / "runs" / "runs.db"
    assert store.db_path.is_file()


def test_database_is_in_wal_mode(store):
    with sqlite3.connect(store.db_path) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_events_come_back_in_order_across_batches(store):
    run_id = store.create(kind="train")
    store.add_events(run_id, [{"kind": "step", "step": i, "loss": 1.0 / (i + 1)} for i in range(3)])
    store.add_events(run_id, [{"kind": "epoch", "step": 3, "loss": float("nan")}])
    events = store.events(run_id)
    assert [e["step"] for e in events] == [0, 1, 2, 3]
    assert events[3]["loss"] != events[3]["loss"]  # NaN survives the round trip
    assert [e["step"] for e in store.events(run_id, after=2)] == [2, 3]


def test_finish_saves_summary_and_safetensors_weights(store):
    model = torch.nn.Linear(3, 2)
    run_id = store.create(kind="train")
    store.finish(
        run_id, status="finished", summary={"val_loss": 0.5}, state_dict=model.state_dict()
    )
    rec = store.get(run_id)
    assert rec.status == "finished" and rec.summary == {"val_loss": 0.5}
    assert rec.ended >= rec.started
    assert (store.root / run_id / "weights.safetensors").is_file()
    loaded = store.load_state_dict(run_id)
    assert set(loaded) == {"weight", "bias"}
    assert torch.equal(loaded["weight"], model.weight.detach())


def test_run_without_weights_loads_none(store):
    run_id = store.create(kind="trial")
    store.finish(run_id, status="failed", summary={"message": "NaN"})
    assert store.load_state_dict(run_id) is None
    assert store.get(run_id).status == "failed"


def test_finish_rejects_a_status_that_is_not_terminal(store):
    run_id = store.create(kind="train")
    with pytest.raises(BuilderError) as err:
        store.finish(run_id, status="running")
    assert err.value.field == "status"


def test_unknown_kind_is_refused(store):
    with pytest.raises(BuilderError) as err:
        store.create(kind="party")
    assert err.value.field == "kind"


@pytest.mark.parametrize(
    "call",
    [
        lambda s: s.get("nope"),
        lambda s: s.events("nope"),
        lambda s: s.add_events("nope", [{"kind": "step"}]),
        lambda s: s.finish("nope", status="finished"),
        lambda s: s.set_note("nope", "x"),
        lambda s: s.load_state_dict("nope"),
        lambda s: s.get("../../etc"),
    ],
)
def test_unknown_run_ids_raise_a_builder_error_naming_the_run_field(store, call):
    with pytest.raises(BuilderError) as err:
        call(store)
    assert err.value.field == "run"


def test_list_is_newest_first_and_filters_by_project_and_kind(store):
    a = store.create(kind="train", project="p")
    b = store.create(kind="gan", project="p")
    c = store.create(kind="train", project="q")
    assert [r.id for r in store.list()] == [c, b, a]
    assert [r.id for r in store.list(project="p")] == [b, a]
    assert [r.id for r in store.list(kind="train")] == [c, a]
    assert [r.id for r in store.list(project="p", kind="train")] == [a]


def test_runs_belong_to_the_user_whose_store_view_made_them(store):
    alice, bob = store.owned_by("alice@example.com"), store.owned_by("bob@example.com")
    hers = alice.create(kind="train", project="p")
    his = bob.create(kind="train", project="p")
    open_run = store.create(kind="train", project="p")  # no sign-in, or the CLI
    assert store.get(hers).owner == "alice@example.com" and store.get(open_run).owner is None
    assert [r.id for r in alice.list(project="p")] == [open_run, hers]
    assert {r.id for r in store.list()} == {hers, his, open_run}  # without sign-in: all
    for refused in (
        lambda: alice.get(his),
        lambda: alice.events(his),
        lambda: alice.load_state_dict(his),
        lambda: alice.set_note(his, "mine now"),
        lambda: alice.finish(his),
        lambda: alice.delete(his),
    ):
        with pytest.raises(BuilderError, match="belongs to another user") as err:
            refused()
        assert err.value.field == "run"
    assert store.get(his).status == "running" and store.get(his).note == ""
    assert alice.get(open_run).id == open_run


def test_a_store_made_before_runs_had_owners_gains_the_column_and_keeps_its_runs(tmp_path):
    db = tmp_path / "runs" / "runs.db"
    db.parent.mkdir()
    with sqlite3.connect(db) as conn:  # the schema as it was, with one run in it
        conn.execute(
            "CREATE TABLE runs (id TEXT PRIMARY KEY, kind TEXT NOT NULL, project TEXT,"
            " status TEXT NOT NULL, graph TEXT, config TEXT, dataset TEXT, source TEXT,"
            " summary TEXT, note TEXT NOT NULL DEFAULT '', parent TEXT, extra TEXT,"
            " started REAL NOT NULL, ended REAL, pid INTEGER, host TEXT)"
        )
        conn.execute(
            "INSERT INTO runs (id, kind, status, summary, config, extra, started)"
            " VALUES ('old1', 'train', 'finished', '{}', '{}', '{}', 1.0)"
        )
    conn.close()
    store = RunStore(home=tmp_path)
    assert store.get("old1").owner is None
    assert store.owned_by("alice").get("old1").id == "old1"  # unowned: open to all
    assert store.owned_by("alice").get(store.owned_by("alice").create()).owner == "alice"


def test_set_note_changes_only_the_note(store):
    run_id = store.create(kind="train", note="old")
    store.set_note(run_id, "lr too high")
    rec = store.get(run_id)
    assert rec.note == "lr too high" and rec.status == "running"


_WRITER = textwrap.dedent(
    """
    import sys
    from builder.runs import RunStore
    store = RunStore(home=sys.argv[1])
    for i in range(int(sys.argv[3])):
        run_id = store.create(kind="train", project=sys.argv[2], note=str(i))
        store.add_events(run_id, [{"kind": "step", "step": s, "who": sys.argv[2]} for s in range(5)])
        store.finish(run_id, status="finished", summary={"i": i})
    """
)


def test_two_processes_writing_the_same_home_do_not_corrupt_it(tmp_path):
    RunStore(home=tmp_path)  # the schema exists before both start
    n = 150
    procs = [
        subprocess.Popen([sys.executable, "-c", _WRITER, str(tmp_path), who, str(n)])
        for who in ("a", "b")
    ]
    assert [p.wait(timeout=120) for p in procs] == [0, 0]
    store = RunStore(home=tmp_path)
    with sqlite3.connect(store.db_path) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    for who in ("a", "b"):
        runs = store.list(project=who)
        assert len(runs) == n
        assert all(r.status == "finished" for r in runs)
        assert sorted(r.summary["i"] for r in runs) == list(range(n))
        events = store.events(runs[0].id)
        assert [e["step"] for e in events] == list(range(5))
        assert {e["who"] for e in events} == {who}
    a, b = store.list(project="a"), store.list(project="b")
    # The two writers really overlapped in time (else the test proves nothing).
    assert min(r.started for r in b) < max(r.started for r in a)
    assert min(r.started for r in a) < max(r.started for r in b)


# ---- trainers record themselves -----------------------------------------------------------


def test_trainer_with_a_store_records_graph_config_events_summary_and_weights(store):
    arch = _mlp()
    ds = load_dataset("moons", n_samples=200)
    config = TrainConfig(epochs=3, batch_size=32, device="cpu")
    trainer = Trainer(arch, ds, config, store=store, project="p1")
    summary = trainer.run()
    rec = store.get(trainer.run_id)
    assert rec.status == "finished" and rec.project == "p1" and rec.kind == "train"
    assert rec.graph == arch.to_json() and rec.config == config.to_dict()
    assert rec.dataset == "moons" and "class" in rec.source
    assert rec.summary["val_loss"] == pytest.approx(summary["val_loss"])
    stored = store.events(trainer.run_id)
    assert stored == trainer.events_since(0)[0]
    assert [e["epoch"] for e in stored if e["kind"] == "epoch" and e["split"] == "val"] == [1, 2, 3]
    fresh = compile_model(arch)
    fresh.load_state_dict(store.load_state_dict(trainer.run_id))
    for key, value in trainer.model.state_dict().items():
        assert torch.equal(fresh.state_dict()[key], value)


def test_a_stopped_trainer_ends_its_record_as_stopped(store):
    ds = load_dataset("moons", n_samples=200)
    trainer = Trainer(_mlp(), ds, TrainConfig(epochs=50, device="cpu"), store=store)
    trainer.stop()
    trainer.run()
    rec = store.get(trainer.run_id)
    assert rec.status == "stopped" and rec.summary["state"] == "stopped"
    assert rec.ended is not None


def test_gan_trainer_records_both_graphs_and_both_weights(store):
    gen, disc = load_template("gan_generator"), load_template("gan_discriminator")
    data = load_dataset("digits", task="reconstruction", n_samples=64)
    config = GanConfig(epochs=1, batch_size=32, device="cpu", n_samples=4)
    trainer = GanTrainer(gen, disc, data, config, store=store, project="g")
    trainer.run()
    rec = store.get(trainer.run_id)
    assert rec.kind == "gan" and rec.status == "finished"
    assert rec.graph == gen.to_json() and rec.extra["discriminator_graph"] == disc.to_json()
    weights = store.load_state_dict(trainer.run_id)
    assert any(k.startswith("generator.") for k in weights)
    assert any(k.startswith("discriminator.") for k in weights)
