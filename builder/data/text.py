"""A generated sentiment corpus: review-style sentences over a fixed 500-word vocabulary.

Each sentence mixes neutral words with one to four opinion words; "not" or "never" before
an opinion word flips it, so a model has to read word order, not just count words. The
label is the sign of the summed (negation-aware) opinions.
"""

from __future__ import annotations

import numpy as np

VOCAB_SIZE = 500
SEQUENCE_LENGTH = 32
PAD, UNKNOWN = "<pad>", "<unk>"

POSITIVE = [
    "good",
    "great",
    "excellent",
    "wonderful",
    "lovely",
    "superb",
    "brilliant",
    "amazing",
    "fantastic",
    "delightful",
    "charming",
    "enjoyable",
    "pleasant",
    "beautiful",
    "perfect",
    "fun",
    "moving",
    "clever",
    "funny",
    "warm",
    "memorable",
    "gripping",
    "solid",
    "fresh",
    "stunning",
    "touching",
    "smart",
    "elegant",
    "honest",
    "rich",
    "inspiring",
    "best",
    "favourite",
    "fine",
    "terrific",
    "marvellous",
    "recommended",
    "satisfying",
    "impressive",
    "engaging",
]

NEGATIVE = [
    "bad",
    "awful",
    "terrible",
    "horrible",
    "poor",
    "boring",
    "dull",
    "weak",
    "worst",
    "annoying",
    "disappointing",
    "painful",
    "ugly",
    "stupid",
    "messy",
    "tedious",
    "bland",
    "clumsy",
    "forgettable",
    "lazy",
    "cheap",
    "confusing",
    "slow",
    "silly",
    "pointless",
    "shallow",
    "flat",
    "awkward",
    "predictable",
    "noisy",
    "tiresome",
    "broken",
    "sloppy",
    "irritating",
    "mediocre",
    "wasted",
    "unbearable",
    "dreadful",
    "lifeless",
    "overlong",
]

NEGATORS = ["not", "never", "hardly"]

NEUTRAL = [
    "the",
    "a",
    "an",
    "this",
    "that",
    "it",
    "is",
    "was",
    "were",
    "be",
    "been",
    "film",
    "movie",
    "story",
    "plot",
    "acting",
    "actor",
    "actress",
    "scene",
    "scenes",
    "music",
    "ending",
    "start",
    "director",
    "script",
    "cast",
    "character",
    "characters",
    "camera",
    "sound",
    "picture",
    "screen",
    "book",
    "show",
    "series",
    "episode",
    "season",
    "dialogue",
    "pace",
    "effects",
    "and",
    "but",
    "or",
    "so",
    "then",
    "also",
    "just",
    "very",
    "quite",
    "rather",
    "really",
    "too",
    "of",
    "in",
    "on",
    "at",
    "to",
    "for",
    "with",
    "by",
    "from",
    "about",
    "as",
    "into",
    "over",
    "after",
    "before",
    "during",
    "while",
    "i",
    "we",
    "you",
    "they",
    "he",
    "she",
    "my",
    "our",
    "your",
    "their",
    "his",
    "her",
    "me",
    "us",
    "them",
    "what",
    "which",
    "who",
    "when",
    "where",
    "why",
    "how",
    "all",
    "some",
    "any",
    "each",
    "every",
    "one",
    "two",
    "three",
    "first",
    "last",
    "long",
    "short",
    "new",
    "old",
    "time",
    "day",
    "night",
    "year",
    "people",
    "man",
    "woman",
    "family",
    "friend",
    "city",
    "house",
    "world",
    "life",
    "love",
    "war",
    "home",
    "work",
    "school",
    "car",
    "road",
    "water",
    "light",
    "dark",
    "room",
    "door",
    "window",
    "street",
    "town",
    "country",
    "place",
    "part",
    "end",
    "way",
    "thing",
    "things",
    "lot",
    "kind",
    "had",
    "has",
    "have",
    "do",
    "does",
    "did",
    "would",
    "could",
    "should",
    "will",
    "can",
    "may",
    "might",
    "must",
    "saw",
    "seen",
    "watch",
    "watched",
    "watching",
    "read",
    "think",
    "thought",
    "felt",
    "feel",
    "seemed",
    "seems",
    "looks",
    "looked",
    "made",
    "make",
]


def build_vocabulary() -> list[str]:
    """Id -> word for all VOCAB_SIZE ids; 0 is padding, 1 unknown, the tail neutral fillers."""
    words = [PAD, UNKNOWN, *NEGATORS, *POSITIVE, *NEGATIVE]
    words += [w for w in dict.fromkeys(NEUTRAL) if w not in words]
    # Fill the fixed vocabulary with made-up neutral names (places, people) of two or three syllables.
    syllables = [
        "ba",
        "ko",
        "mi",
        "ra",
        "lu",
        "ve",
        "so",
        "ta",
        "ni",
        "de",
        "pa",
        "fo",
        "ru",
        "zi",
        "me",
        "ga",
    ]
    fillers = (a + b + c for c in ["", *syllables] for a in syllables for b in syllables if a != b)
    while len(words) < VOCAB_SIZE:
        word = next(fillers)
        if word not in words:
            words.append(word)
    return words[:VOCAB_SIZE]


def make_sentiment(
    rng: np.random.Generator, n_samples: int
) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """n_samples pre-padded id sequences of SEQUENCE_LENGTH, their 0/1 labels, and the vocabulary.

    Padding goes in front (like Keras' pad_sequences) so a recurrent layer's last step
    has just read the sentence. Labels alternate, so the classes are balanced.
    """
    vocabulary = build_vocabulary()
    index = {w: i for i, w in enumerate(vocabulary)}
    words = {
        1: np.array([index[w] for w in POSITIVE]),
        -1: np.array([index[w] for w in NEGATIVE]),
    }
    negators = np.array([index[w] for w in NEGATORS])
    neutral = np.arange(2 + len(NEGATORS) + len(POSITIVE) + len(NEGATIVE), VOCAB_SIZE)
    # Zipf-like word frequencies: common words common, made-up names rare, as in real text.
    weights = 1.0 / np.arange(1, len(neutral) + 1)
    weights /= weights.sum()
    x = rng.choice(neutral, (n_samples, SEQUENCE_LENGTH), p=weights).astype(np.int64)
    y = np.arange(n_samples, dtype=np.int64) % 2
    lengths = rng.integers(8, SEQUENCE_LENGTH + 1, n_samples)
    for row in range(n_samples):
        tokens = x[row, SEQUENCE_LENGTH - lengths[row] :]  # a view: edits land in x
        _add_opinions(rng, tokens, 1 if y[row] else -1, words, negators)
        x[row, : SEQUENCE_LENGTH - lengths[row]] = 0
    order = rng.permutation(n_samples)
    return x[order], y[order], vocabulary


def _add_opinions(rng, tokens, label, words, negators) -> None:
    """Put 1-4 opinions into tokens whose (negation-aware) sum has the sign of label."""
    length = len(tokens)
    while True:
        n_opinions = int(rng.integers(1, 5))
        polarities = np.where(rng.random(n_opinions) < 0.75, label, -label)
        if np.sign(polarities.sum()) == label:
            break
    # Opinions sit on odd positions so a negator (one before) never hides another opinion.
    slots = rng.choice(np.arange(1, length, 2), n_opinions, replace=False)
    negate = rng.random(n_opinions) < 0.2  # "not bad" says something positive
    for slot, polarity, flip in zip(slots, polarities, negate, strict=True):
        if flip:
            tokens[slot - 1] = negators[rng.integers(len(negators))]
            polarity = -polarity
        pool = words[int(polarity)]
        tokens[slot] = pool[rng.integers(len(pool))]
