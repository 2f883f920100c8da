"""Permutation feature importance for feature-vector (tabular / CSV) models, via scikit-learn."""

from __future__ import annotations

import copy

import numpy as np
import torch
from sklearn.inspection import permutation_importance as sk_permutation_importance

from builder.errors import BuilderError


class _Scorer:
    """A trained module seen by scikit-learn: accuracy (classification) or -MSE (regression)."""

    def __init__(self, model, task: str):
        self.model = copy.deepcopy(model).cpu().eval().float()
        self.task = task

    def fit(self, x, y):  # scikit-learn checks that an estimator has one; it is never called
        return self

    def __call__(self, _estimator, x, y) -> float:
        with torch.no_grad():
            out = self.model(torch.as_tensor(x, dtype=torch.float32))
        out = (out[0] if isinstance(out, tuple) else out).reshape(len(x), -1)
        if self.task == "classification":
            predicted = (out[:, 0] > 0).long() if out.shape[1] == 1 else out.argmax(dim=1)
            return float((predicted.numpy() == np.asarray(y).reshape(-1)).mean())
        return -float(((out[:, 0].numpy() - np.asarray(y).reshape(-1)) ** 2).mean())


def permutation_importance(
    model, dataset, repeats: int = 5, seed: int = 0, limit: int = 2000
) -> dict[str, np.ndarray]:
    """How much the val score drops when each feature's column is shuffled.

    Returns {'importances_mean', 'importances_std'} (one value per feature) and 'names'.
    """
    if dataset.dtype != "float32" or len(dataset.input_shape) != 1:
        raise BuilderError(
            "permutation importance is for feature vectors (tabular or CSV data)",
            field="explain",
            hint="Images use saliency and integrated gradients; token inputs use token attributions.",
        )
    x = dataset.x_val[:limit].cpu().numpy()
    y = dataset.y_val[:limit].cpu().numpy()
    scorer = _Scorer(model, dataset.task)
    result = sk_permutation_importance(
        scorer, x, y, scoring=scorer, n_repeats=repeats, random_state=seed
    )
    names = list(getattr(dataset, "feature_names", None) or [])
    if len(names) != x.shape[1]:
        names = [f"feature {i}" for i in range(x.shape[1])]
    return {
        "importances_mean": result.importances_mean,
        "importances_std": result.importances_std,
        "names": np.array(names),
    }
