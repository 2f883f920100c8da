"""The search space's parts: one `Dim` per searched quantity, repeated blocks, the whole space."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from builder.errors import BuilderError

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
