"""Fixes that work: each candidate is applied to a copy, and offered only when the whole
copy then analyses clean (and fits the dataset, when one is given)."""

from __future__ import annotations

from dataclasses import dataclass

from .errors import BuilderError
from .graph import Architecture
from .shapes import Analysis, analyse


@dataclass
class Fix:
    """A checked fix for one node: what the button says and the graph it leads to."""

    node: str
    id: str  # "flatten" | "dataset"
    label: str
    arch: Architecture


def _insert_flatten_before(arch: Architecture, node_id: str) -> Architecture | None:
    inputs = arch.inputs_of(node_id)
    if len(inputs) != 1:
        return None
    trial = arch.copy()
    try:
        flat = trial.add_node("Flatten", pos=_between(trial, inputs[0], node_id))
        port = trial.inputs_of(node_id).index(inputs[0])
        trial.disconnect(inputs[0], node_id)
        trial.connect(inputs[0], flat)
        trial.connect(flat, node_id, port)
    except BuilderError:
        return None
    return trial


def _between(arch: Architecture, a: str, b: str) -> tuple[float, float] | None:
    pa, pb = arch.pos_of(a), arch.pos_of(b)
    if pa is None or pb is None:
        return None
    return ((pa[0] + pb[0]) / 2 + 40, (pa[1] + pb[1]) / 2)


def _clean(arch: Architecture, dataset) -> bool:
    if not analyse(arch).ok:
        return False
    if dataset is None:
        return True
    from .data import check_compatibility

    return check_compatibility(arch, dataset) is None


def node_fixes(
    arch: Architecture, analysis: Analysis | None = None, dataset=None
) -> dict[str, Fix]:
    """Node id -> a fix that makes the whole graph clean (and fit `dataset`), where one is known."""
    analysis = analysis or analyse(arch)
    fixes: dict[str, Fix] = {}
    for error in analysis.errors:
        node = error.node
        if node is None or node not in arch or node in fixes:
            continue
        if "Flatten" in (error.hint or ""):
            trial = _insert_flatten_before(arch, node)
            if trial is not None and _clean(trial, dataset):
                fixes[node] = Fix(node, "flatten", f"insert Flatten before {node}", trial)
    if dataset is not None and analysis.ok:
        from .data import check_compatibility, suggest_fix

        problem = check_compatibility(arch, dataset, analysis=analysis, explain=False)
        fixed = suggest_fix(arch, dataset, analysis=analysis) if problem is not None else None
        if fixed is not None and problem.node in arch:
            fixes[problem.node] = Fix(problem.node, "dataset", f"fit {dataset.name}", fixed)
    return fixes
