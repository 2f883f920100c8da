"""Edits of a graph's search section: mark / unmark a searched value, follow node renames."""

from __future__ import annotations

import copy
from typing import Any

from builder.search.space import parse_space


def mark_param(arch, node_id: str, name: str, spec: dict[str, Any]) -> None:
    """Search node_id's param `name` over spec ({"low", "high", "log"} or {"choices"}).

    The whole section is checked before it replaces the old one, so a bad spec raises a
    BuilderError and changes nothing.
    """
    section = copy.deepcopy(arch.search or {})
    section.setdefault("params", {}).setdefault(node_id, {})[name] = dict(spec)
    _replace(arch, section)


def unmark_param(arch, node_id: str, name: str) -> None:
    """Stop searching a node param (nothing happens when it was not searched)."""
    section = copy.deepcopy(arch.search or {})
    params = section.get("params", {})
    params.get(node_id, {}).pop(name, None)
    if not params.get(node_id):
        params.pop(node_id, None)
    _replace(arch, section)


def mark_train(arch, name: str, spec: dict[str, Any] | None) -> None:
    """Search a training setting over spec, or stop searching it (spec None)."""
    section = copy.deepcopy(arch.search or {})
    train = section.setdefault("train", {})
    if spec is None:
        train.pop(name, None)
    else:
        train[name] = dict(spec)
    _replace(arch, section)


def mark_repeat(arch, name: str, nodes: list[str] | None, high: int = 3) -> None:
    """Search how often a block repeats (1..high times), or stop (nodes None)."""
    section = copy.deepcopy(arch.search or {})
    repeat = section.setdefault("repeat", {})
    if nodes is None:
        repeat.pop(name, None)
    else:
        repeat[name] = {"nodes": list(nodes), "min": 1, "max": high}
    _replace(arch, section)


def repeat_spec(arch, name: str) -> dict[str, Any] | None:
    """The repeat range a block is searched over, or None."""
    return ((arch.search or {}).get("repeat") or {}).get(name)


def param_spec(arch, node_id: str, name: str) -> dict[str, Any] | None:
    """The spec a node param is searched over, or None."""
    return ((arch.search or {}).get("params", {}).get(node_id) or {}).get(name)


def rename_in_section(section: dict[str, Any], old: str, new: str) -> dict[str, Any]:
    """The section with every reference to node `old` pointing at `new`."""
    out = copy.deepcopy(section)
    for key in ("params", "types"):
        if isinstance(out.get(key), dict) and old in out[key]:
            out[key] = {new if k == old else k: v for k, v in out[key].items()}
    if isinstance(out.get("optional"), list):
        out["optional"] = [new if n == old else n for n in out["optional"]]
    for block in _blocks(out):
        block["nodes"] = [new if n == old else n for n in block["nodes"]]
    return out


def drop_node_from_section(section: dict[str, Any], node_id: str) -> dict[str, Any]:
    """The section without the deleted node (a block losing a node is dropped whole)."""
    out = copy.deepcopy(section)
    for key in ("params", "types"):
        if isinstance(out.get(key), dict):
            out[key].pop(node_id, None)
    if isinstance(out.get("optional"), list):
        out["optional"] = [n for n in out["optional"] if n != node_id]
    if isinstance(out.get("repeat"), dict):
        out["repeat"] = {
            name: block
            for name, block in out["repeat"].items()
            if not (isinstance(block, dict) and node_id in (block.get("nodes") or []))
        }
    return _without_empty(out)


def _blocks(section: dict[str, Any]) -> list[dict[str, Any]]:
    repeat = section.get("repeat")
    if not isinstance(repeat, dict):
        return []
    return [b for b in repeat.values() if isinstance(b, dict) and isinstance(b.get("nodes"), list)]


def _without_empty(section: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in section.items() if v not in ({}, [], None)}


def _replace(arch, section: dict[str, Any]) -> None:
    section = _without_empty(section)
    parse_space(arch, section)
    arch.search = section or None
