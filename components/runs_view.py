"""The Runs tab: the project's runs from the store, notes, and a comparison of two or more.

The table is read from the run store (so it shows runs of every tab, the CLI and earlier
server processes); picking runs overlays their curves, puts their configs side by side with
the differences marked, and highlights the graph diff on both diagrams.
"""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from builder.diagram import render_dot
from builder.errors import BuilderError
from builder.graph import Architecture
from builder.runs.compare import best_val_metric, config_diff, graph_diff
from builder.shapes import analyse

from . import live_runs, state

S = st.session_state
ADDED, REMOVED, CHANGED = "#c6f6d5", "#fed7d7", "#fefcbf"
PALETTE = ("#3b82f6", "#f97316", "#10b981", "#a855f7", "#ef4444", "#14b8a6")


def runs_table(records) -> pd.DataFrame:
    """One row per run: what the table shows (plain function, tested directly)."""
    rows = []
    for rec in records:
        metric = best_val_metric(rec.summary)
        rows.append(
            {
                "run": rec.id,
                "kind": rec.kind,
                "status": rec.status,
                "dataset": rec.dataset or "",
                "epochs": rec.summary.get("epochs"),
                "best val": None if metric is None else round(metric[1], 4),
                "metric": "" if metric is None else metric[0],
                "duration (s)": None if rec.duration is None else round(rec.duration, 1),
                "params": _params(rec),
                "note": rec.note,
            }
        )
    return pd.DataFrame(rows)


def epoch_series(events: list[dict]) -> dict[str, dict[int, float]]:
    """{"val loss": {epoch: value}, "val accuracy": ...} from a run's epoch events."""
    series: dict[str, dict[int, float]] = {}
    for ev in events:
        if ev.get("kind") != "epoch" or ev.get("split") not in ("train", "val"):
            continue
        for name in ("loss", "accuracy"):
            if ev.get(name) is not None:
                series.setdefault(f"{ev['split']} {name}", {})[ev["epoch"]] = ev[name]
    return series


def diff_colours(diff) -> tuple[dict[str, str], dict[str, str]]:
    """Highlights for the first graph (removed, changed) and the second (added, changed)."""
    first = {n: REMOVED for n in diff.removed} | {n: CHANGED for n in diff.changed}
    second = {n: ADDED for n in diff.added} | {n: CHANGED for n in diff.changed}
    return first, second


def render_runs_tab() -> None:
    project = S.get("project_id")
    store = state.run_store()
    live_runs.sweep_once()
    records = store.list(project=project)
    if not records:
        st.info("No runs yet for this project: train on the Train tab and each run appears here.")
        return
    table = runs_table(records)
    st.caption("The project's runs, newest first. Notes are editable.")
    edited = st.data_editor(
        table,
        key=f"runs_table_{len(records)}",
        hide_index=True,
        width="stretch",
        disabled=[c for c in table.columns if c != "note"],
    )
    _save_notes(store, table, edited)
    by_id = {r.id: r for r in records}
    picked = st.multiselect(
        "Runs to open, export or compare",
        list(by_id),
        format_func=lambda run: f"{run} · {by_id[run].status} · {by_id[run].dataset or ''}",
        key="runs_pick",
        persist_state="session",
        placeholder="Pick one run to open or export it, two or more to compare them",
    )
    picked = [run for run in picked if run in by_id]
    if not picked:
        return
    _actions(store, by_id[picked[0]])
    if len(picked) >= 2:
        _compare(store, [by_id[run] for run in picked])


def _save_notes(store, table: pd.DataFrame, edited: pd.DataFrame) -> None:
    for run, before, after in zip(table["run"], table["note"], edited["note"], strict=True):
        if (after or "") != (before or ""):
            store.set_note(run, str(after or ""))


def _actions(store, rec) -> None:
    left, right = st.columns(2)
    left.button(
        f"Open this run's graph ({rec.id})",
        key="open_run_graph",
        icon=":material/account_tree:",
        on_click=_open_graph,
        args=(rec.id,),
        disabled=not rec.graph,
    )
    try:
        from builder.export import bundle_zip
        from builder.runs.cli import bundle_options

        data = bundle_zip(**bundle_options(store, rec.id), onnx=False)
    except BuilderError as err:
        right.caption(f"Export: {err}")
        return
    right.download_button(
        f"Export this run ({rec.id})",
        data=data,
        file_name=f"run-{rec.id}.zip",
        mime="application/zip",
        key="export_run",
        on_click="ignore",  # a download needs no rerun (see project.py)
        icon=":material/download:",
    )


def _open_graph(run_id: str) -> None:
    rec = state.run_store().get(run_id)
    state.commit(Architecture.from_json(rec.graph))
    state.notify("success", f"Opened the graph of run {run_id} on the canvas.")


def _compare(store, records) -> None:
    st.subheader("Compare")
    st.plotly_chart(_curves_figure(store, records), key="runs_compare_curves")
    st.markdown("**Settings** (rows that differ are marked ≠)")
    st.dataframe(_config_frame(records), width="stretch")
    base, other = records[0], records[1]
    diff = graph_diff(base.graph, other.graph)
    st.markdown(
        f"**Graph diff** {base.id} → {other.id}: "
        + (
            "same layers."
            if diff.same
            else f"{len(diff.added)} added (green), {len(diff.removed)} removed (red), "
            f"{len(diff.changed)} changed (yellow)."
        )
    )
    for node, what in diff.changed.items():
        st.caption(f"{node}: {', '.join(what)}")
    first, second = diff_colours(diff)
    cols = st.columns(2)
    for col, rec, colours in ((cols[0], base, first), (cols[1], other, second)):
        if rec.graph:
            arch = Architecture.from_json(rec.graph)
            col.caption(f"run {rec.id}")
            col.graphviz_chart(render_dot(arch, highlight=colours))


def _curves_figure(store, records) -> go.Figure:
    fig = go.Figure()
    for i, rec in enumerate(records):
        colour = PALETTE[i % len(PALETTE)]
        for name, values in epoch_series(store.events(rec.id)).items():
            if not name.startswith("val"):
                continue
            fig.add_trace(
                go.Scatter(
                    x=list(values),
                    y=list(values.values()),
                    name=f"{rec.id} {name}",
                    line={"color": colour, "dash": "solid" if "loss" in name else "dot"},
                    yaxis="y" if "loss" in name else "y2",
                )
            )
    fig.update_layout(
        title="Validation curves",
        xaxis_title="epoch",
        yaxis={"title": "loss"},
        yaxis2={"title": "accuracy", "overlaying": "y", "side": "right", "range": [0, 1]},
        height=380,
        margin={"t": 40, "b": 30},
    )
    return fig


def _config_frame(records) -> pd.DataFrame:
    keys = sorted(set().union(*(r.config for r in records)))
    differing = set()
    for rec in records[1:]:
        differing |= set(config_diff(records[0].config, rec.config))
    if len({r.dataset for r in records}) > 1:
        differing.add("dataset")
    # The settings that differ come first, so they are seen without scrolling.
    keys = sorted(keys, key=lambda k: k not in differing)
    rows = ["dataset", *keys]
    return pd.DataFrame(
        {rec.id: [rec.dataset or "", *[_cell(rec.config.get(k)) for k in keys]] for rec in records},
        index=[f"≠ {k}" if k in differing else k for k in rows],
    )


def _cell(value) -> str:
    return "" if value is None else str(value)


def _params(rec) -> int | None:
    cache = S.setdefault("run_params", {})
    if rec.id not in cache:
        try:
            cache[rec.id] = (
                analyse(Architecture.from_json(rec.graph)).total_params if rec.graph else None
            )
        except BuilderError:
            cache[rec.id] = None
    return cache[rec.id]
