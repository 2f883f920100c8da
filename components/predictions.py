"""Predictions of a model snapshot for the dashboard: confusion matrix, boundary grid, samples.

UI-free. The trainer keeps training while these run, so they work on a copy of the
model in eval mode and never touch the live one.
"""

from __future__ import annotations

import copy

import numpy as np
import torch
from sklearn.metrics import confusion_matrix as sk_confusion_matrix

GRID = 80


def snapshot(model: torch.nn.Module) -> torch.nn.Module:
    """An eval-mode copy on the CPU (the live model keeps training in its thread)."""
    clone = copy.deepcopy(model).to("cpu")
    return clone.eval()


@torch.no_grad()
def class_scores(model: torch.nn.Module, x: torch.Tensor) -> torch.Tensor:
    """Class probabilities, shape (n, classes); a single logit is read as binary."""
    return scores_of(_first_output(model, x))


def scores_of(out: torch.Tensor) -> torch.Tensor:
    """A classifier's outputs as class probabilities (one logit: binary)."""
    out = out.reshape(len(out), -1).float()
    if out.shape[1] == 1:
        p = torch.sigmoid(out)
        return torch.cat([1 - p, p], dim=1)
    return torch.softmax(out, dim=1)


@torch.no_grad()
def regression_fit(model: torch.nn.Module, dataset, limit: int = 500):
    """(input or None, true, predicted) for validation samples, in the data's own units.

    The input comes back only for one-feature data (sine), where the fit can be drawn as a
    curve; otherwise the caller plots predicted against true.
    """
    x = dataset.x_val[:limit]
    predicted = _first_output(model, x).reshape(len(x), -1)[:, 0].float().numpy()
    true = dataset.y_val[:limit].reshape(len(x), -1)[:, 0].float().numpy()
    if dataset.target_mean is not None:  # trained on standardised targets: undo it for display
        predicted = predicted * dataset.target_std + dataset.target_mean
        true = true * dataset.target_std + dataset.target_mean
    feature = None
    if tuple(dataset.input_shape) == (1,):
        feature = x[:, 0].float().numpy()
        if dataset.input_mean is not None:
            mean, std = np.ravel(dataset.input_mean)[0], np.ravel(dataset.input_std)[0]
            feature = feature * std + mean
    return feature, true, predicted


def _first_output(model: torch.nn.Module, x: torch.Tensor) -> torch.Tensor:
    """The model's output on the CPU copy of x; the first one when it has several."""
    out = model(x.to("cpu"))
    return out[0] if isinstance(out, tuple) else out


def confusion_matrix(y_true: np.ndarray, y_pred: np.ndarray, num_classes: int) -> np.ndarray:
    """counts[true, predicted]."""
    return sk_confusion_matrix(
        y_true.astype(int), y_pred.astype(int), labels=list(range(num_classes))
    )


def boundary_grid(model, x: torch.Tensor, size: int = GRID):
    """(xs, ys, probability of the last class over a size×size grid) around 2-D points x."""
    lo = x.min(dim=0).values.numpy() - 0.5
    hi = x.max(dim=0).values.numpy() + 0.5
    xs = np.linspace(lo[0], hi[0], size)
    ys = np.linspace(lo[1], hi[1], size)
    gx, gy = np.meshgrid(xs, ys)
    points = torch.tensor(np.stack([gx.ravel(), gy.ravel()], axis=1), dtype=torch.float32)
    scores = class_scores(model, points)
    z = scores[:, 1].numpy() if scores.shape[1] == 2 else scores.argmax(dim=1).numpy().astype(float)
    return xs, ys, z.reshape(size, size)
