"""An export made after the graph changed since the last run never pairs new code with old
weights: it either holds the current graph without trained weights (and says so), or the
last run's graph with its weights. `check_weights_fit` is the backstop in every bundle."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

from builder.errors import BuilderError

CURRENT, LAST_RUN = "current", "last_run"


@dataclass
class ExportPlan:
    """What to export: a graph, the weights that belong to it (None: untrained), a note."""

    arch: object
    model: object | None
    note: str | None = None
    changed: bool = False


def structure_key(arch) -> str:
    """What decides the weights' names and shapes: node ids, types, params and wiring.

    The name and canvas positions are left out: renaming or moving nodes keeps the weights.
    """
    nodes = [[n, arch.type_of(n), arch.user_params_of(n), arch.inputs_of(n)] for n in arch.node_ids]
    return json.dumps(nodes, sort_keys=True)


def structure_digest(arch) -> str:
    """A short fingerprint of structure_key, stored in a weights file's metadata."""
    return hashlib.sha256(structure_key(arch).encode()).hexdigest()[:32]


def changed_nodes(before, after) -> list[str]:
    """Ids of nodes added, removed or changed (type, params or inputs) between two graphs."""
    old = {
        n: (before.type_of(n), before.user_params_of(n), before.inputs_of(n))
        for n in before.node_ids
    }
    new = {
        n: (after.type_of(n), after.user_params_of(n), after.inputs_of(n)) for n in after.node_ids
    }
    return [n for n in dict.fromkeys([*old, *new]) if old.get(n) != new.get(n)]


def plan_export(
    current, trained_arch=None, trained_model=None, *, use: str = CURRENT
) -> ExportPlan:
    """The graph and weights to export now that the canvas may differ from the last run."""
    if trained_model is None or trained_arch is None:
        return ExportPlan(current, None)
    if structure_key(current) == structure_key(trained_arch):
        return ExportPlan(current, trained_model)
    nodes = changed_nodes(trained_arch, current)
    what = ", ".join(nodes[:5]) + (" …" if len(nodes) > 5 else "")
    if use == LAST_RUN:
        return ExportPlan(
            trained_arch,
            trained_model,
            f"This export holds the last run's graph with its trained weights, not the canvas "
            f"(which has changed since: {what}).",
            changed=True,
        )
    return ExportPlan(
        current,
        None,
        f"The graph changed since the last run ({what}), so this export holds no trained "
        f"weights: model.py and model.onnx are the current graph, freshly initialised. Train "
        f"again, or export the last run's graph.",
        changed=True,
    )


def check_weights_fit(arch, model) -> None:
    """BuilderError unless model's tensors have exactly the names and shapes arch builds.

    The graph's module is built on the meta device, so the check allocates nothing.
    """
    import torch

    from builder.compile import compile_model

    with torch.device("meta"):
        expected = compile_model(arch).state_dict()
    actual = model.state_dict()
    for name, tensor in expected.items():
        if name not in actual or tuple(actual[name].shape) != tuple(tensor.shape):
            have = "missing" if name not in actual else list(actual[name].shape)
            raise BuilderError(
                f"the trained weights do not fit this graph: {name} is {have} but model.py "
                f"builds {list(tensor.shape)}",
                hint="Export the last run's graph, or train the current graph first.",
            )
    extra = [k for k in actual if k not in expected]
    if extra:
        raise BuilderError(
            f"the trained weights do not fit this graph: {extra[0]} is not in model.py",
            hint="Export the last run's graph, or train the current graph first.",
        )
