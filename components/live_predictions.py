"""The live predictions beside the curves: confusion matrix, decision boundary, fit, samples.

While a classifier trains, its confusion matrix and samples are the trainer's own last
validation pass (once per epoch, no model run here). The decision boundary of a 2-D set,
a regression fit and the view after training run a snapshot of the model, at most every
SNAPSHOT_SECONDS and within a share of the training time, so a bigger model refreshes
less often instead of slowing the run.
"""

from __future__ import annotations

import time

import numpy as np
import plotly.graph_objects as go
import streamlit as st

from builder.training.parts import PICKED_OUTPUTS

from . import predictions
from .family_views import confusion_figure, render_reconstructions

S = st.session_state
SNAPSHOT_SECONDS = 1.0  # the shortest wait between two live prediction snapshots
# Share of the time the live predictions may take from training: a bigger model or
# validation set refreshes its confusion matrix less often instead of slowing the run.
SNAPSHOT_BUDGET = 0.1


def render_live_predictions(trainer) -> None:
    """Confusion matrix, decision boundary (2-D sets) and sample predictions, from a model snapshot."""
    ds = trainer.dataset
    if trainer.state == "idle":
        return
    if ds.task == "reconstruction":
        # Cheap (a few images through the model), so it refreshes with every poll.
        render_reconstructions(predictions.snapshot(trainer.model), ds)
        return
    if ds.task not in ("classification", "regression"):
        return
    now = time.monotonic()
    wait = S.get("snap_wait", SNAPSHOT_SECONDS)
    if now - S.snap_time >= wait or (not trainer.running and not S.view.get("final")):
        try:
            S.view = _compute_view(trainer, S.view)
        except Exception as err:  # a snapshot taken mid-step can fail; the next one will do
            S.view.setdefault("error", str(err))
        S.view["final"] = not trainer.running
        S.snap_time = time.monotonic()
        S.snap_wait = max(SNAPSHOT_SECONDS, (S.snap_time - now) / SNAPSHOT_BUDGET)
    view = S.view
    if view.get("waiting"):
        st.caption("The confusion matrix appears after the first epoch's validation.")
    if "fit" in view:
        st.plotly_chart(_fit_figure(*view["fit"]), width="stretch", key="fit_chart")
    if "boundary" in view:
        st.plotly_chart(
            _boundary_figure(ds, *view["boundary"]), width="stretch", key="boundary_chart"
        )
    if "confusion" in view:
        st.markdown("**Confusion matrix (validation)**")
        st.plotly_chart(
            _unless_unchanged("confusion", confusion_figure, view["confusion"], ds.class_names),
            width="stretch",
            key="confusion_chart",
        )
    if "samples" in view:
        _samples(ds, *view["samples"])


def _unless_unchanged(name: str, build, *inputs):
    """build(*inputs), or the figure built last time from these very objects: a poll that
    brings no new epoch draws the same figure without building it again."""
    memo = S.setdefault("live_figures", {})
    last = memo.get(name)
    if last is None or any(a is not b for a, b in zip(last[0], inputs, strict=True)):
        memo[name] = last = (inputs, build(*inputs))
    return last[1]


def _compute_view(trainer, previous: dict) -> dict:
    ds = trainer.dataset
    picks = trainer.validation_picks
    two_d = tuple(ds.input_shape) == (2,)  # its decision boundary follows the run second by second
    if trainer.running and ds.task == "classification" and not two_d:
        # While it trains, the last validation pass's predictions: no model run of our own.
        if picks is None or tuple(picks.predicted.shape) != (ds.n_val,):
            return {"waiting": True}
        if previous.get("epoch") == picks.epoch and not previous.get("final"):
            return previous  # the same objects: their figures are not built again
        view = _classification_view(
            ds, picks.predicted.numpy(), predictions.scores_of(picks.first_outputs)
        )
        return {**view, "epoch": picks.epoch}
    model = predictions.snapshot(trainer.model)
    if ds.task == "regression":
        return {"fit": predictions.regression_fit(model, ds)}
    scores = predictions.class_scores(model, ds.x_val)
    view = _classification_view(ds, scores.argmax(dim=1).numpy(), scores)
    if two_d:
        view["boundary"] = predictions.boundary_grid(model, ds.x_val)
    return view


def _classification_view(ds, predicted: np.ndarray, scores) -> dict:
    """The confusion matrix of all validation predictions, and the first samples' picks."""
    classes = max(ds.num_classes, scores.shape[1])
    return {
        "confusion": predictions.confusion_matrix(ds.y_val.numpy(), predicted, classes),
        "samples": (predicted[:PICKED_OUTPUTS], scores.max(dim=1).values.numpy()[:PICKED_OUTPUTS]),
    }


def _fit_figure(feature, true, predicted) -> go.Figure:
    """One input: the data and the model's curve over it. More: predicted against true."""
    fig = go.Figure()
    if feature is not None:
        order = np.argsort(feature)
        fig.add_trace(go.Scatter(x=feature, y=true, mode="markers", name="validation data"))
        fig.add_trace(go.Scatter(x=feature[order], y=predicted[order], mode="lines", name="model"))
        axes = {"xaxis_title": "input", "yaxis_title": "target"}
    else:
        low, high = float(min(true.min(), predicted.min())), float(max(true.max(), predicted.max()))
        fig.add_trace(go.Scatter(x=true, y=predicted, mode="markers", name="validation samples"))
        fig.add_trace(
            go.Scatter(
                x=[low, high], y=[low, high], mode="lines", name="perfect", line={"dash": "dot"}
            )
        )
        axes = {"xaxis_title": "true", "yaxis_title": "predicted"}
    fig.update_layout(
        title="Predictions (validation)", height=360, margin={"t": 40, "b": 40}, **axes
    )
    return fig


def _boundary_figure(ds, xs, ys, z) -> go.Figure:
    fig = go.Figure(
        go.Contour(
            x=xs,
            y=ys,
            z=z,
            colorscale="RdBu",
            opacity=0.55,
            showscale=False,
            contours={"coloring": "heatmap"},
        )
    )
    x, y = ds.x_val.numpy(), ds.y_val.numpy()
    fig.add_trace(
        go.Scatter(
            x=x[:, 0],
            y=x[:, 1],
            mode="markers",
            marker={
                "color": y,
                "colorscale": "RdBu",
                "size": 6,
                "line": {"width": 0.5, "color": "white"},
            },
            showlegend=False,
        )
    )
    fig.update_layout(
        title="Decision boundary (validation points)",
        height=300,
        margin={"l": 10, "r": 10, "t": 30, "b": 10},
        uirevision="boundary",
    )
    return fig


def _samples(ds, pred: np.ndarray, confidence: np.ndarray) -> None:
    st.markdown("**Sample predictions (validation)**")
    names = [str(c) for c in ds.class_names]
    label = lambda i: names[i] if i < len(names) else str(i)  # noqa: E731
    truth = ds.y_val.numpy()[: len(pred)]
    shape = tuple(ds.input_shape)
    if len(shape) == 3 and shape[0] in (1, 3):
        cols = st.columns(6)
        for i in range(min(len(pred), PICKED_OUTPUTS)):
            img = ds.x_val[i].numpy()
            img = (img - img.min()) / max(float(img.max() - img.min()), 1e-9)
            img = img[0] if shape[0] == 1 else np.transpose(img, (1, 2, 0))
            mark = "✓" if pred[i] == truth[i] else "✗"
            cols[i % 6].image(
                img,
                caption=f"{mark} {label(pred[i])} (true {label(truth[i])})",
                width="stretch",
                clamp=True,
            )
        return
    rows = []
    for i in range(len(pred)):
        row = {
            "true": label(int(truth[i])),
            "predicted": label(int(pred[i])),
            "confidence": f"{confidence[i]:.0%}",
        }
        if ds.vocabulary is not None:
            # Last, so a long sentence runs off the right edge instead of hiding the verdict.
            words = [ds.vocabulary[t] for t in ds.x_val[i].tolist() if t]
            row["text"] = " ".join(words)[:120]
        rows.append(row)
    st.dataframe(rows, hide_index=True, width="stretch")
