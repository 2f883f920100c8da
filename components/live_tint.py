"""Training on the canvas: nodes tinted by a per-layer statistic on the run's fixed scale.

The scale is anchored at the run's first snapshot of the statistic and kept for the rest
of the run; the live graphviz diagram uses the same scale.
"""

from __future__ import annotations

from typing import Any

import streamlit as st

from builder.diagram import HEAT, METRIC_LABELS, HeatScale, anchored_scale, heat_colours
from builder.graph import Architecture

S = st.session_state
DEFAULT_METRIC = "grad_norm"


def chosen_metric() -> str:
    return S.get("diagram_metric") or DEFAULT_METRIC


def run_scale(trainer: Any, metric: str) -> HeatScale | None:
    """The run's scale for this statistic, set from the first snapshot that has it."""
    scales = S.setdefault("heat_scales", {})
    key = (id(trainer), metric)
    if key not in scales:
        first = getattr(trainer, "first_layer_stats", None) or getattr(trainer, "layer_stats", {})
        scale = anchored_scale(first or {}, metric)
        if scale is None:
            return None
        scales[key] = scale
    return scales[key]


def graph_signature(arch: Architecture) -> dict:
    """What trains: nodes, types, params and edges (positions and layout do not count)."""
    data = arch.to_json()
    return {
        "nodes": [{k: n[k] for k in ("id", "type", "params")} for n in data["nodes"]],
        "edges": data["edges"],
    }


def live_canvas(arch: Architecture) -> tuple[dict[str, dict[str, Any]], dict[str, Any]]:
    """Node extras (tint, stat line) and view fields (legend, banner) for a running trainer."""
    trainer = S.get("trainer")
    if trainer is None or not getattr(trainer, "running", False):
        return {}, {}
    view: dict[str, Any] = {"live": True}
    if graph_signature(arch) != graph_signature(trainer.arch):
        view["banner"] = "Changed since this run started: the run trains the graph as it was."
    metric = chosen_metric()
    scale = run_scale(trainer, metric)
    if scale is None:
        return {}, view
    stats = trainer.layer_stats or {}
    colours = heat_colours(stats, metric, scale)
    extras = {
        n: {"tint": colour, "stat": f"{METRIC_LABELS[metric]} {stats[n][metric]:.3g}"}
        for n, colour in colours.items()
        if n in arch
    }
    low, high = scale.bounds()
    view["legend"] = {
        "title": f"{METRIC_LABELS[metric]} ({'log ' if scale.log else ''}scale fixed at the run's first snapshot)",
        "low": f"{low:.2g}",
        "high": f"{high:.2g}",
        "colors": list(HEAT),
    }
    view["live_rev"] = getattr(trainer, "layer_stats_step", None) or 0
    return extras, view
