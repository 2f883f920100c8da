"""The Compress tab in a Streamlit AppTest: pick a finished run, prune it, see the comparison."""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from builder.data import load_dataset
from builder.runs import RunStore
from builder.templates import load_template
from builder.training import TrainConfig, Trainer
from components.compress_view import comparison_rows, distill_curves_figure


def _page():
    from components.compress_view import render_compress_view

    render_compress_view()


@pytest.fixture
def finished_run() -> str:
    trainer = Trainer(
        load_template("mlp_digits"),
        load_dataset("digits"),
        TrainConfig(epochs=2, device="cpu"),
        store=RunStore(),
    )
    trainer.run()
    assert trainer.state == "finished"
    return trainer.run_id


def test_compress_view_asks_for_a_finished_run_first():
    at = AppTest.from_function(_page, default_timeout=60).run()
    assert not at.exception
    assert any("Train a model first" in i.value for i in at.info)


def test_pruning_a_finished_run_adds_a_row_to_the_comparison_and_an_export(finished_run):
    at = AppTest.from_function(_page, default_timeout=60).run()
    assert at.selectbox(key="compress_run").value == finished_run
    at.radio(key="compress_method").set_value("Global pruning")
    at.number_input(key="compress_finetune").set_value(0)
    at.button(key="compress_btn").click().run()
    job = at.session_state["compress_job"]
    assert job.join(timeout=120), "the compression did not end"
    assert job.state == "finished", job.message
    at.run()
    assert not at.exception
    table = at.table[0].value
    assert list(table.index) == [finished_run, job.result.report["run"]]
    assert list(table["method"]) == ["original", "prune global 0.5"]
    assert any("done" in s.value for s in at.success)


def test_a_quantization_the_graph_cannot_take_shows_the_message_naming_the_node():
    from builder.compile import compile_model

    store = RunStore()
    arch = load_template("lenet_digits")
    run_id = store.create(kind="train", graph=arch.to_json(), dataset="digits")
    store.finish(run_id, summary={"val_accuracy": 0.1}, state_dict=compile_model(arch).state_dict())
    at = AppTest.from_function(_page, default_timeout=60).run()
    at.radio(key="compress_method").set_value("Dynamic int8 (Linear, LSTM, GRU, Embedding)").run()
    at.button(key="compress_btn").click().run()
    job = at.session_state["compress_job"]
    assert job.join(timeout=120)
    at.run()
    assert not at.exception
    assert job.state == "failed"
    assert any("conv1: dynamic int8 has no kernel for Conv2d" in e.value for e in at.error)


def test_comparison_rows_and_curves_need_no_streamlit():
    class Record:
        def __init__(self, id, summary, kind="compress"):
            self.id, self.summary, self.kind = id, summary, kind

    report = {"method": "prune global 0.5", "metric": "val_accuracy", "params_before": 100,
              "params_after": 50, "bytes_before": 4000, "bytes_after": 4000,
              "latency_ms_before": 1.0, "latency_ms_after": 0.5, "metric_before": 0.9,
              "metric_after": 0.89}  # fmt: skip
    rows = comparison_rows(Record("a", {}), [Record("b", report)])
    assert [r["parameters (non-zero)"] for r in rows] == ["100", "50"]
    assert comparison_rows(Record("a", {}), []) == []
    events = [{"kind": "epoch", "split": "val", "epoch": 1, "accuracy": 0.5}]
    assert len(distill_curves_figure(events, events).data) == 2


def test_distilling_on_a_share_of_the_data_trains_the_student_on_that_share(finished_run):
    at = AppTest.from_function(_page, default_timeout=60)
    at.session_state["arch"] = load_template("mlp_digits")  # the student: the canvas graph
    at.run()
    at.radio(key="compress_method").set_value("Distil into the graph on the canvas").run()
    at.number_input(key="compress_epochs").set_value(2)
    at.number_input(key="compress_share").set_value(10)
    at.button(key="compress_btn").click().run()
    job = at.session_state["compress_job"]
    assert job.join(timeout=120), "the distillation did not end"
    assert job.state == "finished", job.message
    assert job.request.train_fraction == 0.1
    whole = len(load_dataset("digits").x_train)
    assert job.result.report["train_samples"] == round(0.1 * whole)
    at.run()
    assert not at.exception
