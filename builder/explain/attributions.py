"""Captum attributions: saliency and integrated gradients over inputs, and over tokens.

Models are explained on a CPU copy in eval mode; the target is the class the model
predicts unless one is given. A model with several outputs is explained on its first.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from builder.errors import BuilderError

IG_STEPS = 128  # enough for completeness within 1% on the digits LeNet (64 gave 2%)


@dataclass
class Attribution:
    """Per-input-element attributions for a batch, with what they explain."""

    values: np.ndarray  # same shape as the inputs (tokens: (batch, seq_len))
    targets: list[int]  # the class explained for each sample
    delta: np.ndarray | None = None  # IG completeness error per sample, where computed


class _FirstOutput(nn.Module):
    """The model's first output, flattened to (batch, classes), as Captum expects."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def forward(self, *inputs):
        out = self.model(*inputs)
        out = out[0] if isinstance(out, tuple) else out
        return out.reshape(out.shape[0], -1)


def _explainable(model: nn.Module) -> nn.Module:
    return _FirstOutput(copy.deepcopy(model).cpu().eval().float())


def _targets(wrapped: nn.Module, x: torch.Tensor, target) -> list[int]:
    if target is not None:
        return [int(target)] * len(x) if np.isscalar(target) else [int(t) for t in target]
    with torch.no_grad():
        return wrapped(x).argmax(dim=1).tolist()


def _check_float_input(x: torch.Tensor) -> None:
    if x.is_floating_point():
        return
    raise BuilderError(
        "gradient attributions need float inputs; these are token ids",
        field="explain",
        hint="Use token attributions for token inputs.",
    )


def saliency(model: nn.Module, x: torch.Tensor, target=None) -> Attribution:
    """|d output[target] / d input| per input element (Simonyan et al., 2013)."""
    from captum.attr import Saliency

    _check_float_input(x)
    wrapped = _explainable(model)
    x = x.detach().cpu().float().requires_grad_()
    targets = _targets(wrapped, x, target)
    values = Saliency(wrapped).attribute(x, target=targets, abs=True)
    return Attribution(values.detach().numpy(), targets)


def integrated_gradients(
    model: nn.Module, x: torch.Tensor, target=None, baseline=None, steps: int = IG_STEPS
) -> Attribution:
    """Integrated gradients from a baseline (zeros: the training mean after standardising).

    Attributions sum to output(x) - output(baseline) for the target, up to `delta`.
    """
    from captum.attr import IntegratedGradients

    _check_float_input(x)
    wrapped = _explainable(model)
    x = x.detach().cpu().float()
    targets = _targets(wrapped, x, target)
    baseline = torch.zeros_like(x) if baseline is None else baseline
    values, delta = IntegratedGradients(wrapped).attribute(
        x, baselines=baseline, target=targets, n_steps=steps, return_convergence_delta=True
    )
    return Attribution(values.detach().numpy(), targets, delta.detach().numpy())


def image_attributions(model, x: torch.Tensor, target=None) -> dict[str, Attribution]:
    """Both image explanations for a batch: {'saliency': ..., 'integrated gradients': ...}."""
    return {
        "saliency": saliency(model, x, target),
        "integrated gradients": integrated_gradients(model, x, target),
    }


def token_attributions(
    model: nn.Module, arch, x: torch.Tensor, target=None, steps: int = IG_STEPS
) -> Attribution:
    """Integrated gradients through the Embedding layer, summed over the embedding: one
    number per token. The baseline is the padding token (id 0) everywhere."""
    from captum.attr import LayerIntegratedGradients

    from builder.codegen import attribute_names
    from builder.sharing import owner_of

    embeddings = [n for n in arch.topological_order() if arch.type_of(n) == "Embedding"]
    if not embeddings:
        raise BuilderError(
            "token attributions need an Embedding layer",
            field="explain",
            hint="This model reads no token ids.",
        )
    wrapped = _explainable(model)
    layer = getattr(wrapped.model, attribute_names(arch)[owner_of(arch, embeddings[0])])
    x = x.detach().cpu().long()
    targets = _targets(wrapped, x, target)
    values, delta = LayerIntegratedGradients(wrapped, layer).attribute(
        x, baselines=torch.zeros_like(x), target=targets, n_steps=steps,
        return_convergence_delta=True,
    )  # fmt: skip
    return Attribution(values.sum(dim=-1).detach().numpy(), targets, delta.detach().numpy())
