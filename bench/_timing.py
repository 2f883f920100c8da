"""The timing both loop benchmarks share: warm up, then interleaved runs on fresh model copies."""

from __future__ import annotations

import copy
import statistics
import time
from collections.abc import Callable

import torch


def synchronise(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def interleaved_medians(
    loops: dict[str, Callable[..., float]], initial: tuple, repeats: int, device: str
) -> tuple[dict[str, float], dict[str, float]]:
    """Median seconds per loop and each loop's last quality figure.

    Every run gets its own deep copy of `initial` (the models), so all loops start from
    the same weights; the order alternates each round so neither always runs cold.
    """
    for loop in loops.values():  # warm-up: allocator, kernels, lazy init
        loop(*copy.deepcopy(initial))
    times: dict[str, list[float]] = {k: [] for k in loops}
    quality: dict[str, float] = {}
    for round_ in range(repeats):
        order = list(loops.items())[:: 1 if round_ % 2 == 0 else -1]
        for kind, loop in order:
            models = copy.deepcopy(initial)
            synchronise(device)
            start = time.perf_counter()
            quality[kind] = loop(*models)
            synchronise(device)
            times[kind].append(time.perf_counter() - start)
    return {k: statistics.median(v) for k, v in times.items()}, quality
