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

import itertools
import math
import numbers
from dataclasses import dataclass, field
from typing import Any

from builder.errors import BuilderError
from builder.graph import check_value, validate_params
from builder.layers import REGISTRY, get_spec
from builder.layers.base import Param

SECTION_KEYS = {"metric", "params", "train", "types", "optional", "repeat"}
RANGE_KEYS = {"low", "high", "log", "step", "choices"}
METRICS = ("val_accuracy", "val_loss")
MAX_CHOICES = 64
MAX_REPEAT = 8
MAX_GRID_POINTS = 10_000
# Training settings that may be searched, with the kind of value each takes.
TRAIN_KINDS = {
    "lr": "float",
    "batch_size": "int",
    "optimizer": "choice",
    "weight_decay": "float",
    "epochs": "int",
    "momentum": "float",
    "schedule": "choice",
    "l1": "float",
    "clip_grad": "float",
}
TRAIN_LIMITS = {
    "lr": (1e-8, 10.0),
    "batch_size": (1, 65536),
    "weight_decay": (0.0, 1.0),
    "epochs": (1, 1000),
    "momentum": (0.0, 1.0),
    "l1": (0.0, 1.0),
    "clip_grad": (0.0, 1e6),
}
# Types a node cannot switch to or from: they change the graph's interface, not a layer.
FIXED_TYPES = {"Input", "Output"}


@dataclass(frozen=True)
class Dim:
    """One searched quantity: an int or float range, or a list of choices."""

    name: str  # the Optuna parameter name
    kind: str  # "int" | "float" | "choice"
    low: float | None = None
    high: float | None = None
    log: bool = False
    step: float | None = None
    choices: tuple[Any, ...] = ()

    def suggest(self, trial) -> Any:
        """Ask an Optuna trial for this dimension's value."""
        if self.kind == "choice":
            return trial.suggest_categorical(self.name, list(self.choices))
        if self.kind == "int":
            return trial.suggest_int(
                self.name, int(self.low), int(self.high), step=int(self.step or 1), log=self.log
            )
        return trial.suggest_float(self.name, self.low, self.high, step=self.step, log=self.log)

    def grid_values(self) -> list[Any]:
        """Every value a grid search visits; a float range needs a step."""
        if self.kind == "choice":
            return list(self.choices)
        if self.kind == "int":
            values = list(range(int(self.low), int(self.high) + 1, int(self.step or 1)))
        elif self.step:
            count = math.floor((self.high - self.low) / self.step + 1e-9) + 1
            values = [round(self.low + i * self.step, 12) for i in range(count)]
        else:
            raise BuilderError(
                "a grid search cannot enumerate a float range without a step",
                field=self.name,
                hint='Give it a "step", or list "choices", or use the tpe or random sampler.',
            )
        if len(values) > MAX_CHOICES:
            raise BuilderError(
                f"{len(values)} grid values is more than {MAX_CHOICES}",
                field=self.name,
                hint="Use a larger step, fewer choices, or the tpe or random sampler.",
            )
        return values


@dataclass(frozen=True)
class Repeat:
    """A chain of nodes that a trial repeats min..max times."""

    name: str
    nodes: tuple[str, ...]
    low: int
    high: int


@dataclass
class SearchSpace:
    """The checked search section: its dimensions plus what apply_trial needs to build."""

    metric: str | None = None
    node_params: dict[tuple[str, str], Dim] = field(default_factory=dict)
    train: dict[str, Dim] = field(default_factory=dict)
    types: dict[str, Dim] = field(default_factory=dict)
    optional: dict[str, Dim] = field(default_factory=dict)
    repeats: dict[str, Repeat] = field(default_factory=dict)

    @property
    def dims(self) -> list[Dim]:
        """Every dimension, in a stable order (node params, types, optional, repeat, train)."""
        repeat_dims = [Dim(f"{r.name}.repeat", "int", r.low, r.high) for r in self.repeats.values()]
        return [
            *self.node_params.values(),
            *self.types.values(),
            *self.optional.values(),
            *repeat_dims,
            *self.train.values(),
        ]

    def __bool__(self) -> bool:
        return bool(self.dims)

    def suggest(self, trial) -> dict[str, Any]:
        """One value per dimension, drawn by the trial's sampler."""
        return {dim.name: dim.suggest(trial) for dim in self.dims}

    def grid(self) -> dict[str, list[Any]]:
        """The full grid for optuna's GridSampler; BuilderError when it cannot be enumerated."""
        grid = {dim.name: dim.grid_values() for dim in self.dims}
        if math.prod(len(v) for v in grid.values()) > MAX_GRID_POINTS:
            raise BuilderError(
                f"the grid has more than {MAX_GRID_POINTS:,} points",
                field="search",
                hint="Search fewer values, or use the tpe or random sampler.",
            )
        return grid

    def searched_nodes(self) -> set[str]:
        """Ids of the nodes any dimension touches."""
        nodes = {node for node, _ in self.node_params} | set(self.types) | set(self.optional)
        for repeat in self.repeats.values():
            nodes.update(repeat.nodes)
        return nodes


# ---- reading the section ---------------------------------------------------------------------


def parse_space(arch, section: Any) -> SearchSpace:
    """Check a search section against the graph; BuilderError naming node and field."""
    if section is None:
        return SearchSpace()
    _require_dict(section, "search")
    _reject_unknown(section, SECTION_KEYS, "search")
    space = SearchSpace(metric=_parse_metric(section.get("metric")))
    for node_id, params in _dict_entries(section.get("params", {}), "search.params"):
        _require_node(arch, node_id, "params")
        _require_dict(params, f"search.params.{node_id}", node_id)
        for name, spec in params.items():
            param = _node_param(arch, node_id, name)
            space.node_params[(node_id, name)] = _parse_node_dim(node_id, param, spec)
    for name, spec in _dict_entries(section.get("train", {}), "search.train"):
        space.train[name] = _parse_train_dim(name, spec)
    for node_id, choices in _dict_entries(section.get("types", {}), "search.types"):
        space.types[node_id] = _parse_types(arch, node_id, choices)
    for node_id in _list_entries(section.get("optional", []), "search.optional"):
        _check_optional(arch, node_id)
        space.optional[node_id] = Dim(f"{node_id}.use", "choice", choices=(True, False))
    for name, spec in _dict_entries(section.get("repeat", {}), "search.repeat"):
        space.repeats[name] = _parse_repeat(arch, name, spec)
    _check_repeats_apart(space)
    _check_unique_names(space)
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


def _parse_metric(metric: Any) -> str | None:
    if metric is None or metric in METRICS:
        return metric
    raise BuilderError(
        f"unknown metric {_show(metric)}",
        field="search.metric",
        hint=f"Use one of: {', '.join(METRICS)}.",
    )


def _parse_node_dim(node_id: str, param: Param, spec: Any) -> Dim:
    name = f"{node_id}.{param.name}"
    where = {"node": node_id, "field": param.name}
    _require_dict(spec, name, node_id)
    _reject_unknown(spec, RANGE_KEYS, name, node_id)
    if "choices" in spec:
        values = _choices(spec, where)
        return Dim(name, "choice", choices=tuple(check_value(param, v, node_id) for v in values))
    if param.kind not in ("int", "float", "int_or_tuple"):
        raise BuilderError(
            f"a {param.kind} parameter is searched over choices, not a range",
            **where,
            hint='Give "choices": [...].',
        )
    kind = "float" if param.kind == "float" else "int"
    low, high = _range(spec, kind, where)
    for end in (low, high):
        check_value(Param(param.name, kind, end, "", min=param.min, max=param.max), end, node_id)
    return _range_dim(name, kind, low, high, spec, where)


def _parse_train_dim(name: str, spec: Any) -> Dim:
    from builder.training import OPTIMIZERS, SCHEDULES

    where = {"field": f"train.{name}"}
    kind = TRAIN_KINDS.get(name)
    if kind is None:
        raise BuilderError(
            f"training setting {_show(name)} cannot be searched",
            **where,
            hint=f"Searchable settings: {', '.join(TRAIN_KINDS)}.",
        )
    _require_dict(spec, f"train.{name}")
    _reject_unknown(spec, RANGE_KEYS, f"train.{name}")
    allowed = {"optimizer": OPTIMIZERS, "schedule": SCHEDULES}.get(name)
    if "choices" in spec:
        values = _choices(spec, where)
        for value in values:
            _check_train_value(name, kind, value, allowed, where)
        return Dim(name, "choice", choices=tuple(values))
    if kind == "choice":
        raise BuilderError(
            f"{name} is searched over choices",
            **where,
            hint=f"Give choices from: {', '.join(allowed)}.",
        )
    low, high = _range(spec, kind, where)
    for end in (low, high):
        _check_train_value(name, kind, end, None, where)
    return _range_dim(name, kind, low, high, spec, where)


def _check_train_value(name: str, kind: str, value: Any, allowed, where: dict) -> None:
    if kind == "choice":
        if value not in allowed:
            raise BuilderError(
                f"{_show(value)} is not a {name}", **where, hint=f"Use: {', '.join(allowed)}."
            )
        return
    if not _is_number(value) or (kind == "int" and not float(value).is_integer()):
        raise BuilderError(
            f"must be a {'whole ' if kind == 'int' else ''}number, not {_show(value)}", **where
        )
    low, high = TRAIN_LIMITS[name]
    if not low <= value <= high:
        raise BuilderError(f"{value} is outside {low}..{high}", **where)


def _range(spec: dict, kind: str, where: dict) -> tuple[float, float]:
    if "low" not in spec or "high" not in spec:
        raise BuilderError(
            'a searched value needs "low" and "high", or "choices"',
            **where,
            hint='For example {"low": 8, "high": 64} or {"choices": [3, 5]}.',
        )
    low, high = spec["low"], spec["high"]
    for end in (low, high):
        if not _is_number(end) or not math.isfinite(end):
            raise BuilderError(f"low and high must be numbers, not {_show(end)}", **where)
        if kind == "int" and not float(end).is_integer():
            raise BuilderError(f"low and high must be whole numbers, not {_show(end)}", **where)
    if low > high:
        raise BuilderError(
            f"the range {low}..{high} is empty", **where, hint="Make low at most high."
        )
    return (int(low), int(high)) if kind == "int" else (float(low), float(high))


def _range_dim(name: str, kind: str, low, high, spec: dict, where: dict) -> Dim:
    log = spec.get("log", False)
    if not isinstance(log, bool):
        raise BuilderError("log must be true or false", **where)
    if log and low <= 0:
        raise BuilderError(
            "a log range must start above 0", **where, hint="Raise low, or drop log."
        )
    step = spec.get("step")
    if step is not None:
        if not _is_number(step) or not step > 0 or (kind == "int" and not float(step).is_integer()):
            raise BuilderError(
                f"step must be a positive {'whole ' if kind == 'int' else ''}number", **where
            )
        if log:
            raise BuilderError("a range cannot have both log and step", **where)
        step = int(step) if kind == "int" else float(step)
    return Dim(name, kind, low, high, log, step)


def _choices(spec: dict, where: dict) -> list[Any]:
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
                f"a choice must be a number, text or true/false, not {_show(value)}", **where
            )
    if len({repr(v) for v in values}) != len(values):
        raise BuilderError("choices must differ from each other", **where)
    return values


def _parse_types(arch, node_id: str, choices: Any) -> Dim:
    _require_node(arch, node_id, "types")
    where = {"node": node_id, "field": "type"}
    if not isinstance(choices, list) or len(choices) < 2:
        raise BuilderError("list at least two layer types to choose from", **where)
    current = arch.type_of(node_id)
    for type_name in choices:
        if not isinstance(type_name, str) or type_name not in REGISTRY:
            raise BuilderError(
                f"unknown layer type {_show(type_name)}",
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


def _check_optional(arch, node_id: str) -> None:
    _require_node(arch, node_id, "optional")
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


def _parse_repeat(arch, name: str, spec: Any) -> Repeat:
    where = {"field": f"repeat.{name}"}
    if not isinstance(name, str) or not name.isidentifier() or len(name) > 64:
        raise BuilderError(f"block name {_show(name)} is not a valid name", **where)
    _require_dict(spec, f"repeat.{name}")
    _reject_unknown(spec, {"nodes", "min", "max"}, f"repeat.{name}")
    nodes = spec.get("nodes")
    if not isinstance(nodes, list) or not nodes or not all(isinstance(n, str) for n in nodes):
        raise BuilderError("nodes must be a non-empty list of node ids", **where)
    for node_id in nodes:
        _require_node(arch, node_id, f"repeat.{name}")
    low, high = spec.get("min", 1), spec.get("max")
    for end in (low, high):
        if not isinstance(end, int) or isinstance(end, bool) or not 1 <= end <= MAX_REPEAT:
            raise BuilderError(f"min and max must be whole numbers in 1..{MAX_REPEAT}", **where)
    if low > high:
        raise BuilderError(
            f"the range {low}..{high} is empty", **where, hint="Make min at most max."
        )
    _check_chain(arch, nodes, where)
    return Repeat(name, tuple(nodes), low, high)


def _check_chain(arch, nodes: list[str], where: dict) -> None:
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


def _check_repeats_apart(space: SearchSpace) -> None:
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


def _check_unique_names(space: SearchSpace) -> None:
    names = [dim.name for dim in space.dims]
    for name in names:
        if names.count(name) > 1:
            raise BuilderError(
                f"two searched values share the name {name!r}",
                field="search",
                hint="Rename the repeated block so it differs from node ids.",
            )


# ---- small checks ------------------------------------------------------------------------


def _node_param(arch, node_id: str, name: Any) -> Param:
    type_name = arch.type_of(node_id)
    param = get_spec(type_name).param(name) if isinstance(name, str) else None
    if param is None:
        raise BuilderError(
            f"{type_name} has no parameter {_show(name)}",
            node=node_id,
            field=str(name)[:40],
            hint=f"Its parameters: {', '.join(p.name for p in get_spec(type_name).params) or 'none'}.",
        )
    if param.kind == "shape":
        raise BuilderError("an input shape cannot be searched", node=node_id, field=param.name)
    return param


def _require_node(arch, node_id: Any, where: str) -> None:
    if not isinstance(node_id, str) or node_id not in arch:
        raise BuilderError(
            f"search.{where} names a missing node {_show(node_id)}",
            field=f"search.{where}",
            hint="Remove it from the search section, or add the node.",
        )


def _require_dict(value: Any, where: str, node: str | None = None) -> None:
    if not isinstance(value, dict):
        raise BuilderError(
            f"{where} must be a JSON object", node=node, field=None if node else where
        )


def _reject_unknown(obj: dict, allowed: set[str], where: str, node: str | None = None) -> None:
    unknown = sorted(str(k)[:40] for k in obj if k not in allowed)
    if unknown:
        raise BuilderError(
            f"{where}: unknown key {unknown[0]!r}",
            node=node,
            hint=f"Allowed keys: {', '.join(sorted(allowed))}.",
        )


def _dict_entries(value: Any, where: str) -> list[tuple[str, Any]]:
    if not isinstance(value, dict):
        raise BuilderError(f"{where} must be a JSON object", field=where)
    return list(value.items())


def _list_entries(value: Any, where: str) -> list[Any]:
    if not isinstance(value, list):
        raise BuilderError(f"{where} must be a list of node ids", field=where)
    if len(set(map(str, value))) != len(value):
        raise BuilderError(f"{where} lists a node twice", field=where)
    return value


def _is_number(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."
