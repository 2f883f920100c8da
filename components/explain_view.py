"""The "Explain" tab under Look inside: attributions over images, tokens, or feature importance.

The numbers come from builder.explain (Captum, scikit-learn); figure builders are plain
functions returning plotly figures so they can be tested without a browser.
"""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
import streamlit as st
from plotly.subplots import make_subplots

from builder import explain, views

N_IMAGES = 6


# ---- figure builders (no Streamlit) ---------------------------------------------------------


def attribution_overlay_figure(
    images: np.ndarray, maps: dict[str, np.ndarray], targets: list[int], class_names: list[str]
):
    """One column per sample: the input, then each attribution map drawn over it."""
    n = len(images)
    rows = 1 + len(maps)
    titles = [f"predicted {_label(class_names, t)}" for t in targets]
    titles += [""] * (n * (rows - 1))
    fig = make_subplots(rows=rows, cols=n, subplot_titles=titles, horizontal_spacing=0.01,
                        vertical_spacing=0.04)  # fmt: skip
    for col in range(n):
        picture = _plane(images[col])
        fig.add_trace(_grey(picture), row=1, col=col + 1)
        for row, (name, values) in enumerate(maps.items(), start=2):
            heat = _plane(values[col])
            signed = name != "saliency"  # IG says for and against; saliency only how much
            limit = float(np.abs(heat).max()) or 1.0
            fig.add_trace(_grey(picture, opacity=0.35), row=row, col=col + 1)
            fig.add_trace(
                go.Heatmap(
                    z=heat,
                    colorscale="RdBu_r" if signed else "Reds",
                    zmid=0 if signed else None,
                    zmin=-limit if signed else 0,
                    zmax=limit,
                    opacity=0.75,
                    showscale=False,
                    hovertemplate=f"{name}: %{{z:.3g}}<extra></extra>",
                ),
                row=row,
                col=col + 1,
            )
    for row, name in enumerate(maps, start=2):
        fig.update_yaxes(title_text=name, row=row, col=1)
    fig.update_xaxes(visible=False)
    fig.update_yaxes(autorange="reversed", showticklabels=False, showgrid=False, zeroline=False)
    fig.update_layout(
        height=150 * rows + 40, margin=dict(l=0, r=0, t=30, b=0), plot_bgcolor="white"
    )
    return fig


def token_attribution_figure(words: list[str], values: np.ndarray, target: str):
    """The sentence as a row of coloured cells: red pushed toward the prediction, blue against."""
    keep = [i for i, w in enumerate(words) if w != "·"] or list(range(len(words)))
    labels = [f"{i}:{words[i]}" for i in keep]  # numbered so repeated words stay apart
    z = np.asarray(values)[keep][None, :]
    limit = float(np.abs(z).max()) or 1.0
    fig = go.Figure(
        go.Heatmap(
            z=z,
            x=labels,
            y=[f"toward {target}"],
            colorscale="RdBu_r",
            zmid=0,
            zmin=-limit,
            zmax=limit,
            text=[[words[i] for i in keep]],
            texttemplate="%{text}",
            hovertemplate="%{x}: %{z:.3g}<extra></extra>",
        )
    )
    fig.update_xaxes(showticklabels=False)
    fig.update_layout(height=170, margin=dict(l=0, r=0, t=10, b=0))
    return fig


def importance_figure(result: dict[str, np.ndarray]):
    """Horizontal bars: the val score lost when a feature is shuffled (± std over repeats)."""
    order = np.argsort(result["importances_mean"])
    fig = go.Figure(
        go.Bar(
            x=result["importances_mean"][order],
            y=result["names"][order].tolist(),
            error_x=dict(type="data", array=result["importances_std"][order]),
            orientation="h",
        )
    )
    fig.update_layout(
        height=120 + 24 * len(order),
        margin=dict(l=0, r=0, t=10, b=0),
        xaxis_title="drop in validation score when shuffled",
    )
    return fig


def _plane(array: np.ndarray) -> np.ndarray:
    """A 2-D picture of one sample: channels averaged, 1-D inputs as a single row."""
    array = np.asarray(array, dtype=float)
    if array.ndim == 3:
        return array.mean(axis=0)
    return array if array.ndim == 2 else array.reshape(1, -1)


def _grey(picture: np.ndarray, opacity: float = 1.0):
    return go.Heatmap(z=picture, colorscale="gray_r", showscale=False, opacity=opacity,
                      hoverinfo="skip")  # fmt: skip


def _label(names: list[str], index: int) -> str:
    return str(names[index]) if 0 <= index < len(names) else str(index)


# ---- Streamlit renderer ---------------------------------------------------------------------


def render_explanations(model, arch, dataset, index: int = 0) -> None:
    """Attributions that fit the input: images, token ids, or a feature vector."""
    family = views.family_of(arch)
    if dataset.dtype == "int64":
        _render_tokens(model, arch, dataset, index)
    elif family["images"]:
        _render_images(model, dataset)
    elif len(dataset.input_shape) == 1:
        _render_importance(model, dataset)
    else:
        st.caption("No explanation fits this kind of input yet.")


def _render_images(model, dataset) -> None:
    x = dataset.x_val[:N_IMAGES]
    maps = explain.image_attributions(model, x)
    targets = maps["saliency"].targets
    values = {name: a.values for name, a in maps.items()}
    st.caption(
        "Saliency: how strongly each pixel moves the predicted class's score. Integrated "
        "gradients: each pixel's share of the score, red for and blue against the prediction."
    )
    figure = attribution_overlay_figure(x.numpy(), values, targets, dataset.class_names)
    st.plotly_chart(figure, key="explain_images")


def _render_tokens(model, arch, dataset, index: int) -> None:
    from components.family_views import token_words

    attribution = explain.token_attributions(model, arch, dataset.x_val[index : index + 1])
    words = token_words(dataset.x_val[index], dataset.vocabulary)
    target = _label(dataset.class_names, attribution.targets[0])
    st.caption(f"Integrated gradients per token, toward the predicted class {target!r}.")
    figure = token_attribution_figure(words, attribution.values[0], target)
    st.plotly_chart(figure, key="explain_tokens")


def _render_importance(model, dataset) -> None:
    result = explain.permutation_importance(model, dataset)
    st.caption(
        "Permutation importance: how much the validation score drops when a feature is shuffled."
    )
    st.plotly_chart(importance_figure(result), key="explain_importance")
