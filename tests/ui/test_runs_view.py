"""The Runs tab: the project's runs from the store, compare (curves, settings, graph diff),
open a run's graph, export a run with its weights."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import plotly.io
from streamlit.testing.v1 import AppTest

from builder.data import load_dataset
from builder.graph import Architecture
from builder.runs import RunStore
from builder.runs.compare import graph_diff
from builder.training import TrainConfig, Trainer
from components.runs_view import ADDED, CHANGED, diff_colours, epoch_series, runs_table
from tests.ui.navigate import open_tab

APP = Path(__file__).resolve().parents[2] / "app.py"
PROJECT = "runs_view_proj"


def _two_runs(home) -> tuple[str, str]:
    store = RunStore(home=home)
    data = load_dataset("digits", n_samples=300)
    base = Architecture.load("assets/templates/mlp_digits.json")
    wider = base.copy()
    wider.set_params("fc1", {"out_features": 32})
    wider.insert_after("relu1", "Dropout", {"p": 0.1})
    ids = []
    for arch, lr in ((base, 1e-3), (wider, 1e-2)):
        trainer = Trainer(
            arch, data, TrainConfig(epochs=2, lr=lr, device="cpu"), store=store, project=PROJECT
        )
        trainer.run()
        ids.append(trainer.run_id)
    return ids[0], ids[1]


def _runs_app() -> AppTest:
    at = AppTest.from_file(str(APP), default_timeout=60)
    at.query_params["project"] = PROJECT
    return open_tab(at.run(), "Runs")


def test_runs_tab_lists_the_projects_runs_and_compares_two(home):
    first, second = _two_runs(home)
    at = _runs_app()
    assert not at.exception
    table = next(df.value for df in at.dataframe if "run" in df.value.columns)
    assert list(table["run"]) == [second, first]
    assert set(table["status"]) == {"finished"} and list(table["epochs"]) == [2, 2]
    at.multiselect(key="runs_pick").set_value([first, second]).run()
    assert not at.exception
    figure = plotly.io.from_json(at.get("plotly_chart")[0].proto.spec)
    names = {trace.name for trace in figure.data}
    assert {f"{first} val loss", f"{second} val loss"} <= names
    settings = at.dataframe[-1].value
    assert "≠ lr" in settings.index and "epochs" in settings.index
    diagrams = [chart.proto.spec for chart in at.get("graphviz_chart")]
    assert len(diagrams) == 2
    assert ADDED in diagrams[1] and CHANGED in diagrams[0] and CHANGED in diagrams[1]
    assert "1 added" in " ".join(m.value for m in at.markdown)


def test_open_a_runs_graph_puts_it_on_the_canvas(home):
    _first, second = _two_runs(home)
    at = _runs_app()
    at.multiselect(key="runs_pick").set_value([second]).run()
    at.button(key="open_run_graph").click().run()
    assert not at.exception
    assert at.session_state["arch"].params_of("fc1")["out_features"] == 32
    assert "dropout1" in at.session_state["arch"].node_ids


def test_export_a_run_gives_the_bundle_with_its_trained_weights(home):
    first, _ = _two_runs(home)
    at = _runs_app()
    at.multiselect(key="runs_pick").set_value([first]).run()
    button = at.get("download_button")[0]
    assert "Export this run" in button.proto.label
    # The bytes behind the button are the run's bundle: rebuild them the same way.
    from builder.export import bundle_zip
    from builder.runs.cli import bundle_options

    data = bundle_zip(**bundle_options(RunStore(home=home), first), onnx=False)
    names = zipfile.ZipFile(io.BytesIO(data)).namelist()
    assert any(n.endswith("weights.safetensors") for n in names)


def test_table_rows_series_and_diff_colours_follow_the_records(home):
    first, second = _two_runs(home)
    store = RunStore(home=home)
    table = runs_table(store.list(project=PROJECT))
    assert list(table.columns) == [
        "run", "kind", "status", "dataset", "epochs", "best val", "metric",
        "duration (s)", "params", "note",
    ]  # fmt: skip
    assert table["params"].iloc[1] == 4810
    series = epoch_series(store.events(first))
    assert list(series["val loss"]) == [1, 2] and list(series["train accuracy"]) == [1, 2]
    diff = graph_diff(store.get(first).graph, store.get(second).graph)
    left, right = diff_colours(diff)
    assert right["dropout1"] == ADDED and left["fc1"] == CHANGED == right["fc1"]
