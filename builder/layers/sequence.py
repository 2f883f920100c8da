"""Layers for token ids and sequences (all batch-first): embeddings, recurrent nets, attention."""

from __future__ import annotations

from .attention import MULTIHEAD_ATTENTION, TRANSFORMER_DECODER_LAYER, TRANSFORMER_ENCODER_LAYER
from .base import (
    LayerSpec,
    Param,
    ShapeError,
    batch_dim,
    expect_rank,
    module_call,
    numel,
)
from .init import WEIGHT_INIT
from .recurrent import SEQUENCE_HINT, cell_spec, recurrent_spec


def _embedding_shape(shapes, p):
    padding = p["padding_idx"]
    if padding is not None and padding >= p["num_embeddings"]:
        raise ShapeError(
            f"padding_idx {padding} is not a token id below num_embeddings {p['num_embeddings']}",
            "Use padding_idx 0, or leave it empty.",
        )
    return (*shapes[0], p["embedding_dim"])


EMBEDDING_PARAMS = (
    Param(
        "num_embeddings", "int", 1000, "Vocabulary size: token ids run from 0 to this - 1.", min=1
    ),
    Param("embedding_dim", "int", 32, "Length of each token's learned vector.", min=1),
    Param(
        "padding_idx",
        "int",
        None,
        "Token id whose vector stays zero (padding).",
        min=0,
        optional=True,
    ),
    WEIGHT_INIT,
)

EMBEDDING = LayerSpec(
    type="Embedding",
    category="sequence",
    help="Looks up a learned vector for each token id.",
    params=EMBEDDING_PARAMS,
    infer_shape=_embedding_shape,
    emit_init=lambda s, p: module_call(
        "Embedding", [p["num_embeddings"], p["embedding_dim"]], p, EMBEDDING_PARAMS[2:]
    ),
    count_params=lambda s, p: p["num_embeddings"] * p["embedding_dim"],
    input_dtype="int64",
    id_prefix="embed",
)


def _positional_shape(shapes, p):
    length, _ = expect_rank(shapes, (2,), "a (sequence, features) input", SEQUENCE_HINT)
    if length > p["max_len"]:
        raise ShapeError(
            f"gets a sequence of {length} but max_len is {p['max_len']}",
            f"Raise max_len to at least {length}.",
        )
    return shapes[0]


SINUSOIDAL_POSITIONS = '''def sinusoidal_positions(length, dim):
    """Fixed sine/cosine position vectors, as in "Attention Is All You Need"."""
    position = torch.arange(length).unsqueeze(1)
    frequency = 10000.0 ** (-torch.arange(0, dim, 2) / dim)
    table = torch.zeros(1, length, dim)  # batch axis of 1: broadcasts
    table[0, :, 0::2] = torch.sin(position * frequency)
    table[0, :, 1::2] = torch.cos(position * frequency[: dim // 2])
    return table
'''


def _positional_init(shapes, p):
    if p["encoding"] == "sinusoidal":
        # A buffer, not a Parameter: it moves with .to(device) and is saved, but never trained.
        return f"nn.Buffer(sinusoidal_positions({p['max_len']}, {shapes[0][1]}))"
    # Small random start (as in BERT) so positions differ from the first step.
    return f"nn.Parameter(torch.randn(1, {p['max_len']}, {shapes[0][1]}) * 0.02)"


POSITIONAL_EMBEDDING = LayerSpec(
    type="PositionalEmbedding",
    category="sequence",
    help="Adds a vector per position (learned or fixed sine waves) so attention can tell positions apart.",
    params=(
        Param("max_len", "int", 512, "Longest sequence it has position vectors for.", min=1),
        Param(
            "encoding",
            "choice",
            "learned",
            "learned: a trained vector per position; sinusoidal: fixed sine waves "
            "(nothing to learn, and nearby positions look alike).",
            choices=("learned", "sinusoidal"),
        ),
    ),
    infer_shape=_positional_shape,
    emit_init=_positional_init,
    emit_forward=lambda attr, xs, p: f"{xs[0]} + self.{attr}[:, : {xs[0]}.shape[1]]",
    count_params=lambda s, p: p["max_len"] * s[0][1] if p["encoding"] == "learned" else 0,
    count_macs=lambda s, out, p: numel(s[0]),
    id_prefix="pos",
    helpers={"sinusoidal_positions": SINUSOIDAL_POSITIONS},
)


def _mean_shape(shapes, p):
    shape = shapes[0]
    if len(shape) < 2:
        raise ShapeError(
            f"would average ({', '.join(map(str, shape))}) down to a single number per sample",
            "Give it a (sequence, features) input, e.g. from an Embedding or LSTM.",
        )
    dim = batch_dim(p["dim"], shape)
    if dim == 0:
        raise ShapeError("would average over the batch (dim 0)", "Use dim 1 (the sequence).")
    return shape[: dim - 1] + shape[dim:]


def _pool_expression(x: str, p) -> str:
    dim, reduce = p["dim"], p.get("reduce", "mean")
    if reduce == "max":
        return f"{x}.amax(dim={dim})"
    if reduce == "last":
        return f"{x}.select({dim}, -1)"
    if reduce == "first":  # a class token's position (ViT, BERT's [CLS])
        return f"{x}.select({dim}, 0)"
    return f"{x}.mean(dim={dim})"


SEQUENCE_MEAN = LayerSpec(
    type="SequenceMean",
    category="sequence",
    help="Pools over the sequence: (sequence, features) to (features), by mean, max, or the last or first step.",
    params=(
        Param(
            "dim",
            "int",
            1,
            "Dimension pooled away (the batch is 0; 1: the sequence).",
            min=-8,
            max=8,
        ),
        Param(
            "reduce",
            "choice",
            "mean",
            "mean: average; max: largest value; last: the final position (front-padded "
            "text); first: the first position (a class token).",
            choices=("mean", "max", "last", "first"),
        ),
    ),
    infer_shape=_mean_shape,
    emit_forward=lambda attr, xs, p: _pool_expression(xs[0], p),
    count_macs=lambda s, out, p: numel(s[0]),
    input_dtype="float32",
    id_prefix="mean",
)


def _class_token_shape(shapes, p):
    length, dim = expect_rank(shapes, (2,), "a (sequence, features) input", SEQUENCE_HINT)
    return (length + 1, dim)


CLASS_TOKEN = LayerSpec(
    type="ClassToken",
    category="sequence",
    help="Puts one learned vector in front of the sequence (ViT's class token, BERT's [CLS]); "
    "after attention, SequenceMean with reduce 'first' reads it out.",
    infer_shape=_class_token_shape,
    # Zeros, as in ViT: attention makes the token differ from the first step on.
    emit_init=lambda shapes, p: f"nn.Parameter(torch.zeros(1, 1, {shapes[0][1]}))",
    emit_forward=lambda attr, xs, p: (
        f"torch.cat([self.{attr}.expand(len({xs[0]}), -1, -1), {xs[0]}], dim=1)"
    ),
    count_params=lambda s, p: s[0][1],
    count_macs=lambda s, out, p: numel(out),
    id_prefix="cls",
)

SPECS = (
    EMBEDDING,
    recurrent_spec("RNN", "Plain recurrent layer: a hidden state updated at each time step."),
    recurrent_spec(
        "LSTM", "Long short-term memory: gated recurrence that keeps long-range information."
    ),
    recurrent_spec("GRU", "Gated recurrent unit: a lighter LSTM."),
    cell_spec("RNNCell", "One step of a plain recurrent layer: (input, h) to the next h."),
    cell_spec("LSTMCell", "One LSTM step: (input, h, c) to the next h (and c, port c)."),
    cell_spec("GRUCell", "One GRU step: (input, h) to the next h."),
    MULTIHEAD_ATTENTION,
    TRANSFORMER_ENCODER_LAYER,
    TRANSFORMER_DECODER_LAYER,
    POSITIONAL_EMBEDDING,
    CLASS_TOKEN,
    SEQUENCE_MEAN,
)
