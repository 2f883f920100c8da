"""Live views per model family: confusion matrix, mistakes, reconstructions, attention, hidden norms.

The numbers come from builder.views (UI-free); this file only draws them. Figure builders
are plain functions returning plotly figures, so they can be tested without a browser.
The one call the app needs is `render_family_views(model, arch, dataset)`.
"""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
import streamlit as st
import torch

from builder import views
from builder.errors import BuilderError
from components.explain_view import render_explanations

GREYS = "gray_r"  # dark ink on a light page, like the digits themselves
HEAT = "Blues"


# ---- figure builders (no Streamlit) ---------------------------------------------------------


def image_grid_figure(
    images: np.ndarray,
    ncols: int = 8,
    title: str = "",
    height: int = 0,
    value_range: tuple[float, float] | None = None,
):
    """A plotly heat map of images tiled into one grid (blank gaps between images).

    `value_range` fixes the grey scale (e.g. (0, 1)) so faint outputs look faint.
    """
    grid = views.tile_images(images, ncols=ncols)
    low, high = value_range or (None, None)
    fig = go.Figure(
        go.Heatmap(z=grid, colorscale=GREYS, showscale=False, hoverinfo="skip", zmin=low, zmax=high)
    )
    fig.update_yaxes(autorange="reversed", visible=False, scaleanchor="x")
    fig.update_xaxes(visible=False)
    rows = grid.shape[0] / max(grid.shape[1], 1)
    fig.update_layout(
        title=title or None,
        height=height or int(120 + 520 * min(rows, 1.5)),
        margin=dict(l=0, r=0, t=40 if title else 0, b=0),
        plot_bgcolor="white",
    )
    return fig


def confusion_figure(matrix: np.ndarray, class_names: list[str]):
    """Heat map: rows are true classes, columns predicted; the diagonal is what it got right."""
    # A model with more outputs than the dataset has names gets numbers for the rest.
    labels = [str(c) for c in class_names[: len(matrix)]]
    labels += [str(i) for i in range(len(labels), len(matrix))]
    fig = go.Figure(
        go.Heatmap(
            z=matrix,
            x=labels,
            y=labels,
            colorscale=HEAT,
            text=matrix,
            texttemplate="%{text}",
            hovertemplate="true %{y}, predicted %{x}: %{z}<extra></extra>",
            showscale=False,
        )
    )
    fig.update_xaxes(title="predicted", type="category", side="bottom")
    fig.update_yaxes(title="true", type="category", autorange="reversed")
    fig.update_layout(height=min(140 + 32 * len(labels), 520), margin=dict(l=0, r=0, t=10, b=0))
    return fig


def attention_figure(weights: np.ndarray, tokens: list[str] | None = None, head: int | None = None):
    """Heat map of (heads, query, key) weights: one head, or the mean over heads when head is None."""
    grid = weights.mean(axis=0) if head is None else weights[head]
    labels = tokens or [str(i) for i in range(grid.shape[0])]
    # Repeated words would merge on a category axis; number them so each position stays.
    labels = [f"{i}:{t}" for i, t in enumerate(labels)]
    fig = go.Figure(
        go.Heatmap(
            z=grid,
            x=labels,
            y=labels,
            colorscale=HEAT,
            hovertemplate="%{y} looks at %{x}: %{z:.3f}<extra></extra>",
        )
    )
    fig.update_xaxes(title="key (looked at)", type="category", tickangle=-60)
    fig.update_yaxes(title="query", type="category", autorange="reversed")
    fig.update_layout(height=560, margin=dict(l=0, r=0, t=10, b=0))
    return fig


def hidden_norm_figure(norms: dict[str, np.ndarray], tokens: list[str] | None = None):
    """Line per recurrent layer: the size of its hidden state at each time step."""
    fig = go.Figure()
    for node_id, values in norms.items():
        steps = list(range(len(values)))
        fig.add_trace(
            go.Scatter(
                x=steps,
                y=values,
                mode="lines+markers",
                name=node_id,
                text=tokens[: len(values)] if tokens else None,
                hovertemplate="step %{x} %{text}: %{y:.3f}<extra></extra>",
            )
        )
    fig.update_xaxes(title="time step (token position)")
    fig.update_yaxes(title="‖hidden state‖")
    fig.update_layout(height=320, margin=dict(l=0, r=0, t=10, b=0), showlegend=len(norms) > 1)
    return fig


def token_words(ids, vocabulary: list[str] | None) -> list[str]:
    """Words for token ids ('·' for padding id 0), or the ids themselves without a vocabulary."""
    out = []
    for i in np.asarray(ids).reshape(-1).tolist():
        if i == 0:
            out.append("·")
        elif vocabulary and 0 <= i < len(vocabulary):
            out.append(vocabulary[i])
        else:
            out.append(str(i))
    return out


# ---- Streamlit renderers --------------------------------------------------------------------


def render_confusion_matrix(
    model, x: torch.Tensor, y: torch.Tensor, class_names: list[str]
) -> None:
    matrix = views.confusion_matrix(model, x, y, len(class_names))
    accuracy = np.trace(matrix) / max(matrix.sum(), 1)
    st.caption(f"Validation: {accuracy:.1%} right; off-diagonal cells are the mix-ups.")
    st.plotly_chart(confusion_figure(matrix, class_names), key=_key("confusion"))


def render_misclassified(model, dataset, limit: int = 16) -> None:
    """The most confidently wrong validation examples, as images or as sentences."""
    wrong = views.misclassified_examples(model, dataset.x_val, dataset.y_val, limit=limit)
    names = dataset.class_names or []
    n_wrong = int(wrong["n_wrong"])
    st.caption(
        f"{n_wrong} of {int(wrong['n_total'])} validation examples wrong; most confident first."
    )
    if n_wrong == 0:
        st.success("No mistakes on the validation set.", icon=":material/check_circle:")
        return
    label = [
        f"true {_name(names, t)} → {_name(names, p)} ({c:.0%})"
        for t, p, c in zip(wrong["true"], wrong["predicted"], wrong["confidence"], strict=True)
    ]
    if dataset.dtype == "int64":
        for text, ids in zip(label, wrong["inputs"], strict=True):
            words = " ".join(w for w in token_words(ids, dataset.vocabulary) if w != "·")
            st.markdown(f"**{text}** — {words}")
        return
    images = wrong["inputs"]
    if images.ndim in (3, 4):
        st.plotly_chart(image_grid_figure(images, ncols=8), key=_key("mistakes"))
        st.caption(" · ".join(f"{i + 1}: {t}" for i, t in enumerate(label)))
    else:
        st.dataframe({"mistake": label, "index": wrong["index"]})


def render_reconstructions(model, dataset, n: int = 8, key: str = "recon") -> None:
    """Validation inputs (top), noisy inputs when denoising, and the model's reconstructions.

    `key` tells apart two grids on one page (the live one and the one under "Look inside").
    """
    noise = float(getattr(dataset, "input_noise", 0.0) or 0.0)
    view = views.reconstructions(model, dataset.x_val, n=n, noise=noise)
    rows = [view["inputs"]] + ([view["noisy"]] if noise else []) + [view["outputs"]]
    what = "input · noisy input · reconstruction" if noise else "input · reconstruction"
    st.caption(f"Rows: {what}. Mean squared error {float(view['mse'].mean()):.4f}.")
    stacked = np.concatenate([_as_images(np.asarray(r)) for r in rows])
    # The inputs' scale for every row, so a faint reconstruction looks faint (and overshoots clip).
    low, high = float(np.min(view["inputs"])), float(np.max(view["inputs"]))
    st.plotly_chart(image_grid_figure(stacked, ncols=n, value_range=(low, high)), key=_key(key))


def _as_images(batch: np.ndarray) -> np.ndarray:
    """(n, channels, height, width) for the grid; a feature vector becomes a 1-pixel-high strip."""
    if batch.ndim == 2:
        return batch.reshape(len(batch), 1, 1, -1)
    return batch.reshape(len(batch), -1, *batch.shape[-2:])


def render_attention(model, arch, dataset, index: int = 0) -> None:
    weights = views.attention_weights(model, arch, dataset.x_val, index=index)
    tokens = (
        token_words(dataset.x_val[index], dataset.vocabulary) if dataset.dtype == "int64" else None
    )
    node_id = next(iter(weights))
    if len(weights) > 1:
        node_id = st.selectbox(
            "Attention layer", list(weights), key="fv_attn_node", persist_state="session"
        )
    heads = weights[node_id].shape[0]
    choice = st.selectbox(
        "Head",
        ["mean of heads"] + [f"head {h}" for h in range(heads)],
        key="fv_attn_head",
        persist_state="session",
    )
    head = None if choice == "mean of heads" else int(choice.split()[-1])
    st.plotly_chart(attention_figure(weights[node_id], tokens, head), key=_key("attn"))


def render_hidden_norms(model, arch, dataset, index: int = 0) -> None:
    norms = views.hidden_state_norms(model, arch, dataset.x_val, index=index)
    tokens = (
        token_words(dataset.x_val[index], dataset.vocabulary) if dataset.dtype == "int64" else None
    )
    st.plotly_chart(hidden_norm_figure(norms, tokens), key=_key("hidden"))


def render_family_views(model, arch, dataset) -> None:
    """Every view that fits this model and dataset, in tabs; errors show as messages."""
    if model is None or dataset is None:
        st.info("Train a model to see what it learned.", icon=":material/insights:")
        return
    family = views.family_of(arch)
    tabs: list[tuple[str, callable]] = []
    if dataset.task == "classification":
        tabs.append(
            (
                "Confusion matrix",
                lambda: render_confusion_matrix(
                    model, dataset.x_val, dataset.y_val, dataset.class_names
                ),
            )
        )
        tabs.append(("Mistakes", lambda: render_misclassified(model, dataset)))
    if dataset.task == "reconstruction":
        # Twice the live grid's examples, under a key of its own (both can be on the page).
        tabs.append(
            ("Reconstructions", lambda: render_reconstructions(model, dataset, 16, "recon_inside"))
        )
    index = 0
    if family["attention"] or family["recurrent"]:
        index = int(
            st.number_input(
                "Example to look inside",
                min_value=0,
                max_value=max(dataset.n_val - 1, 0),
                value=0,
                key="fv_example",
                persist_state="session",
            )
        )
        if family["attention"]:
            tabs.append(("Attention", lambda: render_attention(model, arch, dataset, index)))
        if family["recurrent"]:
            tabs.append(("Hidden state", lambda: render_hidden_norms(model, arch, dataset, index)))
    if dataset.task in ("classification", "regression"):
        tabs.append(("Explain", lambda: render_explanations(model, arch, dataset, index)))
    if not tabs:
        st.caption("No extra views for this kind of model.")
        return
    for tab, (_, draw) in zip(st.tabs([t[0] for t in tabs]), tabs, strict=True):
        with tab:
            try:
                draw()
            except BuilderError as err:
                st.warning(str(err), icon=":material/warning:")


def _name(names: list[str], index) -> str:
    index = int(index)
    return names[index] if 0 <= index < len(names) else str(index)


def _key(what: str) -> str:
    # Plotly charts in a polling fragment need stable keys so they update in place.
    return f"family_view_{what}"
