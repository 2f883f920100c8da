"""Batch image augmentation: shifts, flips and noise, vectorised on the device."""

import pytest
import torch

from builder.augment import AugmentConfig, augment_batch, random_hflip, random_shift
from builder.errors import BuilderError


def _shifted(image: torch.Tensor, dy: int, dx: int) -> torch.Tensor:
    """Reference: image moved down by dy and right by dx, border filled with zeros."""
    out = torch.zeros_like(image)
    h, w = image.shape[-2:]
    src_rows = slice(max(0, -dy), min(h, h - dy))
    dst_rows = slice(max(0, dy), min(h, h + dy))
    src_cols = slice(max(0, -dx), min(w, w - dx))
    dst_cols = slice(max(0, dx), min(w, w + dx))
    out[..., dst_rows, dst_cols] = image[..., src_rows, src_cols]
    return out


def test_shift_gives_each_image_a_zero_filled_translation_within_range():
    gen = torch.Generator().manual_seed(0)
    x = torch.rand(64, 2, 8, 8)
    out = random_shift(x, 2, gen)
    seen = set()
    for image, moved in zip(x, out, strict=True):
        matches = [
            (dy, dx)
            for dy in range(-2, 3)
            for dx in range(-2, 3)
            if torch.equal(_shifted(image, dy, dx), moved)
        ]
        assert matches, "output is not a translation of its input"
        seen.add(matches[0])
    # 64 draws over 25 shifts: many different shifts, not one for the whole batch.
    assert len(seen) > 10


def test_flip_mirrors_about_half_the_images_and_keeps_the_rest():
    gen = torch.Generator().manual_seed(1)
    x = torch.rand(200, 1, 5, 7)
    out = random_hflip(x, gen)
    flipped = [torch.equal(o, i.flip(-1)) for i, o in zip(x, out, strict=True)]
    kept = [torch.equal(o, i) for i, o in zip(x, out, strict=True)]
    assert all(f or k for f, k in zip(flipped, kept, strict=True))
    assert 60 < sum(flipped) < 140


def test_noise_adds_gaussian_noise_of_the_requested_std():
    x = torch.zeros(256, 1, 8, 8)
    out = augment_batch(x, AugmentConfig(noise_std=0.3), torch.Generator().manual_seed(2))
    assert out.std().item() == pytest.approx(0.3, rel=0.05)
    assert out.mean().item() == pytest.approx(0.0, abs=0.01)


def test_disabled_config_returns_the_batch_unchanged():
    x = torch.rand(4, 1, 8, 8)
    assert augment_batch(x, AugmentConfig()) is x


def test_augment_never_modifies_its_input_in_place():
    x = torch.rand(16, 1, 8, 8)
    before = x.clone()
    augment_batch(x, AugmentConfig(shift=1, hflip=True, noise_std=0.1))
    assert torch.equal(x, before)


def test_same_generator_seed_gives_the_same_augmentation():
    x = torch.rand(16, 3, 8, 8)
    config = AugmentConfig(shift=2, hflip=True, noise_std=0.1)
    a = augment_batch(x, config, torch.Generator().manual_seed(7))
    b = augment_batch(x, config, torch.Generator().manual_seed(7))
    c = augment_batch(x, config, torch.Generator().manual_seed(8))
    assert torch.equal(a, b)
    assert not torch.equal(a, c)


def test_augment_rejects_token_ids():
    with pytest.raises(BuilderError, match="token ids"):
        augment_batch(torch.ones(4, 32, dtype=torch.int64), AugmentConfig(noise_std=0.1))


def test_shift_rejects_flat_feature_vectors_but_noise_accepts_them():
    with pytest.raises(BuilderError, match="need images"):
        augment_batch(torch.rand(4, 10), AugmentConfig(shift=1))
    assert augment_batch(torch.rand(4, 10), AugmentConfig(noise_std=0.1)).shape == (4, 10)


def test_negative_shift_is_an_error_naming_the_field():
    with pytest.raises(BuilderError) as err:
        augment_batch(torch.rand(4, 1, 8, 8), AugmentConfig(shift=-1))
    assert err.value.field == "shift"


def test_config_round_trips_through_a_dict_and_rejects_unknown_keys():
    config = AugmentConfig(shift=2, hflip=True, noise_std=0.05)
    assert AugmentConfig.from_dict(config.to_dict()) == config
    with pytest.raises(BuilderError, match="unknown augmentation option"):
        AugmentConfig.from_dict({"rotate": 10})
