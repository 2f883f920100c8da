"""Image augmentation applied to whole batches on the training device (shifts, flips, noise).

Everything is vectorised over the batch: one random draw per sample, no Python loop per
sample and no host sync, so it costs little next to a training step.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import torch

from builder.errors import BuilderError


@dataclass
class AugmentConfig:
    """Which augmentations to apply to each training batch (all off by default)."""

    shift: int = 0  # random translation by up to this many pixels in each direction
    hflip: bool = False  # mirror left-right with probability 1/2
    noise_std: float = 0.0  # std of gaussian noise added to every value

    @property
    def enabled(self) -> bool:
        return self.shift > 0 or self.hflip or self.noise_std > 0

    def validate(self) -> None:
        """BuilderError naming the field when a value is out of range."""
        if self.shift < 0:
            raise BuilderError(
                "shift cannot be negative", field="shift", hint="Use 0 to turn it off."
            )
        if self.noise_std < 0:
            raise BuilderError(
                "noise_std cannot be negative", field="noise_std", hint="Use 0 to turn it off."
            )

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> AugmentConfig:
        unknown = set(data) - {"shift", "hflip", "noise_std"}
        if unknown:
            raise BuilderError(
                f"unknown augmentation option {sorted(unknown)[0]!r}",
                field="augment",
                hint="Use shift, hflip and noise_std.",
            )
        return cls(
            shift=int(data.get("shift", 0)),
            hflip=bool(data.get("hflip", False)),
            noise_std=float(data.get("noise_std", 0.0)),
        )


def augment_batch(
    x: torch.Tensor, config: AugmentConfig, generator: torch.Generator | None = None
) -> torch.Tensor:
    """A randomly augmented copy of the batch x (batch first; images as (B, C, H, W)).

    Shifts fill the uncovered border with zeros. `generator` (on x's device) makes the
    draws reproducible. The input is never modified in place.
    """
    config.validate()
    if not config.enabled:
        return x
    if not x.is_floating_point():
        raise BuilderError(
            "augmentation needs float inputs, not token ids",
            field="augment",
            hint="Turn augmentation off for text data.",
        )
    if (config.shift or config.hflip) and x.dim() < 3:
        raise BuilderError(
            f"shifts and flips need images (batch, channels, height, width), got {x.dim()} dims",
            field="augment",
            hint="Use noise only for feature vectors.",
        )
    if config.shift:
        x = random_shift(x, config.shift, generator)
    if config.hflip:
        x = random_hflip(x, generator)
    if config.noise_std:
        noise = torch.randn(x.shape, device=x.device, dtype=x.dtype, generator=generator)
        x = x + config.noise_std * noise
    return x


def random_shift(
    x: torch.Tensor, max_shift: int, generator: torch.Generator | None = None
) -> torch.Tensor:
    """Translate each image by its own integer (dy, dx) in [-max_shift, max_shift], zero-filled."""
    *lead, height, width = x.shape
    batch = x.shape[0]
    pad = max_shift
    # Pad once, then pick each sample's window with one gather along rows and one along columns.
    padded = torch.nn.functional.pad(x, (pad, pad, pad, pad))
    dy = torch.randint(-pad, pad + 1, (batch,), device=x.device, generator=generator)
    dx = torch.randint(-pad, pad + 1, (batch,), device=x.device, generator=generator)
    rows = torch.arange(height, device=x.device)[None, :] + pad - dy[:, None]  # (B, H)
    cols = torch.arange(width, device=x.device)[None, :] + pad - dx[:, None]  # (B, W)
    middle = [1] * (len(lead) - 1)
    padded_w = padded.shape[-1]
    row_index = rows.view(batch, *middle, height, 1).expand(*lead, height, padded_w)
    picked_rows = padded.gather(-2, row_index)
    col_index = cols.view(batch, *middle, 1, width).expand(*lead, height, width)
    return picked_rows.gather(-1, col_index)


def random_hflip(x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """Mirror each image left-right with probability 1/2."""
    flip = torch.rand(x.shape[0], device=x.device, generator=generator) < 0.5
    mask = flip.view(-1, *([1] * (x.dim() - 1)))
    return torch.where(mask, x.flip(-1), x)
