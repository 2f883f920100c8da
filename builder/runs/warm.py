"""Warm start: load a finished run's (or a weights file's) tensors by node id where shapes match.

A new head, an added layer or a renamed input never stops the load: every tensor is either
loaded or skipped with a reason, and the report says which (transfer learning).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from builder.errors import BuilderError


@dataclass
class WarmStart:
    """What a warm start loaded and what it skipped, and why."""

    source: str
    loaded: list[str] = field(default_factory=list)  # "node.tensor"
    skipped: list[dict[str, str]] = field(default_factory=list)  # {tensor, reason}

    def to_dict(self) -> dict[str, Any]:
        return {"source": self.source, "loaded": self.loaded, "skipped": self.skipped}

    def describe(self) -> str:
        """One line for a person: counts, then the first few skips with their reasons."""
        text = f"warm start from {self.source}: loaded {len(self.loaded)} tensors"
        if self.skipped:
            reasons = "; ".join(f"{s['tensor']} ({s['reason']})" for s in self.skipped[:4])
            more = f" and {len(self.skipped) - 4} more" if len(self.skipped) > 4 else ""
            text += f", skipped {len(self.skipped)}: {reasons}{more}"
        return text


def resolve_init(source: str, store=None) -> tuple[dict[str, torch.Tensor], Any, str | None]:
    """(tensors, source graph or None, parent run id or None) for a run id or a .safetensors path.

    A weights file's graph is read from a graph.json beside it when there is one (an export
    bundle), so its tensors can be matched by node id.
    """
    from builder.graph import Architecture

    path = Path(source)
    if source.endswith(".safetensors") or path.is_file():
        from safetensors.torch import load_file

        try:
            tensors = load_file(str(path))
        except Exception as err:
            raise BuilderError(
                f"not a readable .safetensors file ({type(err).__name__})",
                file=source,
                hint="Pass a run id or a weights.safetensors file.",
            ) from None
        graph_file = path.with_name("graph.json")
        graph = None
        if graph_file.is_file():
            try:
                graph = Architecture.from_json(json.loads(graph_file.read_text(encoding="utf-8")))
            except (BuilderError, ValueError):
                graph = None
        return tensors, graph, None
    if store is None:
        from builder.runs.store import RunStore

        store = RunStore()
    rec = store.get(source)
    tensors = store.load_state_dict(source)
    if tensors is None:
        raise BuilderError(
            f"run {source} saved no weights (status {rec.status})",
            field="run",
            hint="Start from a run that finished or was stopped.",
        )
    graph = Architecture.from_json(rec.graph) if rec.graph else None
    return tensors, graph, source


def load_matching(
    model: torch.nn.Module, arch, tensors: dict[str, torch.Tensor], source_arch=None, source=""
) -> WarmStart:
    """Copy each source tensor into model where the node id and the shape match."""
    report = WarmStart(source=source)
    target_of = _node_of_attr(arch)
    source_attr = _attr_of_node(source_arch)
    state = model.state_dict()
    updates = {}
    used = set()
    for key, value in state.items():
        attr, _, rest = key.partition(".")
        node = target_of.get(attr, attr)
        source_key = f"{source_attr.get(node, node)}.{rest}"
        name = f"{node}.{rest}"
        if source_key not in tensors:
            report.skipped.append({"tensor": name, "reason": "not in the source"})
            continue
        used.add(source_key)
        got = tensors[source_key]
        if tuple(got.shape) != tuple(value.shape):
            report.skipped.append(
                {
                    "tensor": name,
                    "reason": f"shape {list(got.shape)} in the source, {list(value.shape)} here",
                }
            )
            continue
        updates[key] = got.to(dtype=value.dtype)
        report.loaded.append(name)
    for key in sorted(set(tensors) - used):
        report.skipped.append({"tensor": key, "reason": "no such node in this graph"})
    model.load_state_dict(updates, strict=False)
    return report


def _node_of_attr(arch) -> dict[str, str]:
    if arch is None:
        return {}
    from builder.codegen import attribute_names

    return {attr: node for node, attr in attribute_names(arch).items()}


def _attr_of_node(arch) -> dict[str, str]:
    if arch is None:
        return {}
    from builder.codegen import attribute_names

    return dict(attribute_names(arch))


def freeze_nodes(arch, node_ids: list[str]) -> None:
    """Mark nodes not trainable; a BuilderError names a node that does not exist."""
    for node in node_ids:
        if node not in arch.graph:
            raise BuilderError(
                f"there is no node {node[:40]!r} to freeze",
                field="freeze",
                hint=f"Nodes: {', '.join(arch.node_ids)}.",
            )
        arch.set_trainable(node, False)


def warm_start(trainer, source: str, store=None) -> WarmStart:
    """Load `source` (a run id or a .safetensors file) into trainer.model before it starts,
    and note it on the run: parent run, and the report in the record's extra."""
    tensors, source_arch, parent = resolve_init(
        source, store if store is not None else trainer.store
    )
    report = load_matching(trainer.model, trainer.arch, tensors, source_arch, source=source)
    if not report.loaded:
        raise BuilderError(
            f"nothing in {source} fits this graph: {report.describe()}",
            field="init_from",
            hint="Start from a run of a graph that shares node ids and shapes with this one.",
        )
    trainer.warm_start = report
    if parent is not None and trainer.record_options.get("parent") is None:
        trainer.record_options["parent"] = parent
    extra = dict(trainer.record_options.get("extra") or {})
    extra["warm_start"] = report.to_dict()
    trainer.record_options["extra"] = extra
    return report
