"""The search space: graph JSON's optional top-level `search` section, checked strictly.

    "search": {
      "metric": "val_accuracy",                                  # or "val_loss"; optional
      "params": {"conv1": {"out_channels": {"low": 8, "high": 64, "log": true},
                           "kernel_size": {"choices": [3, 5]}}},
      "train": {"lr": {"low": 1e-4, "high": 1e-1, "log": true},
                "optimizer": {"choices": ["adam", "sgd"]}},
      "types": {"act1": ["ReLU", "GELU", "SiLU"]},              # the node is one of these types
      "optional": ["drop1"],                                      # the node may be skipped
      "repeat": {"block": {"nodes": ["conv2", "act2"], "min": 1, "max": 3}}
    }

Each searched quantity becomes one `Dim` whose name is the Optuna parameter name:
"conv1.out_channels", "lr", "act1.type", "drop1.use", "block.repeat". The section is
untrusted input like the rest of a graph file: every key and value is checked here and a
problem is a BuilderError naming the node and field.
"""

from __future__ import annotations

from typing import Any

from builder.errors import BuilderError
from builder.search.dims import SECTION_KEYS, Dim, Repeat, SearchSpace
from builder.search.entries import (
    check_optional,
    check_repeats_apart,
    check_unique_names,
    dict_entries,
    list_entries,
    node_param,
    parse_metric,
    parse_node_dim,
    parse_repeat,
    parse_train_dim,
    parse_types,
    reject_unknown,
    require_dict,
    require_node,
)

__all__ = ["Dim", "Repeat", "SearchSpace", "parse_space", "searched_nodes", "space_of"]


# ---- reading the section ---------------------------------------------------------------------


def parse_space(arch, section: Any) -> SearchSpace:
    """Check a search section against the graph; BuilderError naming node and field."""
    if section is None:
        return SearchSpace()
    require_dict(section, "search")
    reject_unknown(section, SECTION_KEYS, "search")
    space = SearchSpace(metric=parse_metric(section.get("metric")))
    for node_id, params in dict_entries(section.get("params", {}), "search.params"):
        require_node(arch, node_id, "params")
        require_dict(params, f"search.params.{node_id}", node_id)
        for name, spec in params.items():
            param = node_param(arch, node_id, name)
            space.node_params[(node_id, name)] = parse_node_dim(node_id, param, spec)
    for name, spec in dict_entries(section.get("train", {}), "search.train"):
        space.train[name] = parse_train_dim(name, spec)
    for node_id, choices in dict_entries(section.get("types", {}), "search.types"):
        space.types[node_id] = parse_types(arch, node_id, choices)
    for node_id in list_entries(section.get("optional", []), "search.optional"):
        check_optional(arch, node_id)
        space.optional[node_id] = Dim(f"{node_id}.use", "choice", choices=(True, False))
    for name, spec in dict_entries(section.get("repeat", {}), "search.repeat"):
        space.repeats[name] = parse_repeat(arch, name, spec)
    check_repeats_apart(space)
    check_unique_names(space)
    return space


def space_of(arch) -> SearchSpace:
    """The architecture's search space (empty when it has no search section)."""
    return parse_space(arch, getattr(arch, "search", None))


def searched_nodes(arch) -> set[str]:
    """Ids of the nodes the graph's search section touches (for the canvas and diagram)."""
    try:
        return space_of(arch).searched_nodes()
    except BuilderError:
        section = getattr(arch, "search", None) or {}
        return {n for n in referenced_nodes(section) if n in arch}


def referenced_nodes(section: dict[str, Any]) -> set[str]:
    """Every node id a (possibly stale) section names."""
    nodes: set[str] = set()
    if not isinstance(section, dict):
        return nodes
    for key in ("params", "types"):
        if isinstance(section.get(key), dict):
            nodes.update(k for k in section[key] if isinstance(k, str))
    if isinstance(section.get("optional"), list):
        nodes.update(n for n in section["optional"] if isinstance(n, str))
    for block in (
        (section.get("repeat") or {}).values() if isinstance(section.get("repeat"), dict) else ()
    ):
        if isinstance(block, dict) and isinstance(block.get("nodes"), list):
            nodes.update(n for n in block["nodes"] if isinstance(n, str))
    return nodes
