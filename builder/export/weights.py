"""Trained weights as .safetensors: written from a module, loaded back with a clear error
naming the first tensor that does not fit."""

from __future__ import annotations

import json
from pathlib import Path

from builder.errors import BuilderError

from .consistency import structure_digest


def weights_bytes(model, arch=None) -> bytes:
    """The module's state_dict as .safetensors bytes (CPU, contiguous), named after the graph."""
    from safetensors.torch import save

    tensors = {name: t.detach().cpu().contiguous() for name, t in model.state_dict().items()}
    metadata = {"format": "pt", "producer": "LayerCraft"}
    if arch is not None:
        metadata["graph"] = str(arch.name)[:200]
        metadata["structure"] = structure_digest(arch)
    return save(tensors, metadata=metadata)


def load_weights(model, source: str | Path | bytes, *, file_name: str | None = None, arch=None):
    """Load .safetensors weights into model; a BuilderError names the first tensor that does not fit.

    With `arch`, weights written for another version of the graph are refused even where
    every shape fits (an added activation, a changed stride): new code never gets old weights.
    """
    from safetensors import SafetensorError
    from safetensors.torch import load, load_file

    name = file_name or (str(source) if not isinstance(source, bytes) else "weights.safetensors")
    try:
        tensors = load(source) if isinstance(source, bytes) else load_file(str(source))
        metadata = _metadata(source)
    except (SafetensorError, OSError, ValueError) as err:
        raise BuilderError(
            f"not a readable .safetensors file ({err})",
            file=name,
            hint="Upload the weights.safetensors exported for this graph.",
        ) from None
    written_for = metadata.get("structure")
    if arch is not None and written_for and written_for != structure_digest(arch):
        raise BuilderError(
            "these weights were trained on a different version of this graph (a layer's "
            "type, params or wiring changed since), so they do not belong to this model.py",
            file=name,
            hint="Export with the graph.json saved beside these weights, or train again.",
        )
    expected = model.state_dict()
    _check_tensor_names(expected, tensors, name)
    for key in expected:  # the model's order, so the first layer that differs is named
        tensor = tensors[key]
        if tuple(tensor.shape) != tuple(expected[key].shape):
            raise BuilderError(
                f"tensor {key} has shape {_shape(tensor)} but the model needs {_shape(expected[key])}",
                file=name,
                hint="These weights were trained on a different graph; re-open its graph.json or train again.",
            )
    model.load_state_dict(tensors, strict=True)
    return model


def _metadata(source: str | Path | bytes) -> dict:
    """The file's __metadata__ strings (safetensors keeps them in its JSON header)."""
    if isinstance(source, bytes):
        size = int.from_bytes(source[:8], "little")
        header = json.loads(source[8 : 8 + size])
        meta = header.get("__metadata__") if isinstance(header, dict) else None
        return meta if isinstance(meta, dict) else {}
    from safetensors import safe_open

    with safe_open(str(source), framework="pt") as handle:
        return handle.metadata() or {}


def _check_tensor_names(expected: dict, tensors: dict, name: str) -> None:
    missing = [k for k in expected if k not in tensors]
    unexpected = [k for k in tensors if k not in expected]
    if missing:
        raise BuilderError(
            f"tensor {missing[0]} is missing"
            + (f" ({len(missing) - 1} more missing)" if len(missing) > 1 else ""),
            file=name,
            hint="These weights belong to a different graph; re-open the graph.json exported with them.",
        )
    if unexpected:
        raise BuilderError(
            f"tensor {unexpected[0]} is not in this model"
            + (f" ({len(unexpected) - 1} more unknown)" if len(unexpected) > 1 else ""),
            file=name,
            hint="These weights belong to a different graph; re-open the graph.json exported with them.",
        )


def _shape(tensor) -> str:
    return "(" + ", ".join(str(d) for d in tensor.shape) + ")"
