"""Pruning: global magnitude pruning (torch.nn.utils.prune) and structured channel pruning.

Channel pruning uses torch-pruning, which traces the module to find every layer that
reads a pruned channel (batch norm, the next conv, the Linear after a Flatten, both sides
of an Add or Concat). The smaller widths are then written back into the graph and the
pruned weights are loaded into a fresh module built from it, so the graph on the canvas,
model.py and the weights always agree.
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn.utils import prune

from builder.errors import BuilderError
from builder.graph import Architecture

# Node types whose output width channel pruning may change, and the param holding it.
WIDTH_PARAM = {"Conv1d": "out_channels", "Conv2d": "out_channels", "Linear": "out_features"}


def check_amount(amount: float, name: str = "sparsity") -> float:
    """A fraction strictly between 0 and 1, or a BuilderError naming the field."""
    try:
        value = float(amount)
    except (TypeError, ValueError):
        value = math.nan
    if not 0.0 < value < 1.0:
        raise BuilderError(
            f"{name} must be between 0 and 1 (exclusive), not {amount}",
            field=name,
            hint="0.5 removes half; 0.9 keeps a tenth.",
        )
    return value


def prunable_weights(model: nn.Module) -> list[tuple[nn.Module, str]]:
    """(module, parameter name) for every weight matrix or kernel (dim > 1; not biases or norms)."""
    targets = []
    for module in model.modules():
        for name, param in module.named_parameters(recurse=False):
            if param.dim() > 1:
                targets.append((module, name))
    return targets


def prune_global(model: nn.Module, sparsity: float) -> list[tuple[nn.Module, str]]:
    """Zero the smallest |w| across all weights until `sparsity` of them are zero.

    The masks stay attached (so fine-tuning keeps pruned weights at zero) until
    `make_permanent` folds them in. Returns the pruned (module, name) pairs.
    """
    sparsity = check_amount(sparsity)
    targets = prunable_weights(model)
    if not targets:
        raise BuilderError("the model has no weights to prune", field="prune")
    prune.global_unstructured(targets, pruning_method=prune.L1Unstructured, amount=sparsity)
    return targets


def make_permanent(targets: list[tuple[nn.Module, str]]) -> None:
    """Fold each pruning mask into its weight so the state_dict has plain tensors again."""
    for module, name in targets:
        if prune.is_pruned(module):
            prune.remove(module, name)


def weight_sparsity(model: nn.Module) -> float:
    """The fraction of weight-matrix entries that are exactly zero."""
    total = zeros = 0
    for module, name in prunable_weights(model):
        weight = getattr(module, name)
        total += weight.numel()
        zeros += int((weight == 0).sum())
    return zeros / max(total, 1)


# Weighted layer types whose sizes channel pruning does not resize.
UNRESIZABLE = {
    "ConvTranspose2d",
    "Embedding",
    "GRU",
    "LSTM",
    "RNN",
    "LayerNorm",
    "MultiheadAttention",
    "PositionalEmbedding",
    "TransformerEncoderLayer",
}


def check_channel_prunable(arch: Architecture) -> None:
    """Refuse graphs with weighted layers that channel pruning cannot resize, naming the node."""
    for node_id in arch.topological_order():
        kind = arch.type_of(node_id)
        if kind in UNRESIZABLE:
            raise BuilderError(
                f"structured pruning cannot resize {kind} layers",
                node=node_id,
                hint="It handles Conv1d, Conv2d, Linear and BatchNorm; use global pruning (without --structured).",
            )
        owner = arch.params_of(node_id).get("shares")
        if owner:
            raise BuilderError(
                f"structured pruning cannot resize a layer used at two places ({owner} and here)",
                node=node_id,
                hint="Use global pruning (without --structured), which keeps every size.",
            )


def prune_channels(
    arch: Architecture, model: nn.Module, ratio: float, example: tuple[torch.Tensor, ...]
) -> tuple[Architecture, nn.Module]:
    """Remove `ratio` of the channels / units of every hidden Conv and Linear layer.

    Returns the graph with the new widths and a fresh module built from it holding the
    surviving weights. Output layers keep their width (they are the classes).
    """
    import torch_pruning as tp

    from builder.codegen import attribute_names
    from builder.compile import compile_model

    ratio = check_amount(ratio, "prune")
    check_channel_prunable(arch)
    names = attribute_names(arch)
    keep = [getattr(model, names[n]) for n in _output_layers(arch) if hasattr(model, names[n])]
    model.eval()
    pruner = tp.pruner.MagnitudePruner(
        model,
        example,
        importance=tp.importance.MagnitudeImportance(p=2),
        pruning_ratio=ratio,
        ignored_layers=keep,
    )
    pruner.step()
    smaller = arch.copy()
    for node_id, attr in names.items():
        param = WIDTH_PARAM.get(arch.type_of(node_id))
        module = getattr(model, attr, None)
        if param and module is not None:
            smaller.update_params(node_id, **{param: int(getattr(module, param))})
    rebuilt = compile_model(smaller)
    try:
        rebuilt.load_state_dict(model.state_dict(), strict=True)
    except RuntimeError as err:
        raise BuilderError(
            f"the pruned weights do not fit the resized graph ({str(err).splitlines()[0]})",
            field="prune",
            hint="Use global pruning (without --structured) for this graph.",
        ) from None
    return smaller, rebuilt.eval()


def _output_layers(arch: Architecture) -> list[str]:
    """The Conv/Linear nodes whose width is an output's width (found walking back from outputs)."""
    found, stack, seen = [], list(arch.output_nodes()), set()
    while stack:
        node_id = stack.pop()
        if node_id in seen:
            continue
        seen.add(node_id)
        if arch.type_of(node_id) in WIDTH_PARAM:
            found.append(node_id)
        else:
            stack.extend(arch.inputs_of(node_id))
    return found
