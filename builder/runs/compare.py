"""Comparing runs: the config diff, the graph diff (layers added, removed, changed), final metrics."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# The summary figures shown side by side, in this order, when a run has them.
METRIC_KEYS = (
    "epochs",
    "train_loss",
    "val_loss",
    "best_val_loss",
    "val_accuracy",
    "best_val_accuracy",
    "samples_per_s",
    "train_seconds",
)


def config_diff(a: dict[str, Any], b: dict[str, Any]) -> dict[str, tuple[Any, Any]]:
    """Settings whose values differ: name -> (value in a, value in b); None where absent."""
    return {k: (a.get(k), b.get(k)) for k in sorted(set(a) | set(b)) if a.get(k) != b.get(k)}


@dataclass
class GraphDiff:
    """Nodes only in a (removed), only in b (added), and in both with other type, params,
    inputs or trainable switch (changed: node -> what differs)."""

    added: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    changed: dict[str, list[str]] = field(default_factory=dict)

    @property
    def same(self) -> bool:
        return not (self.added or self.removed or self.changed)

    def to_dict(self) -> dict[str, Any]:
        return {"added": self.added, "removed": self.removed, "changed": self.changed}


def graph_diff(a: dict[str, Any] | None, b: dict[str, Any] | None) -> GraphDiff:
    """Layers added, removed or changed from graph JSON a to graph JSON b, matched by node id."""
    nodes_a, nodes_b = _nodes(a), _nodes(b)
    inputs_a, inputs_b = _inputs(a), _inputs(b)
    diff = GraphDiff(
        added=[n for n in nodes_b if n not in nodes_a],
        removed=[n for n in nodes_a if n not in nodes_b],
    )
    for node_id, node in nodes_b.items():
        before = nodes_a.get(node_id)
        if before is None:
            continue
        what = []
        if before.get("type") != node.get("type"):
            what.append(f"type {before.get('type')} -> {node.get('type')}")
        params_a, params_b = before.get("params", {}), node.get("params", {})
        for key in sorted(set(params_a) | set(params_b)):
            if params_a.get(key) != params_b.get(key):
                what.append(f"{key} {params_a.get(key)} -> {params_b.get(key)}")
        if before.get("trainable", True) != node.get("trainable", True):
            what.append("frozen" if node.get("trainable", True) is False else "unfrozen")
        if inputs_a.get(node_id, []) != inputs_b.get(node_id, []):
            what.append(f"inputs {inputs_a.get(node_id, [])} -> {inputs_b.get(node_id, [])}")
        if what:
            diff.changed[node_id] = what
    return diff


def final_metrics(summary: dict[str, Any]) -> dict[str, Any]:
    return {k: summary.get(k) for k in METRIC_KEYS if summary.get(k) is not None}


def best_val_metric(summary: dict[str, Any]) -> tuple[str, float] | None:
    """The run's headline figure: best val accuracy for classifiers, else best val loss."""
    if summary.get("best_val_accuracy") is not None:
        return "best val accuracy", summary["best_val_accuracy"]
    if summary.get("best_val_loss") is not None:
        return "best val loss", summary["best_val_loss"]
    return None


def compare_runs(records: list) -> dict[str, Any]:
    """Everything `runs compare` prints, as one JSON-ready dict (the first run is the base)."""
    base = records[0]
    return {
        "runs": [r.id for r in records],
        "config_diff": {
            r.id: {k: list(v) for k, v in config_diff(base.config, r.config).items()}
            for r in records[1:]
        },
        "graph_diff": {r.id: graph_diff(base.graph, r.graph).to_dict() for r in records[1:]},
        "metrics": {r.id: final_metrics(r.summary) for r in records},
        "status": {r.id: r.status for r in records},
    }


def _nodes(graph: dict[str, Any] | None) -> dict[str, dict[str, Any]]:
    if not graph:
        return {}
    return {n["id"]: n for n in graph.get("nodes", []) if isinstance(n, dict) and "id" in n}


def _inputs(graph: dict[str, Any] | None) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for edge in (graph or {}).get("edges", []):
        out.setdefault(edge.get("target"), []).append(edge.get("source"))
    return out
