"""Standalone copies of the embedded dataset generators in builder/data, for train.py.

builder.export copies the one a bundle needs into its train.py as `make_dataset`, so the
bundle regenerates exactly the data the app trained on without importing builder.
Each maker takes the seeded numpy Generator first and returns (x, y) numpy arrays.
tests/unit/test_export_data.py checks every maker against builder.data.load_dataset.
"""

import numpy as np


def make_digits(rng, n_samples=None, noise=None, classes=None):
    """scikit-learn's 8×8 handwritten digits as 1×8×8 images scaled to [0, 1]."""
    from sklearn.datasets import load_digits

    bunch = load_digits()
    x = (bunch.images / 16.0).astype(np.float32)[:, None, :, :]
    y = bunch.target.astype(np.int64)
    if n_samples is not None:
        keep = rng.permutation(len(x))[:n_samples]
        x, y = x[keep], y[keep]
    if classes is not None:  # only these digits, labels kept
        mask = np.isin(y, np.asarray(classes))
        x, y = x[mask], y[mask]
    if noise:
        x = x + rng.normal(0, noise, x.shape).astype(np.float32)
    return x, y


def make_digits32(rng, n_samples=None, noise=None, classes=None):
    """The 8×8 digits scaled ×3 and padded to 1×32×32 (LeNet-5's input size)."""
    from sklearn.datasets import load_digits

    bunch = load_digits()
    x = (bunch.images / 16.0).astype(np.float32)[:, None, :, :]
    y = bunch.target.astype(np.int64)
    if n_samples is not None:
        keep = rng.permutation(len(x))[:n_samples]
        x, y = x[keep], y[keep]
    if classes is not None:  # only these digits, labels kept
        mask = np.isin(y, np.asarray(classes))
        x, y = x[mask], y[mask]
    if noise:
        x = x + rng.normal(0, noise, x.shape).astype(np.float32)
    big = x.repeat(3, axis=2).repeat(3, axis=3)  # each pixel 3×3, then a 4-pixel border
    return np.pad(big, ((0, 0), (0, 0), (4, 4), (4, 4))), y


def make_moons(rng, n_samples=1000, noise=0.1):
    """Two interleaving half circles (scikit-learn's make_moons)."""
    from sklearn.datasets import make_moons

    seed = int(rng.integers(2**31 - 1))
    x, y = make_moons(n_samples, noise=noise, random_state=seed)
    return x.astype(np.float32), y


def make_circles(rng, n_samples=1000, noise=0.05):
    """A ring around a disc (scikit-learn's make_circles)."""
    from sklearn.datasets import make_circles

    seed = int(rng.integers(2**31 - 1))
    x, y = make_circles(n_samples, noise=noise, factor=0.5, random_state=seed)
    return x.astype(np.float32), y


def make_spiral(rng, n_samples=1000, noise=0.1, turns=1.75):
    """Two interleaved spirals, the hard TensorFlow Playground set."""
    label = np.arange(n_samples) % 2
    t = rng.uniform(0.0, 1.0, n_samples)
    angle = t * turns * 2 * np.pi + label * np.pi
    radius = t * 5
    x = np.stack([radius * np.sin(angle), radius * np.cos(angle)], axis=1)
    x += rng.normal(0, noise, x.shape)
    return x.astype(np.float32), label


def make_xor(rng, n_samples=1000, noise=0.1):
    """Four quadrants; opposite corners share a class."""
    x = rng.uniform(-5, 5, (n_samples, 2))
    # Keep points off the axes so the classes are separable before noise.
    x += np.sign(x) * 0.3
    y = ((x[:, 0] > 0) ^ (x[:, 1] > 0)).astype(np.int64)
    x += rng.normal(0, noise, x.shape)
    return x.astype(np.float32), y


def make_blobs(rng, n_samples=1000, noise=0.0, centers=3):
    """Gaussian clusters (scikit-learn's make_blobs); noise widens them."""
    from sklearn.datasets import make_blobs

    seed = int(rng.integers(2**31 - 1))
    x, y = make_blobs(
        n_samples, centers=int(centers), cluster_std=1.0 + 4 * noise, random_state=seed
    )
    return x.astype(np.float32), y


def make_sine(rng, n_samples=1000, noise=0.1):
    """A noisy sine wave: y = sin(x) + noise."""
    x = rng.uniform(-2 * np.pi, 2 * np.pi, (n_samples, 1))
    y = np.sin(x[:, 0]) + rng.normal(0, noise, n_samples)
    return x.astype(np.float32), y.astype(np.float32)


def make_friedman(rng, n_samples=1000, noise=1.0):
    """The Friedman #1 regression benchmark with 5 inputs (scikit-learn's make_friedman1)."""
    from sklearn.datasets import make_friedman1

    seed = int(rng.integers(2**31 - 1))
    x, y = make_friedman1(n_samples, n_features=5, noise=noise, random_state=seed)
    return x.astype(np.float32), y.astype(np.float32)


def make_synthetic(
    rng, n_samples=8192, noise=0, channels=1, height=32, width=32, num_classes=10
):
    """Random C×H×W images with a class-dependent offset, so the labels are learnable."""
    y = rng.integers(0, int(num_classes), n_samples)
    x = rng.standard_normal(
        (n_samples, int(channels), int(height), int(width)), dtype=np.float32
    )
    x += (y[:, None, None, None] / max(1, int(num_classes) - 1) - 0.5).astype(
        np.float32
    )
    return x, y


def make_sentiment(rng, n_samples=20000, noise=None):
    """Review-style sentences as token ids, pre-padded to 32; label 1 when the opinions are positive.

    Ids: 0 padding, 1 unknown, 2-4 negators ("not", "never", "hardly"), 5-44 positive
    words, 45-84 negative words, 85-499 neutral words. "not bad" counts as positive.
    """
    length_max, vocab_size = 32, 500
    negators = np.arange(2, 5)
    opinion_words = {1: np.arange(5, 45), -1: np.arange(45, 85)}
    neutral = np.arange(85, vocab_size)
    # Zipf-like word frequencies: common words common, rare words rare, as in real text.
    weights = 1.0 / np.arange(1, len(neutral) + 1)
    weights /= weights.sum()
    x = rng.choice(neutral, (n_samples, length_max), p=weights).astype(np.int64)
    y = np.arange(n_samples, dtype=np.int64) % 2  # balanced classes
    lengths = rng.integers(8, length_max + 1, n_samples)
    for row in range(n_samples):
        tokens = x[row, length_max - lengths[row] :]  # a view: edits land in x
        label = 1 if y[row] else -1
        while True:  # 1-4 opinions whose sum has the sign of the label
            n_opinions = int(rng.integers(1, 5))
            polarities = np.where(rng.random(n_opinions) < 0.75, label, -label)
            if np.sign(polarities.sum()) == label:
                break
        # Opinions sit on odd positions so a negator (one before) never hides another opinion.
        slots = rng.choice(np.arange(1, lengths[row], 2), n_opinions, replace=False)
        negate = rng.random(n_opinions) < 0.2
        for slot, polarity, flip in zip(slots, polarities, negate, strict=True):
            if flip:
                tokens[slot - 1] = negators[rng.integers(len(negators))]
                polarity = -polarity
            pool = opinion_words[int(polarity)]
            tokens[slot] = pool[rng.integers(len(pool))]
        x[row, : length_max - lengths[row]] = 0
    order = rng.permutation(n_samples)
    return x[order], y[order]
