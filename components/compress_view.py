"""Compress: prune, quantize or distill a finished run, compare the results, export each one.

Every compression is a run in the store whose parent is the original, so the table is
rebuilt from the store on each rerun (a reload or a second tab sees the same rows).
"""

from __future__ import annotations

import io
import uuid
import zipfile
from pathlib import Path

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from builder.compress import CompressRequest
from builder.compress.job import CompressJob
from builder.errors import BuilderError
from builder.graph import Architecture
from builder.runs import default_home

from . import state

S = st.session_state
METHODS = {
    "Global pruning": ("prune", {}),
    "Channel pruning (smaller layers)": ("prune", {"structured": True}),
    "Dynamic int8 (Linear, LSTM, GRU, Embedding)": ("quantize", {"quantization": "dynamic"}),
    "Static int8 (conv nets)": ("quantize", {"quantization": "static"}),
    "Distil into the graph on the canvas": ("distill", {}),
}
SOURCE_KINDS = ("train", "compress", "distill")


# ---- plain helpers (no Streamlit) -----------------------------------------------------------


def comparison_rows(original, children) -> list[dict]:
    """The table: the original run, then each compression of it (figures from their reports)."""
    reports = [c.summary for c in children if c.summary.get("params_before") is not None]
    if not reports:
        return []
    first = reports[-1]  # the oldest child measured the original first
    rows = [_row(original.id, "original", first, "before")]
    rows += [_row(c.id, c.summary.get("method", c.kind), c.summary, "after") for c in children]
    return rows


def _row(run_id: str, method: str, report: dict, side: str) -> dict:
    metric = report.get("metric", "metric")
    return {
        "run": run_id,
        "method": method,
        "parameters (non-zero)": f"{report.get(f'params_{side}', 0):,}",
        "file size": _size(report.get(f"bytes_{side}", 0)),
        "CPU latency / batch of 64": f"{report.get(f'latency_ms_{side}', 0):.3f} ms",
        metric: f"{report.get(f'metric_{side}', 0):.4f}",
    }


def _size(n: int) -> str:
    return f"{n / 1024:.1f} KiB" if n >= 1024 else f"{n} B"


def folder_zip(folder: Path) -> bytes:
    """Every file of a bundle folder in a zip, under the folder's name."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(folder.iterdir()):
            if path.is_file():
                archive.write(path, f"{folder.name}/{path.name}")
    return buffer.getvalue()


def distill_curves_figure(distilled: list[dict], alone: list[dict]):
    """Validation accuracy per epoch: the distilled student beside the same student alone."""
    fig = go.Figure()
    for name, events in (("distilled student", distilled), ("student alone", alone)):
        points = [e for e in events if e.get("kind") == "epoch" and e.get("split") == "val"]
        fig.add_trace(
            go.Scatter(
                x=[e["epoch"] for e in points],
                y=[e["accuracy"] for e in points],
                name=name,
                mode="lines+markers",
            )
        )
    fig.update_layout(
        height=300,
        xaxis_title="epoch",
        yaxis_title="val accuracy",
        margin=dict(l=0, r=0, t=10, b=0),
    )
    return fig


# ---- Streamlit ------------------------------------------------------------------------------


def render_compress_view() -> None:
    store = state.run_store()
    runs = [
        r
        for r in store.list(project=S.get("project_id"))
        if r.kind in SOURCE_KINDS and r.status in ("finished", "stopped") and r.has_weights
    ]
    if not runs:
        st.info(
            "Train a model first: finished runs can be compressed here.", icon=":material/compress:"
        )
        return
    labels = {r.id: _run_label(r) for r in runs}
    run_id = st.selectbox(
        "Finished run",
        list(labels),
        format_func=labels.get,
        key="compress_run",
        persist_state="session",
    )
    original = store.get(run_id)
    _render_form(original)
    st.fragment(run_every=1.0 if _job_running() else None)(_render_results)(run_id)


def _run_label(record) -> str:
    name = (record.graph or {}).get("name", "model")
    metric = record.summary.get("val_accuracy")
    score = f" · val acc {metric:.3f}" if isinstance(metric, float) else ""
    return f"{record.id} · {record.kind} · {name} · {record.dataset}{score}"


def _render_form(original) -> None:
    # The button's callback reads these widgets from session state: arguments bound at
    # render time would hold the values from before the user's last change.
    method = st.radio(
        "Method", list(METHODS), key="compress_method", persist_state="session", horizontal=True
    )
    kind = METHODS[method][0]
    c1, c2, c3 = st.columns(3)
    if kind == "prune":
        c1.slider(
            "Fraction to remove", 0.05, 0.95, 0.5, 0.05, key="compress_sparsity", persist_state="session",
            help="Of all weights (global) or of each layer's channels (channel pruning).",
        )  # fmt: skip
        c2.number_input(
            "Fine-tune epochs", 0, 50, 2, key="compress_finetune", persist_state="session"
        )
    if kind == "distill":
        c1.number_input("Epochs", 1, 2000, 10, key="compress_epochs", persist_state="session")
        c2.number_input(
            "Temperature", 0.5, 20.0, 4.0, 0.5, key="compress_temperature", persist_state="session"
        )
        c3.slider(
            "Weight of the teacher", 0.0, 1.0, 0.7, key="compress_alpha", persist_state="session"
        )
        c1.number_input(
            "Training data (%)", 1, 100, 100, key="compress_share", persist_state="session",
            help="The share of the training split the student learns from; validation keeps "
            "all of it. The teacher's soft targets help most when labelled data is scarce.",
        )  # fmt: skip
        st.caption(
            f"The teacher is run {original.id}; the student is the graph on the canvas, "
            "trained once with the teacher and once alone (same start, data, epochs and seed)."
        )
    st.button(
        "Compress",
        icon=":material/compress:",
        key="compress_btn",
        type="primary",
        disabled=_job_running(),
        on_click=_start,
    )


def request_from_widgets() -> CompressRequest:
    """The CompressRequest the form's widgets describe."""
    kind, fixed = METHODS[S.get("compress_method", next(iter(METHODS)))]
    options = dict(fixed)
    if kind == "prune":
        options["sparsity"] = float(S.get("compress_sparsity", 0.5))
        options["finetune_epochs"] = int(S.get("compress_finetune", 2))
    if kind == "distill":
        options["student"] = state.arch().copy()
        options["epochs"] = int(S.get("compress_epochs", 10))
        options["temperature"] = float(S.get("compress_temperature", 4.0))
        options["alpha"] = float(S.get("compress_alpha", 0.7))
        share = int(S.get("compress_share", 100))
        options["train_fraction"] = share / 100 if share < 100 else None
    return CompressRequest(kind, **options)


def _job_running() -> bool:
    job = S.get("compress_job")
    return job is not None and job.state == "running"


def _start() -> None:
    run_id = S.get("compress_run")
    request = request_from_widgets()
    try:
        request.validate()
    except BuilderError as err:
        state.notify("error", str(err))
        return
    out = default_home() / "compressed" / f"{run_id}-{uuid.uuid4().hex[:8]}"
    S.compress_job = CompressJob(
        run_id, request, out, state.run_store(), project=S.get("project_id")
    ).start()


def _render_results(run_id: str) -> None:
    job = S.get("compress_job")
    if job is not None and job.state != "running" and not getattr(job, "shown", False):
        job.shown = True
        st.rerun()  # the whole page, so the Compress button is enabled again
    if job is not None and job.run_id == run_id:
        if job.state == "running":
            st.info(
                "Compressing… (measuring, and fine-tuning where asked)",
                icon=":material/hourglass_top:",
            )
        elif job.state == "failed":
            st.error(job.message, icon=":material/error:")
        else:
            st.success(job.message, icon=":material/check_circle:")
    store = state.run_store()
    original = store.get(run_id)
    children = [c for c in store.list() if c.parent == run_id and c.kind in ("compress", "distill")]
    rows = comparison_rows(original, children)
    if not rows:
        st.caption("Compress this run to compare it here.")
        return
    st.table(pd.DataFrame(rows).set_index("run"))
    for child in children:
        _render_child(store, child)


def _render_child(store, child) -> None:
    folder = Path(child.summary.get("out", ""))
    c1, c2 = st.columns([3, 1])
    c1.markdown(f"**{child.id}** · {child.summary.get('method', child.kind)}")
    if folder.is_dir():
        c2.download_button(
            "Export", data=folder_zip(folder), file_name=f"{child.id}.zip",
            mime="application/zip", key=f"compress_export_{child.id}",
            icon=":material/download:",
            on_click="ignore",  # a download needs no rerun (see project.py)
        )  # fmt: skip
    if child.summary.get("method", "").startswith("prune structured"):
        c1.button(
            "Open the smaller graph on the canvas", key=f"compress_open_{child.id}",
            on_click=_open_graph, args=(child.graph,),
        )  # fmt: skip
    alone_id = (child.extra or {}).get("alone_run")
    if alone_id:
        figure = distill_curves_figure(store.events(child.id), store.events(alone_id))
        st.plotly_chart(figure, key=f"compress_curves_{child.id}")


def _open_graph(graph: dict) -> None:
    state.commit(Architecture.from_json(graph))
    state.notify("success", "The pruned graph is on the canvas (Build tab).")
