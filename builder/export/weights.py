"""Trained weights as .safetensors: written from a module, loaded back with a clear error
naming the first tensor that does not fit."""

from __future__ import annotations

from pathlib import Path

from builder.errors import BuilderError


def weights_bytes(model, arch=None) -> bytes:
    """The module's state_dict as .safetensors bytes (CPU, contiguous), named after the graph."""
    from safetensors.torch import save

    tensors = {name: t.detach().cpu().contiguous() for name, t in model.state_dict().items()}
    metadata = {"format": "pt", "producer": "LayerCraft"}
    if arch is not None:
        metadata["graph"] = str(arch.name)[:200]
    return save(tensors, metadata=metadata)


def load_weights(model, source: str | Path | bytes, *, file_name: str | None = None):
    """Load .safetensors weights into model; a BuilderError names the first tensor that does not fit."""
    from safetensors import SafetensorError
    from safetensors.torch import load, load_file

    name = file_name or (str(source) if not isinstance(source, bytes) else "weights.safetensors")
    try:
        tensors = load(source) if isinstance(source, bytes) else load_file(str(source))
    except (SafetensorError, OSError, ValueError) as err:
        raise BuilderError(
            f"not a readable .safetensors file ({err})",
            file=name,
            hint="Upload the weights.safetensors exported for this graph.",
        ) from None
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
