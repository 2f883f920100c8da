"""Core latency: validate (strict JSON load) + infer shapes + generate source + compile, 200 nodes.

Prints the median of N runs for each step and for the whole pipeline, which is what the
app pays on every edit. Target: under 50 ms in all on a 2-core machine.
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from builder.codegen import generate_source
from builder.compile import compile_model
from builder.graph import Architecture
from builder.shapes import analyse

RUNS = 30
BLOCK = ["Conv2d", "BatchNorm2d", "ReLU", "Conv2d", "BatchNorm2d"]  # + Add + ReLU = 7 nodes


def residual_graph(n_nodes: int = 200) -> dict:
    """Graph JSON for a ResNet-style stack of residual blocks with n_nodes nodes in all."""
    arch = Architecture("bench resnet")
    x = arch.add_node("Input", {"shape": [3, 16, 16]}, id="x")
    prev = arch.add_node("Conv2d", {"out_channels": 8, "kernel_size": 3, "padding": 1})
    arch.connect(x, prev)
    while len(arch) + len(BLOCK) + 2 + 3 <= n_nodes:
        skip, node = prev, prev
        for type_name in BLOCK:
            params = (
                {"out_channels": 8, "kernel_size": 3, "padding": 1} if type_name == "Conv2d" else {}
            )
            node = _append(arch, node, type_name, params)
        add = _append(arch, node, "Add", {})
        arch.connect(skip, add)
        prev = _append(arch, add, "ReLU", {})
    for type_name, params in [
        ("AdaptiveAvgPool2d", {}),
        ("Flatten", {}),
        ("Linear", {"out_features": 10}),
    ]:
        prev = _append(arch, prev, type_name, params)
    while len(arch) < n_nodes:
        prev = _append(arch, prev, "Identity", {})
    return arch.to_json()


def _append(arch: Architecture, prev: str, type_name: str, params: dict) -> str:
    node = arch.add_node(type_name, params)
    arch.connect(prev, node)
    return node


def median_ms(fn, runs: int = RUNS, clock=time.perf_counter) -> float:
    """Median time of fn over runs calls, in milliseconds, on the given clock."""
    times = []
    for _ in range(runs):
        start = clock()
        fn()
        times.append((clock() - start) * 1000)
    return statistics.median(times)


def wall_and_cpu(fn) -> tuple[float, float]:
    """Median wall time and median CPU time of this process (the latter ignores other load)."""
    return median_ms(fn), median_ms(fn, clock=time.process_time)


def main() -> None:
    """Time each step and the whole pipeline; print the table."""
    text = json.dumps(residual_graph(200))
    arch = Architecture.from_json(text)
    analysis = analyse(arch)
    assert len(arch) == 200 and analysis.ok, analysis.errors
    source = generate_source(arch, analysis=analysis)
    compile_model(arch)  # warm up torch's lazy imports once

    steps = {
        "validate (load JSON v1)": lambda: Architecture.from_json(text),
        "infer shapes + counts": lambda: analyse(arch),
        "generate source": lambda: generate_source(arch, analysis=analysis),
        "compile (exec + build)": lambda: compile_model(arch, source),
    }

    def pipeline():
        loaded = Architecture.from_json(text)
        result = analyse(loaded)
        compile_model(loaded, generate_source(loaded, analysis=result))

    # The floor: building the same nn.Module from an already-defined class, as hand-written
    # PyTorch code would; the rest of the pipeline is LayerCraft's own overhead.
    model_class = type(compile_model(arch, source))
    steps["of which nn.Module init"] = model_class
    steps["whole pipeline"] = pipeline

    print(f"200-node graph: {analysis.total_params:,} params, {len(source.splitlines())} lines")
    print(f"  {'step':<26} {'wall ms':>8} {'cpu ms':>8}   (medians of {RUNS} runs)")
    results = {}
    for name, fn in steps.items():
        results[name] = wall_and_cpu(fn)
        print(f"  {name:<26} {results[name][0]:8.2f} {results[name][1]:8.2f}")
    wall, cpu = results["whole pipeline"]
    floor = results["of which nn.Module init"][0]
    verdict = "under" if wall < 50 else "OVER"
    print(f"whole pipeline: {wall:.1f} ms wall ({verdict} the 50 ms target), {cpu:.1f} ms CPU")
    print(f"LayerCraft's own share beyond nn.Module init: {wall - floor:.1f} ms wall")
    # CPU time is per process: on a busy machine it shows what wall time would be when idle.


if __name__ == "__main__":
    main()
