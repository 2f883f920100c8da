"""Training settings: TrainConfig and the device choice."""

from __future__ import annotations

import copy
import math
from dataclasses import asdict, dataclass, fields
from typing import Any

import torch

from builder.errors import BuilderError

OPTIMIZERS = ("sgd", "momentum", "nesterov", "adagrad", "rmsprop", "adam", "adamw")
SCHEDULES = ("none", "step", "cosine", "onecycle", "plateau")
LOSSES = ("auto", "cross_entropy", "bce", "mse", "l1", "huber")
DEVICES = ("auto", "cpu", "cuda", "mps")
STATES = ("idle", "running", "paused", "stopped", "finished", "failed")


@dataclass
class TrainConfig:
    """Everything that shapes a training run; plain values so it round-trips through JSON."""

    epochs: int = 10
    batch_size: int = 64
    optimizer: str = "adam"  # one of OPTIMIZERS; "momentum" is SGD with momentum
    lr: float = 1e-3
    momentum: float = 0.9  # for momentum / nesterov / rmsprop
    weight_decay: float = 0.0  # L2, through the optimizer
    l1: float = 0.0  # L1 penalty on weights, added to the loss
    schedule: str = "none"  # one of SCHEDULES
    step_size: int = 10  # epochs between decays for schedule "step"
    gamma: float = 0.1  # decay factor for "step" and "plateau"
    loss: str = "auto"  # one of LOSSES; auto: cross-entropy / MSE by task
    clip_grad: float = 0.0  # max gradient norm; 0 = off
    early_stopping_patience: int = 0  # epochs without val improvement; 0 = off
    seed: int = 0
    device: str = "auto"  # auto = cuda > mps > cpu
    amp: bool = False  # bf16 autocast (CUDA only)
    compile: bool = False  # torch.compile the model
    stats_every: int = 0  # per-layer statistics every K steps; 0 = off
    log_every: int = 20  # steps between host reads of the loss (step events)
    # Image augmentation on the device, training batches only (see builder.augment).
    augment_shift: int = 0  # random shift by up to this many pixels
    augment_hflip: bool = False  # mirror left-right half of the time
    augment_noise: float = 0.0  # std of gaussian noise added to inputs

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainConfig:
        """Build from a dict, rejecting unknown keys and impossible values with a BuilderError."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise BuilderError(
                f"unknown training setting {unknown[0]!r}",
                field=unknown[0],
                hint=f"Known settings: {', '.join(sorted(known))}.",
            )
        config = cls(**data)
        config.validate()
        return config

    def validate(self) -> None:
        """Raise a BuilderError naming the first setting that cannot work."""
        for name, allowed in (
            ("optimizer", OPTIMIZERS),
            ("schedule", SCHEDULES),
            ("loss", LOSSES),
            ("device", DEVICES),
        ):
            if getattr(self, name) not in allowed:
                raise BuilderError(
                    f"unknown {name} {getattr(self, name)!r}",
                    field=name,
                    hint=f"Choose one of: {', '.join(allowed)}.",
                )
        for name in ("epochs", "batch_size", "log_every", "step_size"):
            if int(getattr(self, name)) < 1:
                raise BuilderError(f"{name} must be at least 1", field=name)
        if not self.lr > 0 or not math.isfinite(self.lr):
            raise BuilderError("lr must be a positive number", field="lr", hint="Try 1e-3.")
        for name in ("weight_decay", "l1", "clip_grad", "momentum"):
            if getattr(self, name) < 0:
                raise BuilderError(f"{name} cannot be negative", field=name)
        for name in ("early_stopping_patience", "stats_every"):
            if getattr(self, name) < 0:
                raise BuilderError(f"{name} cannot be negative", field=name)


def resolve_device(name: str) -> torch.device:
    """'auto' picks cuda, then mps, then cpu; an unavailable explicit choice is a BuilderError."""
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise BuilderError(
            "CUDA is not available on this machine", field="device", hint="Use device cpu or auto."
        )
    if name == "mps" and not (
        getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()
    ):
        raise BuilderError(
            "MPS is not available on this machine", field="device", hint="Use device cpu or auto."
        )
    return torch.device(name)


def copy_config(config: TrainConfig, **changes: Any) -> TrainConfig:
    """A copy of config with some settings changed (validated)."""
    return TrainConfig.from_dict({**copy.deepcopy(config.to_dict()), **changes})
