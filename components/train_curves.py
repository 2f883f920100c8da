"""The Train tab's loss and accuracy curves: plain functions that fold metric events into series."""

from __future__ import annotations

import copy
import functools

import plotly.graph_objects as go
import streamlit as st
from plotly.subplots import make_subplots

S = st.session_state
TRAIN_COLOUR, VAL_COLOUR = "#3b82f6", "#f97316"


def new_curves() -> dict[str, list]:
    return {"step_x": [], "step_loss": [], "step_acc": [], "epochs": {"train": {}, "val": {}}}


def add_events(curves: dict, events: list[dict], steps_per_epoch: int) -> None:
    """Fold metric events into the series the charts draw (x in epochs, fractional for steps)."""
    for ev in events:
        if ev.get("kind") == "step" and ev.get("loss") is not None:
            done = (ev["epoch"] - 1) + ev.get("epoch_step", 0) / max(steps_per_epoch, 1)
            curves["step_x"].append(done)
            curves["step_loss"].append(ev["loss"])
            curves["step_acc"].append(ev.get("accuracy"))
        elif ev.get("kind") == "epoch" and ev.get("split") in ("train", "val"):
            curves["epochs"][ev["split"]][ev["epoch"]] = (ev.get("loss"), ev.get("accuracy"))


def curves_figure(curves: dict, classification: bool) -> go.Figure:
    """Loss (and accuracy) against epochs: per-window training points, per-epoch train and val."""
    fig = go.Figure(layout=copy.deepcopy(_curves_layout(classification)))
    fig.add_trace(
        go.Scatter(
            x=curves["step_x"],
            y=curves["step_loss"],
            mode="lines",
            name="train (batches)",
            line={"color": TRAIN_COLOUR, "width": 1},
            opacity=0.35,
        )
    )
    for split, colour in (("train", TRAIN_COLOUR), ("val", VAL_COLOUR)):
        points = sorted(curves["epochs"][split].items())
        xs = [e for e, _ in points]
        fig.add_trace(
            go.Scatter(
                x=xs,
                y=[v[0] for _, v in points],
                mode="lines+markers",
                name=f"{split} loss",
                line={"color": colour},
            )
        )
        if classification:
            fig.add_trace(
                go.Scatter(
                    x=xs,
                    y=[v[1] for _, v in points],
                    mode="lines+markers",
                    name=f"{split} accuracy",
                    line={"color": colour, "dash": "dot"},
                    xaxis="x2",  # the right-hand subplot
                    yaxis="y2",
                )
            )
    return fig


@functools.cache
def _curves_layout(classification: bool) -> dict:
    """The charts' frame, built once: make_subplots took a third of each live poll."""
    cols = 2 if classification else 1
    titles = ("Loss", "Accuracy") if classification else ("Loss",)
    fig = make_subplots(rows=1, cols=cols, subplot_titles=titles, horizontal_spacing=0.08)
    fig.update_xaxes(title_text="epoch", rangemode="tozero")
    if classification:
        fig.update_yaxes(range=[0, 1.02], row=1, col=2)
    fig.update_layout(
        height=320,
        margin={"l": 10, "r": 10, "t": 30, "b": 10},
        legend={"orientation": "h", "y": -0.25},
        uirevision="curves",
    )
    return fig.layout.to_plotly_json()


def progress_text(trainer, last_step: dict | None, started: float, now: float) -> tuple[float, str]:
    """(fraction done, 'epoch 2/10 · step 12/23 · ETA 0:14 · cpu')."""
    cfg = trainer.config
    steps = S.get("steps_per_epoch") or 1
    epoch = last_step["epoch"] if last_step else max(trainer.epochs_done, 1)
    step = last_step.get("epoch_step", 0) if last_step else 0
    done = min(1.0, ((epoch - 1) * steps + step) / (cfg.epochs * steps))
    if trainer.state in ("finished", "stopped", "failed"):
        done = 1.0 if trainer.state == "finished" else done
    elapsed = now - started
    eta = "—" if done <= 0 or done >= 1 else _clock(elapsed * (1 - done) / done)
    return (
        done,
        f"epoch {epoch}/{cfg.epochs} · step {step}/{steps} · elapsed {_clock(elapsed)} · ETA {eta} · device {trainer.device}",
    )


def _clock(seconds: float) -> str:
    seconds = round(seconds)
    return f"{seconds // 60}:{seconds % 60:02d}"
