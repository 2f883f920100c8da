"""Generated source -> a live nn.Module, exec'd in a fresh namespace (no project import)."""

from __future__ import annotations

import itertools
import linecache

import networkx as nx
import torch
from torch import nn

from .codegen import class_name_for, generate_source
from .errors import BuilderError
from .graph import Architecture
from .shapes import analyse

_counter = itertools.count(1)


def compile_source(source: str, class_name: str) -> type[nn.Module]:
    """Exec the module source and return its class; tracebacks show the generated lines."""
    filename = f"<layercraft:{class_name}:{next(_counter)}>"
    # Registering the source lets tracebacks and debuggers show the generated line.
    linecache.cache[filename] = (len(source), None, source.splitlines(keepends=True), filename)
    namespace: dict = {"__name__": f"layercraft_generated.{class_name}"}
    exec(compile(source, filename, "exec"), namespace)
    return namespace[class_name]


def compile_model(arch: Architecture, source: str | None = None) -> nn.Module:
    """A fresh module for arch, built from exactly the source that generate_source gives.

    Pass `source` when you already hold generate_source(arch): that call has checked the
    graph (errors, memory limit), so it is not analysed again.
    """
    class_name = class_name_for(arch)
    if source is None:
        analysis = analyse(arch)
        if analysis.errors:
            raise analysis.errors[0]
        source = generate_source(arch, class_name, analysis)
    cls = compile_source(source, class_name)
    try:
        model = cls()
    except (RuntimeError, MemoryError) as exc:
        raise BuilderError(
            f"the model could not be built: {exc}", hint="Make the largest layers smaller."
        ) from None
    model.layercraft_source = source
    return model


def example_inputs(
    arch: Architecture, batch_size: int = 2, device: str | torch.device = "cpu"
) -> list[torch.Tensor]:
    """Random inputs of the right shape and dtype for each Input node, in forward order."""
    tensors = []
    for node_id in arch.input_nodes():
        params = arch.params_of(node_id)
        shape = (batch_size, *params["shape"])
        if params["dtype"] == "int64":
            high = _vocab_size(arch, node_id)
            tensors.append(torch.randint(0, high, shape, device=device))
        else:
            tensors.append(torch.randn(shape, device=device))
    return tensors


def _vocab_size(arch: Architecture, input_id: str) -> int:
    # Token ids may pass through reshaping glue before they reach an Embedding.
    sizes = [
        arch.params_of(s)["num_embeddings"]
        for s in nx.descendants(arch.graph, input_id)
        if arch.type_of(s) == "Embedding"
    ]
    return min(sizes) if sizes else 2
