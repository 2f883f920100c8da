"""Running the model once under torch.export, with example inputs of the given shapes."""

from __future__ import annotations

import warnings

import torch
from torch import nn
from torch.export import ExportedProgram

from ..errors import BuilderError

CAPTURE_BATCH = 2


def example_inputs(shapes: list[tuple[int, ...]], dtypes: list[str], batch: int = CAPTURE_BATCH):
    """Random tensors (batch first); int64 inputs hold token ids 0 and 1 (any vocabulary)."""
    tensors = []
    for shape, dtype in zip(shapes, dtypes, strict=True):
        if dtype == "int64":
            tensors.append(torch.randint(0, 2, (batch, *shape)))
        else:
            tensors.append(torch.randn(batch, *shape))
    return tuple(tensors)


def capture(model: nn.Module, inputs: tuple[torch.Tensor, ...], what: str) -> ExportedProgram:
    """torch.export in eval mode: Python control flow on shapes or flags is specialised away."""
    model.eval()
    try:
        with torch.no_grad(), warnings.catch_warnings():
            # nn.RNN's cached _flat_weights trip a warning about attributes set during export.
            warnings.filterwarnings("ignore", message=".*were assigned during export.*")
            return torch.export.export(model, inputs, strict=False)
    except Exception as exc:  # the user's forward, or export's own limits
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise BuilderError(
            f"running {what}.forward on inputs {[list(t.shape) for t in inputs]} failed: "
            f"{type(exc).__name__}: {first[:300]}",
            field="input-shape",
            hint="Check --input-shape (one per forward argument, without the batch) and --dtype.",
        ) from None
