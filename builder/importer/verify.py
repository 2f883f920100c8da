"""The import's proof: the compiled graph, given the original's weights, computes the same outputs."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from ..codegen import attribute_names
from ..compile import compile_model, example_inputs
from ..errors import BuilderError
from ..graph import Architecture

TOLERANCE = 1e-5


@dataclass
class Comparison:
    max_diff: float
    params: int  # trainable parameters of the compiled graph
    original_params: int

    @property
    def matched(self) -> bool:
        return self.max_diff <= TOLERANCE


def rename_state_dict(
    arch: Architecture, sources: dict[str, str], original: dict[str, torch.Tensor]
) -> dict[str, torch.Tensor]:
    """The original's state_dict under the generated module's names ("layer1.0.conv1.weight"
    -> "layer1_0_conv1.weight"), for load_state_dict of an imported graph's model."""
    names = attribute_names(arch)
    renamed = {}
    for node_id, source in sources.items():
        attr = names[node_id]
        if source in original:
            renamed[attr] = original[source]
        prefix = source + "."
        for key, value in original.items():
            if key.startswith(prefix):
                renamed[attr + "." + key[len(prefix) :]] = value
    return renamed


def load_original_weights(
    model: nn.Module, arch: Architecture, sources: dict[str, str], original: nn.Module
) -> None:
    """Copy every weight and buffer of the original into the compiled graph's model."""
    renamed = rename_state_dict(arch, sources, original.state_dict())
    try:
        model.load_state_dict(renamed, strict=True)
    except RuntimeError as exc:
        raise BuilderError(
            f"the original's weights do not fit the imported graph: {str(exc)[:400]}",
            hint="This is an importer bug for this model; please report it with the model file.",
        ) from None


def compare(
    arch: Architecture, sources: dict[str, str], original: nn.Module, seed: int = 0
) -> Comparison:
    """Max |difference| of all outputs on random inputs, both models in eval mode."""
    generated = compile_model(arch)
    load_original_weights(generated, arch, sources, original)
    generated.eval()
    original.eval()
    torch.manual_seed(seed)
    inputs = example_inputs(arch, batch_size=3)
    with torch.no_grad():
        # The same random stream for both: a model that samples (a VAE) draws the same noise.
        torch.manual_seed(seed + 1)
        expected = _flatten(original(*inputs))
        torch.manual_seed(seed + 1)
        actual = _flatten(generated(*inputs))
    if len(expected) != len(actual) or any(
        a.shape != e.shape for a, e in zip(actual, expected, strict=True)
    ):
        max_diff = float("inf")
    else:
        max_diff = max(
            (
                (a.float() - e.float()).abs().max().item()
                for a, e in zip(actual, expected, strict=True)
            ),
            default=0.0,
        )
    return Comparison(max_diff, _count(generated), _count(original))


def _flatten(output) -> list[torch.Tensor]:
    if isinstance(output, torch.Tensor):
        return [output]
    if isinstance(output, dict):
        output = list(output.values())
    return (
        [t for item in output for t in _flatten(item)] if isinstance(output, list | tuple) else []
    )


def _count(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters() if p.requires_grad)
