"""Architecture (+ live per-layer stats) -> graphviz DOT: shapes, parameter counts, colours.

UI-free: the dashboard hands the string to `st.graphviz_chart`, tests read it directly.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import graphviz

from .graph import Architecture
from .search.space import searched_nodes
from .shapes import Analysis, analyse, format_shape

METRICS = ("grad_norm", "weight_norm", "update_ratio", "act_mean", "act_std", "dead_fraction")
METRIC_LABELS = {
    "grad_norm": "gradient norm",
    "weight_norm": "weight norm",
    "update_ratio": "update / weight ratio",
    "act_mean": "activation mean",
    "act_std": "activation std",
    "dead_fraction": "dead units (fraction)",
}
# Light yellow -> orange -> deep red: more of the statistic, hotter the node.
HEAT = ["#fff7bc", "#fee391", "#fec44f", "#fe9929", "#ec7014", "#cc4c02", "#8c2d04"]
PLAIN_FILL = "#f7f9fc"
ERROR_FILL = "#fde8e8"
INPUT_FILL = "#eef6ff"
SEARCHED_BORDER = "#7c3aed"
SEARCHED_STYLE = "rounded,filled,dashed"


@dataclass(frozen=True)
class HeatScale:
    """A fixed colour scale for one statistic, set once from a run's first snapshot.

    Fixed, so a statistic that falls during training visibly cools down (a scale re-fitted
    to every snapshot would keep the same colours while the numbers change).
    """

    low: float  # in log10 units when `log`
    high: float
    log: bool

    def position(self, value: float) -> float:
        """0 (coolest) .. 1 (hottest), clipped."""
        if self.log:
            value = math.log10(max(value, 1e-30))
        return min(1.0, max(0.0, (value - self.low) / (self.high - self.low)))

    def colour(self, value: float) -> str:
        return HEAT[round(self.position(value) * (len(HEAT) - 1))]

    def bounds(self) -> tuple[float, float]:
        """The values at the cool and hot ends."""
        if self.log:
            return 10**self.low, 10**self.high
        return self.low, self.high


def _metric_values(stats: dict[str, dict[str, float]], metric: str) -> dict[str, float]:
    return {
        n: float(s[metric])
        for n, s in stats.items()
        if metric in s and s[metric] is not None and math.isfinite(float(s[metric]))
    }


def anchored_scale(stats: dict[str, dict[str, float]], metric: str) -> HeatScale | None:
    """A scale anchored at this (first) snapshot: logarithmic for positive statistics, with
    a decade of room below the smallest value so falling statistics change colour."""
    values = list(_metric_values(stats, metric).values())
    if not values:
        return None
    if all(v > 0 for v in values):
        low, high = math.log10(min(values)) - 1.0, math.log10(max(values))
        return HeatScale(low, max(high, low + 1.0), log=True)
    low, high = min(values), max(values)
    return HeatScale(low, high if high > low else low + 1.0, log=False)


def render_dot(
    arch: Architecture,
    analysis: Analysis | None = None,
    stats: dict[str, dict[str, float]] | None = None,
    metric: str = "grad_norm",
    highlight: dict[str, str] | None = None,
    scale: HeatScale | None = None,
) -> str:
    """DOT source of the network, top to bottom; nodes coloured by stats[node][metric] (on
    `scale` when given, e.g. the run's anchored scale), or by `highlight` (node -> fill
    colour, e.g. a graph diff's added / changed layers)."""
    analysis = analysis or analyse(arch)
    colours = heat_colours(stats or {}, metric, scale)
    searched = searched_nodes(arch)
    dot = graphviz.Digraph(arch.name or "network")
    # size caps the drawing (inches) so a long network shrinks instead of overflowing the page.
    dot.attr(rankdir="TB", nodesep="0.3", ranksep="0.3", bgcolor="transparent", size="5,9")
    dot.attr("node", shape="box", style="rounded,filled", fontname="Helvetica", fontsize="10")
    dot.attr("edge", fontname="Helvetica", fontsize="9", color="#718096")
    for node_id in arch.topological_order():
        info = analysis.nodes.get(node_id)
        fill, border = _fill_for(arch, node_id, info, colours)
        if highlight and node_id in highlight:
            fill, border = highlight[node_id], "#1a202c"
        label = _label(arch, node_id, info, (stats or {}).get(node_id, {}).get(metric), metric)
        font = "white" if fill in HEAT[-2:] else "black"
        marks = {}
        if node_id in searched:  # AutoML searches this node: a dashed violet border says so
            label, marks = label + "\\nsearched", {"style": SEARCHED_STYLE, "penwidth": "2"}
            border = SEARCHED_BORDER
        dot.node(node_id, label=label, fillcolor=fill, color=border, fontcolor=font, **marks)
    for src, dst in arch.edges:
        info = analysis.nodes.get(src)
        shape = info.output_shape if info is not None else None
        dot.edge(src, dst, label=format_shape(shape) if shape is not None else "")
    return dot.source


def heat_colours(
    stats: dict[str, dict[str, float]], metric: str, scale: HeatScale | None = None
) -> dict[str, str]:
    """Node id -> a heat colour for the metric: on `scale` when given, else scaled to this
    snapshot (log when values span decades)."""
    values = _metric_values(stats, metric)
    if scale is not None:
        return {n: scale.colour(v) for n, v in values.items()}
    if not values:
        return {}
    positive = all(v > 0 for v in values.values())
    spread = max(values.values()) / min(values.values()) if positive else 0
    scaled = {n: math.log10(v) for n, v in values.items()} if spread > 100 else values
    low, high = min(scaled.values()), max(scaled.values())
    span = high - low
    return {
        n: HEAT[round((v - low) / span * (len(HEAT) - 1)) if span > 0 else len(HEAT) // 2]
        for n, v in scaled.items()
    }


def _fill_for(arch, node_id, info, colours) -> tuple[str, str]:
    if info is not None and info.error is not None:
        return ERROR_FILL, "#d93025"
    if node_id in colours:
        return colours[node_id], "#8c2d04"
    if arch.type_of(node_id) == "Input":
        return INPUT_FILL, "#6aa5e8"
    return PLAIN_FILL, "#a0aec0"


def _label(arch, node_id, info, stat, metric) -> str:
    lines = [f"{node_id} · {arch.type_of(node_id)}"]
    if info is not None and info.error is not None:
        lines.append(f"⚠ {info.error.message}"[:60])
    elif info is not None and info.output_shape is not None:
        lines.append(format_shape(info.output_shape))
        if info.params:
            lines.append(f"{info.params:,} params")
    if stat is not None:
        lines.append(f"{metric} {stat:.3g}")
    if not arch.trainable_of(node_id):
        lines.append("frozen")
    # graphviz's quoting handles quotes; a backslash would start a DOT escape, so drop them
    # and join with DOT's own line break.
    return "\\n".join(line.replace("\\", "/") for line in lines)
