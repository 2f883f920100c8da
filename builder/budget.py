"""Memory budget before allocation: estimate what training a graph will need, from shape
analysis alone, and refuse (offering a batch size that fits) when it exceeds a share of
the free memory of the device it would run on.

Torch is imported only to ask CUDA for its free memory, so `validate` stays light.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from pathlib import Path

from .errors import BuilderError
from .layers.base import fmt_shape

# Share of the free memory one training may plan to use; the rest is headroom for the
# allocator, the page and other sessions. LAYERCRAFT_MEMORY_SHARE overrides it (0 < s <= 1).
DEFAULT_SHARE = 0.6
SHARE_ENV = "LAYERCRAFT_MEMORY_SHARE"
FLOAT_BYTES = 4
# Optimizer state per parameter, in parameter-sized buffers (Adam keeps two moments).
OPTIMIZER_STATE = {
    "sgd": 0,
    "momentum": 1,
    "nesterov": 1,
    "adagrad": 1,
    "rmsprop": 1,
    "adam": 2,
    "adamw": 2,
}
# Training keeps each node's output for backward and, at the peak of backward, holds a
# gradient of the same size beside it.
TRAIN_ACTIVATION_FACTOR = 2
VAL_BATCH = 1024  # the trainer validates in batches of at most this size (no graph kept)
# ...and of at most this many training batches, so a batch size that fits training also
# fits validation (an upsampler validated 1,024 images at once and could not be offered one).
VAL_BATCHES_PER_PASS = 4
# Copies of a parameter-sized buffer outside the optimizer: weights, gradients and the
# best-epoch copy the trainer keeps to restore.
PARAM_COPIES = 3


def validation_batch_size(batch_size: int) -> int:
    """How many validation samples the trainer runs through the model at once."""
    return max(1, min(VAL_BATCH, VAL_BATCHES_PER_PASS * int(batch_size)))


@dataclass
class MemoryEstimate:
    """Bytes a training run will need, split so a message can say where they go."""

    batch_size: int
    weights: int  # one float32 copy of the parameters
    parameter_total: int  # weights, gradients, best copy and optimizer state
    per_sample: int  # activations (and their gradients) for one training sample
    validation: int  # the largest no-grad step of a validation batch
    validation_per_sample: int  # that step for one sample
    n_val: int  # validation samples (a pass takes at most this many)
    data: int  # the dataset, when it must be copied onto the device
    node_bytes: dict[str, int] = field(default_factory=dict)  # per node, at batch_size
    node_shapes: dict[str, str] = field(default_factory=dict)

    @property
    def activations(self) -> int:
        return self.per_sample * self.batch_size

    @property
    def total(self) -> int:
        return self.parameter_total + self.data + max(self.activations, self.validation)

    @property
    def dominant(self) -> str | None:
        """The node that needs the most memory (parameters and activations together)."""
        return max(self.node_bytes, key=self.node_bytes.__getitem__) if self.node_bytes else None

    def max_batch(self, budget: int) -> int:
        """The largest batch size that fits the budget (0 when not even 1 does)."""
        room = budget - self.parameter_total - self.data
        if room <= 0:
            return 0
        best = self.batch_size if self.per_sample == 0 else room // self.per_sample
        # Validation passes grow with the batch size until they hold every sample.
        if self.validation_per_sample * min(VAL_BATCH, max(self.n_val, 1)) > room:
            best = min(best, room // (self.validation_per_sample * VAL_BATCHES_PER_PASS))
        return int(min(best, 1_000_000))


def estimate_training_memory(
    analysis, *, batch_size: int, optimizer: str = "adam", data_bytes: int = 0, n_val: int = 0
) -> MemoryEstimate:
    """Weights, gradients, optimizer state and activations at this batch size, from shapes."""
    state = OPTIMIZER_STATE.get(optimizer, 2)
    params = analysis.total_params
    per_sample = 0
    validation_step = 0
    node_bytes: dict[str, int] = {}
    node_shapes: dict[str, str] = {}
    for node_id, info in analysis.nodes.items():
        if info.output_shape is None:
            continue
        out = math.prod(info.output_shape) * FLOAT_BYTES
        inputs = sum(math.prod(s) for s in info.input_shapes) * FLOAT_BYTES
        per_sample += out * TRAIN_ACTIVATION_FACTOR
        validation_step = max(validation_step, out + inputs)
        node_bytes[node_id] = (
            info.params * FLOAT_BYTES * (PARAM_COPIES + state)
            + out * TRAIN_ACTIVATION_FACTOR * batch_size
        )
        node_shapes[node_id] = fmt_shape(info.output_shape)
    return MemoryEstimate(
        batch_size=batch_size,
        weights=params * FLOAT_BYTES,
        parameter_total=params * FLOAT_BYTES * (PARAM_COPIES + state),
        per_sample=per_sample,
        validation=validation_step * min(validation_batch_size(batch_size), max(n_val, 1)),
        validation_per_sample=validation_step,
        n_val=n_val,
        data=data_bytes,
        node_bytes=node_bytes,
        node_shapes=node_shapes,
    )


# ---- free memory ---------------------------------------------------------------------------


def memory_share() -> float:
    """The configured share of free memory a run may use."""
    try:
        share = float(os.environ.get(SHARE_ENV, DEFAULT_SHARE))
    except ValueError:
        return DEFAULT_SHARE
    return share if 0 < share <= 1 else DEFAULT_SHARE


def free_memory(device: str = "cpu") -> int:
    """Bytes free now on the device: CUDA's own count, else the host's available memory
    (capped by a cgroup limit, which is what a container will actually enforce)."""
    if str(device).startswith("cuda"):
        import torch

        free, _ = torch.cuda.mem_get_info(torch.device(device))
        return int(free)
    available = _host_available()
    cgroup = _cgroup_room()
    return min(available, cgroup) if cgroup is not None else available


def _host_available() -> int:
    try:
        import psutil

        return int(psutil.virtual_memory().available)
    except ImportError:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    return 2**40  # unknown: do not refuse on a guess


def _cgroup_room() -> int | None:
    base = Path("/sys/fs/cgroup")
    try:
        limit = (base / "memory.max").read_text().strip()
        if limit == "max":
            return None
        return max(0, int(limit) - int((base / "memory.current").read_text().strip()))
    except (OSError, ValueError):
        return None


# ---- the check -----------------------------------------------------------------------------


def check_training_memory(
    analysis,
    *,
    batch_size: int,
    optimizer: str = "adam",
    device: str = "cpu",
    data_bytes: int = 0,
    n_val: int = 0,
    free: int | None = None,
    share: float | None = None,
) -> MemoryEstimate:
    """The estimate, or a BuilderError naming the dominating node and a batch size that fits."""
    estimate = estimate_training_memory(
        analysis, batch_size=batch_size, optimizer=optimizer, data_bytes=data_bytes, n_val=n_val
    )
    free = free_memory(device) if free is None else free
    budget = int(free * (memory_share() if share is None else share))
    if estimate.total <= budget:
        return estimate
    raise over_budget_error(estimate, budget, device)


def over_budget_error(estimate: MemoryEstimate, budget: int, device: str) -> BuilderError:
    """What to say when a run would not fit: how much, where it goes, what to do."""
    node = estimate.dominant
    fits = estimate.max_batch(budget)
    where = f" on {device}" if device != "cpu" else ""
    message = (
        f"training would need about {_size(estimate.total)} of memory{where}, more than the "
        f"{_size(budget)} it may use; {node} (output {estimate.node_shapes.get(node, '?')}) "
        f"alone needs {_size(estimate.node_bytes.get(node, 0))} at batch size {estimate.batch_size}"
    )
    if estimate.validation > estimate.activations:
        # The trainer validates a few training batches' worth in one no-grad pass.
        message += f"; validation batches alone need {_size(estimate.validation)}"
    if 0 < fits < estimate.batch_size:
        hint = f"Use batch size {fits} or less, or make {node} smaller."
    else:
        hint = f"Make {node} smaller (fewer features, channels or a smaller upsampling)."
    error = BuilderError(message, node=node, hint=hint)
    error.suggested_batch_size = fits if 0 < fits < estimate.batch_size else None
    return error


def check_trainer_memory(arch, dataset, config, device, analysis=None) -> MemoryEstimate | None:
    """The Trainer's start-path check: the graph's estimate against the device's free memory.

    Data already in host memory costs nothing more on CPU; on an accelerator it is copied.
    """
    if arch is None:
        return None
    if analysis is None:
        from .shapes import analyse

        analysis = analyse(arch)
    if not analysis.ok:
        return None  # the trainer's own checks name the graph error
    on_host = str(device) == "cpu"
    data = 0 if on_host else _dataset_bytes(dataset)
    return check_training_memory(
        analysis,
        batch_size=int(config.batch_size),
        optimizer=config.optimizer,
        device=str(device),
        data_bytes=data,
        n_val=int(getattr(dataset, "n_val", 0) or 0),
    )


def _dataset_bytes(dataset) -> int:
    total = 0
    for name in ("x_train", "y_train", "x_val", "y_val"):
        tensor = getattr(dataset, name, None)
        if tensor is not None and hasattr(tensor, "element_size"):
            total += tensor.element_size() * tensor.numel()
    return total


def _size(n: int) -> str:
    if n >= 2**30:
        return f"{n / 2**30:,.1f} GiB"
    return f"{n / 2**20:,.0f} MiB"
