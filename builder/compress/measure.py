"""What the comparison table shows: non-zero parameters, file size, CPU latency, val metric."""

from __future__ import annotations

import torch
from torch import nn
from torch.utils import benchmark

LATENCY_BATCH = 64
EVAL_BATCH = 1024


def nonzero_params(model: nn.Module) -> int:
    """Parameters that are not exactly zero (pruned weights do not count)."""
    return int(sum(int(torch.count_nonzero(p.detach())) for p in model.parameters()))


def cpu_latency_ms(model, x: torch.Tensor, min_run_time: float = 0.3) -> float:
    """Median CPU time of one forward pass over the batch x, in milliseconds."""
    x = x.cpu()
    with torch.no_grad():
        model(x)  # the first call builds caches (packed weights, oneDNN plans)
        timer = benchmark.Timer(stmt="model(x)", globals={"model": model, "x": x})
        measurement = timer.blocked_autorange(min_run_time=min_run_time)
    return measurement.median * 1000.0


def latency_batch(dataset, size: int = LATENCY_BATCH) -> torch.Tensor:
    """The first validation samples: the same batch for every model being compared."""
    return dataset.x_val[:size].cpu()


@torch.no_grad()
def outputs_on(model, x: torch.Tensor) -> torch.Tensor:
    """The model's (first) output over x on the CPU, in eval batches."""
    parts = []
    for start in range(0, len(x), EVAL_BATCH):
        out = model(x[start : start + EVAL_BATCH].cpu())
        parts.append((out[0] if isinstance(out, tuple) else out).float())
    return torch.cat(parts)


def val_metric(model, dataset) -> tuple[str, float]:
    """('val_accuracy', a) for classification, ('val_mse', m) otherwise, on the CPU."""
    model.eval()
    out = outputs_on(model, dataset.x_val)
    y = dataset.y_val.cpu()
    if dataset.task == "classification":
        out = out.reshape(len(out), -1)
        binary = out.shape[1] == 1  # one logit: positive means class 1
        predicted = (out[:, 0] > 0).long() if binary else out.argmax(dim=1)
        return "val_accuracy", float((predicted == y.reshape(-1).long()).float().mean())
    return "val_mse", float(torch.mean((out.reshape(y.shape) - y.float()) ** 2))
