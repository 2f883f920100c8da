"""A generated sentiment corpus: review-style sentences over a fixed 500-word vocabulary.

Each sentence mixes neutral words with a few opinion words; "not" or "never" before an
opinion word flips it, so a model has to read word order, not just count words. The
label is the sign of the summed (possibly negated) opinions; ties are redrawn.
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
    has just read the sentence.
    """
    vocabulary = build_vocabulary()
    index = {w: i for i, w in enumerate(vocabulary)}
    positive = np.array([index[w] for w in POSITIVE])
    negative = np.array([index[w] for w in NEGATIVE])
    negators = np.array([index[w] for w in NEGATORS])
    neutral_ids = np.arange(2 + len(NEGATORS) + len(POSITIVE) + len(NEGATIVE), VOCAB_SIZE)
    x = np.zeros((n_samples, SEQUENCE_LENGTH), dtype=np.int64)
    y = np.zeros(n_samples, dtype=np.int64)
    for row in range(n_samples):
        tokens, score = _sentence(rng, positive, negative, negators, neutral_ids)
        x[row, SEQUENCE_LENGTH - len(tokens) :] = tokens
        y[row] = int(score > 0)
    return x, y, vocabulary


def _sentence(rng, positive, negative, negators, neutral_ids):
    while True:
        length = int(rng.integers(8, SEQUENCE_LENGTH + 1))
        tokens = list(rng.choice(neutral_ids, length))
        score = 0
        n_opinions = int(rng.integers(1, 4))
        slots = sorted(rng.choice(np.arange(1, length), n_opinions, replace=False))
        for slot in slots:
            polarity = 1 if rng.random() < 0.5 else -1
            word = rng.choice(positive if polarity > 0 else negative)
            tokens[slot] = word
            if rng.random() < 0.25 and slot - 1 not in slots:
                tokens[slot - 1] = rng.choice(negators)
                polarity = -polarity
            score += polarity
        if score != 0:
            return tokens, score
