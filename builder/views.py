"""What each model family's live view shows, computed without any UI (numpy out).

Confusion matrix and misclassified examples (classifiers), inputs next to their
reconstructions (autoencoders), attention weights (attention models) and the
hidden-state norm over time (recurrent models). Each function takes the compiled model
(and, where it looks inside, the Architecture and its `attribute_names`) plus a batch, runs
in eval mode without gradients, and leaves the model's mode as it found it.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
import torch
from sklearn.metrics import confusion_matrix as sk_confusion_matrix
from torch import nn

from builder.errors import BuilderError

ATTENTION_TYPES = ("MultiheadAttention", "TransformerEncoderLayer")
RECURRENT_TYPES = ("RNN", "LSTM", "GRU")
PREDICT_BATCH = 1024


# ---- running the model ----------------------------------------------------------------------


@contextmanager
def _evaluating(model: nn.Module) -> Iterator[None]:
    """Eval mode for the block, then back to the mode the model was in."""
    was_training = model.training
    model.eval()
    try:
        yield
    finally:
        model.train(was_training)


def _device_of(model: nn.Module) -> torch.device:
    first = next(model.parameters(), None)
    return first.device if first is not None else torch.device("cpu")


def predict(model: nn.Module, x: torch.Tensor, batch_size: int = PREDICT_BATCH) -> torch.Tensor:
    """The model's outputs for x (on the CPU), in eval mode, in chunks of batch_size."""
    device = _device_of(model)
    outs = []
    with _evaluating(model), torch.no_grad():
        for start in range(0, len(x), batch_size):
            out = model(x[start : start + batch_size].to(device))
            if isinstance(out, tuple):
                raise BuilderError(
                    f"the model returns {len(out)} outputs; this view needs exactly one",
                    hint="Join the branches or remove the extra outputs.",
                )
            outs.append(out.float().cpu())
    return torch.cat(outs)


def predicted_classes(outputs: torch.Tensor) -> torch.Tensor:
    """Class index per row: argmax of logits, or logit > 0 for a single-logit binary head."""
    if outputs.dim() == 1 or outputs.shape[-1] == 1:
        return (outputs.reshape(-1) > 0).long()
    return outputs.argmax(dim=-1)


def _confidence(outputs: torch.Tensor) -> torch.Tensor:
    if outputs.dim() == 1 or outputs.shape[-1] == 1:
        p = torch.sigmoid(outputs.reshape(-1))
        return torch.maximum(p, 1 - p)
    return outputs.softmax(dim=-1).max(dim=-1).values


# ---- classifiers ----------------------------------------------------------------------------


def confusion_matrix(
    model: nn.Module, x: torch.Tensor, y: torch.Tensor, num_classes: int
) -> np.ndarray:
    """(num_classes, num_classes) int counts: row = true class, column = predicted class."""
    predicted = predicted_classes(predict(model, x)).numpy()
    return sk_confusion_matrix(y.cpu().numpy(), predicted, labels=list(range(num_classes)))


def misclassified_examples(
    model: nn.Module, x: torch.Tensor, y: torch.Tensor, limit: int = 16
) -> dict[str, np.ndarray]:
    """The most confidently wrong examples first: inputs, true and predicted class, confidence, index."""
    outputs = predict(model, x)
    predicted = predicted_classes(outputs)
    wrong = torch.nonzero(predicted != y.cpu()).reshape(-1)
    confidence = _confidence(outputs)[wrong]
    order = wrong[confidence.argsort(descending=True)][:limit]
    return {
        "inputs": x[order].cpu().numpy(),
        "true": y.cpu()[order].numpy(),
        "predicted": predicted[order].numpy(),
        "confidence": _confidence(outputs)[order].numpy(),
        "index": order.numpy(),
        "n_wrong": np.int64(len(wrong)),
        "n_total": np.int64(len(x)),
    }


# ---- autoencoders ---------------------------------------------------------------------------


def reconstructions(
    model: nn.Module, x: torch.Tensor, n: int = 8, noise: float = 0.0, seed: int = 0
) -> dict[str, np.ndarray]:
    """The first n inputs, what the model made of them and the per-image error.

    With `noise` (a denoising autoencoder) the model sees the noisy input, which is also
    returned, and the error is measured against the clean one.
    """
    clean = x[:n].float()
    seen = clean
    if noise:
        gen = torch.Generator().manual_seed(seed)
        seen = clean + noise * torch.randn(clean.shape, generator=gen).to(clean.device)
    outputs = predict(model, seen).reshape(clean.shape)
    error = ((outputs - clean.cpu()) ** 2).reshape(len(clean), -1).mean(dim=1)
    return {
        "inputs": clean.cpu().numpy(),
        "noisy": seen.cpu().numpy() if noise else None,
        "outputs": outputs.numpy(),
        "mse": error.numpy(),
    }


def tile_images(images: np.ndarray, ncols: int = 8, pad: int = 1) -> np.ndarray:
    """(n, H, W) or (n, C, H, W) images -> one (rows*(H+pad)-pad, cols*(W+pad)-pad) grid.

    Multi-channel images are averaged to grey; padding is NaN so heat maps leave it blank.
    """
    images = np.asarray(images, dtype=np.float32)
    if images.ndim == 4:
        images = images.mean(axis=1)
    if images.ndim != 3:
        raise BuilderError(
            f"expected images (n, H, W) or (n, C, H, W), got shape {images.shape}",
            hint="Grids are for image data.",
        )
    n, h, w = images.shape
    ncols = max(1, min(ncols, n))
    nrows = -(-n // ncols)
    grid = np.full((nrows * (h + pad) - pad, ncols * (w + pad) - pad), np.nan, dtype=np.float32)
    for i, image in enumerate(images):
        r, c = divmod(i, ncols)
        grid[r * (h + pad) : r * (h + pad) + h, c * (w + pad) : c * (w + pad) + w] = image
    return grid


# ---- looking inside: attention and recurrent layers -----------------------------------------


def _modules_of_types(
    model: nn.Module, arch, names: dict[str, str] | None, types: tuple[str, ...]
) -> dict[str, nn.Module]:
    """{node_id: submodule} for the graph's nodes of the given types, in topological order."""
    if names is None:
        from builder.codegen import attribute_names

        names = attribute_names(arch)
    found = {}
    for node_id in arch.topological_order():
        if arch.type_of(node_id) in types:
            module = getattr(model, names[node_id], None)
            if isinstance(module, nn.Module):
                found[node_id] = module
    return found


def _one_example(x: torch.Tensor, index: int, device: torch.device) -> torch.Tensor:
    if not 0 <= index < len(x):
        raise BuilderError(
            f"example {index} is out of range; there are {len(x)}",
            field="example",
            hint=f"Pick a number from 0 to {len(x) - 1}.",
        )
    return x[index : index + 1].to(device)


def attention_weights(
    model: nn.Module,
    arch,
    x: torch.Tensor,
    index: int = 0,
    names: dict[str, str] | None = None,
) -> dict[str, np.ndarray]:
    """{node_id: (heads, query, key) weights} of every attention node for one example.

    The generated code calls attention with need_weights=False (faster); a pre-hook asks for
    per-head weights for this one forward only. Hooks also turn off the fused encoder path,
    which would skip self_attn entirely.
    """
    modules = _modules_of_types(model, arch, names, ATTENTION_TYPES)
    if not modules:
        raise BuilderError(
            "this model has no attention layer",
            hint="Attention maps need a MultiheadAttention or TransformerEncoderLayer node.",
        )
    captured: dict[str, torch.Tensor] = {}
    handles = []
    for node_id, module in modules.items():
        attn = module.self_attn if isinstance(module, nn.TransformerEncoderLayer) else module
        handles.append(attn.register_forward_pre_hook(_ask_for_weights, with_kwargs=True))
        handles.append(attn.register_forward_hook(_keeper(captured, node_id)))
    try:
        with _evaluating(model), torch.no_grad():
            model(_one_example(x, index, _device_of(model)))
    finally:
        for handle in handles:
            handle.remove()
    return {node_id: w[0].float().cpu().numpy() for node_id, w in captured.items()}


def _ask_for_weights(module, args, kwargs):
    kwargs = dict(kwargs)
    # The weights are needed positionally too: MHA(query, key, value, key_padding_mask, need_weights).
    if len(args) > 4:
        args = args[:4]
    kwargs["need_weights"] = True
    kwargs["average_attn_weights"] = False
    return args, kwargs


def _keeper(captured: dict[str, torch.Tensor], node_id: str):
    def keep(module, args, output):
        captured[node_id] = output[1].detach()

    return keep


def hidden_state_norms(
    model: nn.Module,
    arch,
    x: torch.Tensor,
    index: int = 0,
    names: dict[str, str] | None = None,
) -> dict[str, np.ndarray]:
    """{node_id: (steps,) L2 norm of the top layer's output at each time step} for example x[index].

    A forward hook keeps the recurrent module's full output sequence, even when the graph
    only passes the last step on.
    """
    modules = _modules_of_types(model, arch, names, RECURRENT_TYPES)
    if not modules:
        raise BuilderError(
            "this model has no recurrent layer",
            hint="Hidden-state norms need an RNN, LSTM or GRU node.",
        )
    captured: dict[str, torch.Tensor] = {}

    def keeper(node_id):
        def keep(module, args, output):
            captured[node_id] = output[0].detach()

        return keep

    handles = [m.register_forward_hook(keeper(node_id)) for node_id, m in modules.items()]
    try:
        with _evaluating(model), torch.no_grad():
            model(_one_example(x, index, _device_of(model)))
    finally:
        for handle in handles:
            handle.remove()
    return {node_id: out[0].float().norm(dim=-1).cpu().numpy() for node_id, out in captured.items()}


def family_of(arch) -> dict[str, Any]:
    """Which live views fit this graph: {'attention': bool, 'recurrent': bool, 'images': bool}."""
    types = {arch.type_of(n) for n in arch.node_ids}
    inputs = arch.input_nodes()
    shape = list(arch.params_of(inputs[0])["shape"]) if inputs else []
    return {
        "attention": bool(types & set(ATTENTION_TYPES)),
        "recurrent": bool(types & set(RECURRENT_TYPES)),
        "images": len(shape) in (2, 3) and arch.params_of(inputs[0])["dtype"] == "float32",
    }
