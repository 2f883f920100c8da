"""Checks of each entry of a search section; each problem is a BuilderError naming node and field."""

from __future__ import annotations

import itertools
import math
import numbers
from typing import Any

from builder.errors import BuilderError
from builder.graph import check_value, validate_params
from builder.layers import REGISTRY, get_spec
from builder.layers.base import Param
from builder.search.dims import (
    FIXED_TYPES,
    MAX_CHOICES,
    MAX_REPEAT,
    METRICS,
    RANGE_KEYS,
    TRAIN_KINDS,
    TRAIN_LIMITS,
    Dim,
    Repeat,
    SearchSpace,
)


def parse_metric(metric: Any) -> str | None:
    if metric is None or metric in METRICS:
        return metric
    raise BuilderError(
        f"unknown metric {show(metric)}",
        field="search.metric",
        hint=f"Use one of: {', '.join(METRICS)}.",
    )


def parse_node_dim(node_id: str, param: Param, spec: Any) -> Dim:
    name = f"{node_id}.{param.name}"
    where = {"node": node_id, "field": param.name}
    require_dict(spec, name, node_id)
    reject_unknown(spec, RANGE_KEYS, name, node_id)
    if "choices" in spec:
        values = parse_choices(spec, where)
        return Dim(name, "choice", choices=tuple(check_value(param, v, node_id) for v in values))
    if param.kind not in ("int", "float", "int_or_tuple"):
        raise BuilderError(
            f"a {param.kind} parameter is searched over choices, not a range",
            **where,
            hint='Give "choices": [...].',
        )
    kind = "float" if param.kind == "float" else "int"
    low, high = parse_range(spec, kind, where)
    for end in (low, high):
        check_value(Param(param.name, kind, end, "", min=param.min, max=param.max), end, node_id)
    return range_dim(name, kind, low, high, spec, where)


def parse_train_dim(name: str, spec: Any) -> Dim:
    from builder.training import OPTIMIZERS, SCHEDULES

    where = {"field": f"train.{name}"}
    kind = TRAIN_KINDS.get(name)
    if kind is None:
        raise BuilderError(
            f"training setting {show(name)} cannot be searched",
            **where,
            hint=f"Searchable settings: {', '.join(TRAIN_KINDS)}.",
        )
    require_dict(spec, f"train.{name}")
    reject_unknown(spec, RANGE_KEYS, f"train.{name}")
    allowed = {"optimizer": OPTIMIZERS, "schedule": SCHEDULES}.get(name)
    if "choices" in spec:
        values = parse_choices(spec, where)
        for value in values:
            check_train_value(name, kind, value, allowed, where)
        return Dim(name, "choice", choices=tuple(values))
    if kind == "choice":
        raise BuilderError(
            f"{name} is searched over choices",
            **where,
            hint=f"Give choices from: {', '.join(allowed)}.",
        )
    low, high = parse_range(spec, kind, where)
    for end in (low, high):
        check_train_value(name, kind, end, None, where)
    return range_dim(name, kind, low, high, spec, where)


def check_train_value(name: str, kind: str, value: Any, allowed, where: dict) -> None:
    if kind == "choice":
        if value not in allowed:
            raise BuilderError(
                f"{show(value)} is not a {name}", **where, hint=f"Use: {', '.join(allowed)}."
            )
        return
    if not is_number(value) or (kind == "int" and not float(value).is_integer()):
        raise BuilderError(
            f"must be a {'whole ' if kind == 'int' else ''}number, not {show(value)}", **where
        )
    low, high = TRAIN_LIMITS[name]
    if not low <= value <= high:
        raise BuilderError(f"{value} is outside {low}..{high}", **where)


def parse_range(spec: dict, kind: str, where: dict) -> tuple[float, float]:
    if "low" not in spec or "high" not in spec:
        raise BuilderError(
            'a searched value needs "low" and "high", or "choices"',
            **where,
            hint='For example {"low": 8, "high": 64} or {"choices": [3, 5]}.',
        )
    low, high = spec["low"], spec["high"]
    for end in (low, high):
        if not is_number(end) or not math.isfinite(end):
            raise BuilderError(f"low and high must be numbers, not {show(end)}", **where)
        if kind == "int" and not float(end).is_integer():
            raise BuilderError(f"low and high must be whole numbers, not {show(end)}", **where)
    if low > high:
        raise BuilderError(
            f"the range {low}..{high} is empty", **where, hint="Make low at most high."
        )
    return (int(low), int(high)) if kind == "int" else (float(low), float(high))


def range_dim(name: str, kind: str, low, high, spec: dict, where: dict) -> Dim:
    log = spec.get("log", False)
    if not isinstance(log, bool):
        raise BuilderError("log must be true or false", **where)
    if log and low <= 0:
        raise BuilderError(
            "a log range must start above 0", **where, hint="Raise low, or drop log."
        )
    step = spec.get("step")
    if step is not None:
        if not is_number(step) or not step > 0 or (kind == "int" and not float(step).is_integer()):
            raise BuilderError(
                f"step must be a positive {'whole ' if kind == 'int' else ''}number", **where
            )
        if log:
            raise BuilderError("a range cannot have both log and step", **where)
        step = int(step) if kind == "int" else float(step)
    return Dim(name, kind, low, high, log, step)


def parse_choices(spec: dict, where: dict) -> list[Any]:
    extra = set(spec) - {"choices"}
    if extra:
        raise BuilderError(
            f"choices cannot be mixed with {sorted(extra)[0]!r}",
            **where,
            hint="Give a range or choices.",
        )
    values = spec["choices"]
    if not isinstance(values, list) or not values:
        raise BuilderError("choices must be a non-empty list", **where)
    if len(values) > MAX_CHOICES:
        raise BuilderError(f"at most {MAX_CHOICES} choices", **where)
    for value in values:
        if not isinstance(value, str | int | float | bool | None):
            raise BuilderError(
                f"a choice must be a number, text or true/false, not {show(value)}", **where
            )
    if len({repr(v) for v in values}) != len(values):
        raise BuilderError("choices must differ from each other", **where)
    return values


def parse_types(arch, node_id: str, choices: Any) -> Dim:
    require_node(arch, node_id, "types")
    where = {"node": node_id, "field": "type"}
    if not isinstance(choices, list) or len(choices) < 2:
        raise BuilderError("list at least two layer types to choose from", **where)
    current = arch.type_of(node_id)
    for type_name in choices:
        if not isinstance(type_name, str) or type_name not in REGISTRY:
            raise BuilderError(
                f"unknown layer type {show(type_name)}",
                **where,
                hint=f"Use one of: {', '.join(sorted(REGISTRY))}.",
            )
        if type_name in FIXED_TYPES or current in FIXED_TYPES:
            raise BuilderError(f"an {current} node cannot change its type to {type_name}", **where)
        spec = get_spec(type_name)
        n_inputs = len(arch.inputs_of(node_id))
        if n_inputs < spec.min_inputs or (
            spec.max_inputs is not None and n_inputs > spec.max_inputs
        ):
            raise BuilderError(
                f"{type_name} cannot take this node's {n_inputs} input(s)",
                **where,
                hint="Choose types that take the same inputs.",
            )
        try:
            validate_params(type_name, arch.user_params_of(node_id), node_id)
        except BuilderError as err:
            raise BuilderError(
                f"{type_name} cannot take this node's params ({err.message})",
                **where,
                hint="Choose types that share the node's parameters, e.g. ReLU | GELU | SiLU.",
            ) from None
    if len(set(choices)) != len(choices):
        raise BuilderError("the types must differ from each other", **where)
    return Dim(f"{node_id}.type", "choice", choices=tuple(choices))


def check_optional(arch, node_id: str) -> None:
    require_node(arch, node_id, "optional")
    if len(arch.inputs_of(node_id)) != 1 or arch.type_of(node_id) in FIXED_TYPES:
        raise BuilderError(
            "only a node with exactly one input can be skipped",
            node=node_id,
            field="optional",
            hint="Make a Dropout or BatchNorm node optional.",
        )
    if not arch.outputs_of(node_id):
        raise BuilderError(
            "an output node cannot be skipped",
            node=node_id,
            field="optional",
            hint="Make an inner node optional.",
        )


def parse_repeat(arch, name: str, spec: Any) -> Repeat:
    where = {"field": f"repeat.{name}"}
    if not isinstance(name, str) or not name.isidentifier() or len(name) > 64:
        raise BuilderError(f"block name {show(name)} is not a valid name", **where)
    require_dict(spec, f"repeat.{name}")
    reject_unknown(spec, {"nodes", "min", "max"}, f"repeat.{name}")
    nodes = spec.get("nodes")
    if not isinstance(nodes, list) or not nodes or not all(isinstance(n, str) for n in nodes):
        raise BuilderError("nodes must be a non-empty list of node ids", **where)
    for node_id in nodes:
        require_node(arch, node_id, f"repeat.{name}")
    low, high = spec.get("min", 1), spec.get("max")
    for end in (low, high):
        if not isinstance(end, int) or isinstance(end, bool) or not 1 <= end <= MAX_REPEAT:
            raise BuilderError(f"min and max must be whole numbers in 1..{MAX_REPEAT}", **where)
    if low > high:
        raise BuilderError(
            f"the range {low}..{high} is empty", **where, hint="Make min at most max."
        )
    check_chain(arch, nodes, where)
    return Repeat(name, tuple(nodes), low, high)


def check_chain(arch, nodes: list[str], where: dict) -> None:
    """A block is a straight chain: one way in, one way out, each node feeding the next."""
    if len(set(nodes)) != len(nodes):
        raise BuilderError("a block lists each node once", **where)
    first = nodes[0]
    if len(arch.inputs_of(first)) != 1 or arch.type_of(first) in FIXED_TYPES:
        raise BuilderError(f"the block's first node {first} must have exactly one input", **where)
    for prev, node in itertools.pairwise(nodes):
        if arch.inputs_of(node) != [prev] or arch.outputs_of(prev) != [node]:
            raise BuilderError(
                f"{prev} -> {node}: a block must be a chain, each node feeding only the next",
                **where,
                hint="List the block's nodes in order, without branches.",
            )
    if arch.type_of(nodes[-1]) in FIXED_TYPES:
        raise BuilderError("an Output node cannot be repeated", **where)


def check_repeats_apart(space: SearchSpace) -> None:
    seen: dict[str, str] = {}
    for repeat in space.repeats.values():
        for node_id in repeat.nodes:
            if node_id in seen:
                raise BuilderError(
                    f"{node_id} is in blocks {seen[node_id]} and {repeat.name}",
                    node=node_id,
                    field="repeat",
                    hint="A node belongs to one repeated block.",
                )
            seen[node_id] = repeat.name


def check_unique_names(space: SearchSpace) -> None:
    names = [dim.name for dim in space.dims]
    for name in names:
        if names.count(name) > 1:
            raise BuilderError(
                f"two searched values share the name {name!r}",
                field="search",
                hint="Rename the repeated block so it differs from node ids.",
            )


# ---- small checks ------------------------------------------------------------------------


def node_param(arch, node_id: str, name: Any) -> Param:
    type_name = arch.type_of(node_id)
    param = get_spec(type_name).param(name) if isinstance(name, str) else None
    if param is None:
        raise BuilderError(
            f"{type_name} has no parameter {show(name)}",
            node=node_id,
            field=str(name)[:40],
            hint=f"Its parameters: {', '.join(p.name for p in get_spec(type_name).params) or 'none'}.",
        )
    if param.kind == "shape":
        raise BuilderError("an input shape cannot be searched", node=node_id, field=param.name)
    return param


def require_node(arch, node_id: Any, where: str) -> None:
    if not isinstance(node_id, str) or node_id not in arch:
        raise BuilderError(
            f"search.{where} names a missing node {show(node_id)}",
            field=f"search.{where}",
            hint="Remove it from the search section, or add the node.",
        )


def require_dict(value: Any, where: str, node: str | None = None) -> None:
    if not isinstance(value, dict):
        raise BuilderError(
            f"{where} must be a JSON object", node=node, field=None if node else where
        )


def reject_unknown(obj: dict, allowed: set[str], where: str, node: str | None = None) -> None:
    unknown = sorted(str(k)[:40] for k in obj if k not in allowed)
    if unknown:
        raise BuilderError(
            f"{where}: unknown key {unknown[0]!r}",
            node=node,
            hint=f"Allowed keys: {', '.join(sorted(allowed))}.",
        )


def dict_entries(value: Any, where: str) -> list[tuple[str, Any]]:
    if not isinstance(value, dict):
        raise BuilderError(f"{where} must be a JSON object", field=where)
    return list(value.items())


def list_entries(value: Any, where: str) -> list[Any]:
    if not isinstance(value, list):
        raise BuilderError(f"{where} must be a list of node ids", field=where)
    if len(set(map(str, value))) != len(value):
        raise BuilderError(f"{where} lists a node twice", field=where)
    return value


def is_number(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."
