"""Why a trained model answers as it does: Captum attributions and permutation importance."""

from builder.explain.attributions import (
    Attribution,
    image_attributions,
    integrated_gradients,
    saliency,
    token_attributions,
)
from builder.explain.importance import permutation_importance

__all__ = [
    "Attribution",
    "image_attributions",
    "integrated_gradients",
    "permutation_importance",
    "saliency",
    "token_attributions",
]
