"""Layers for token ids and sequences (all batch-first): embeddings, recurrent nets, attention."""

from __future__ import annotations

from .base import LayerSpec, Param, ShapeError, batch_dim, expect_rank, module_call, numel

GATES = {"RNN": 1, "GRU": 3, "LSTM": 4}
SEQUENCE_HINT = (
    "Recurrent and attention layers take (sequence, features); add an Embedding or Reshape first."
)


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


def _recurrent_shape(shapes, p):
    length, _ = expect_rank(shapes, (2,), "a (sequence, features) input", SEQUENCE_HINT)
    width = p["hidden_size"] * (2 if p["bidirectional"] else 1)
    return (width,) if p["return"] == "last" else (length, width)


def _recurrent_params(cls):
    def count(shapes, p):
        gates, hidden = GATES[cls], p["hidden_size"]
        directions = 2 if p["bidirectional"] else 1
        total, features = 0, shapes[0][-1]
        for _ in range(p["num_layers"]):
            per_direction = gates * hidden * (features + hidden) + (
                2 * gates * hidden if p["bias"] else 0
            )
            total += per_direction * directions
            features = hidden * directions
        return total

    return count


def _recurrent_macs(cls):
    def count(shapes, out, p):
        return shapes[0][0] * _recurrent_params(cls)(shapes, p)

    return count


def _recurrent_forward(attr, xs, p):
    # The module returns (outputs at every step, final state); the outputs are what flows on.
    lines = [f"{{out}}, _ = self.{attr}({xs[0]})  # every time step; _ is the final state"]
    if p["return"] == "last":
        lines.append("{out} = {out}[:, -1]  # last time step")
    return lines


def _recurrent_spec(cls, help_text):
    params = (
        Param("hidden_size", "int", 64, "Size of the hidden state.", min=1),
        Param("num_layers", "int", 1, "Recurrent layers stacked on each other.", min=1, max=16),
        Param("bidirectional", "bool", False, "Also read the sequence backwards."),
        Param("dropout", "float", 0.0, "Dropout between stacked layers.", min=0.0, max=1.0),
        Param("bias", "bool", True, "Learn additive biases."),
        Param(
            "return",
            "choice",
            "last",
            "last: the final time step only (for classifiers); sequence: every step.",
            choices=("last", "sequence"),
        ),
    )
    ctor_params = tuple(q for q in params[1:] if q.name != "return")

    def emit_init(shapes, p):
        call = module_call(cls, [shapes[0][-1], p["hidden_size"]], p, ctor_params)
        return call[:-1] + ", batch_first=True)"

    return LayerSpec(
        type=cls,
        category="sequence",
        help=help_text,
        params=params,
        infer_shape=_recurrent_shape,
        emit_init=emit_init,
        emit_forward=_recurrent_forward,
        count_params=_recurrent_params(cls),
        count_macs=_recurrent_macs(cls),
        id_prefix=cls.lower(),
    )


def _attention_shape(shapes, p, heads_key):
    _, embed = expect_rank(shapes, (2,), "a (sequence, features) input", SEQUENCE_HINT)
    if embed % p[heads_key]:
        raise ShapeError(
            f"{p[heads_key]} heads do not divide the feature size {embed}",
            "Choose a head count that divides it.",
        )
    return shapes[0]


MHA_PARAMS = (
    Param(
        "num_heads",
        "int",
        4,
        "Parallel attention heads; must divide the feature size.",
        min=1,
        max=64,
    ),
    Param("dropout", "float", 0.0, "Dropout on the attention weights.", min=0.0, max=1.0),
    Param("bias", "bool", True, "Learn biases in the projections."),
)


def _mha_emit(shapes, p):
    call = module_call("MultiheadAttention", [shapes[0][-1], p["num_heads"]], p, MHA_PARAMS[1:])
    return call[:-1] + ", batch_first=True)"


MULTIHEAD_ATTENTION = LayerSpec(
    type="MultiheadAttention",
    category="sequence",
    help="Self-attention: every position looks at every other position.",
    params=MHA_PARAMS,
    infer_shape=lambda s, p: _attention_shape(s, p, "num_heads"),
    emit_init=_mha_emit,
    emit_forward=lambda attr, xs, p: [
        f"{{out}}, _ = self.{attr}({xs[0]}, {xs[0]}, {xs[0]}, need_weights=False)"
    ],
    count_params=lambda s, p: 4 * s[0][-1] ** 2 + (4 * s[0][-1] if p["bias"] else 0),
    count_macs=lambda s, out, p: 4 * s[0][0] * s[0][1] ** 2 + 2 * s[0][0] ** 2 * s[0][1],
    id_prefix="attn",
)

ENCODER_PARAMS = (
    Param("nhead", "int", 4, "Attention heads; must divide the feature size.", min=1, max=64),
    Param("dim_feedforward", "int", 2048, "Width of the feed-forward block.", min=1),
    Param("dropout", "float", 0.1, "Dropout inside the block.", min=0.0, max=1.0),
    Param(
        "activation",
        "choice",
        "relu",
        "Activation of the feed-forward block.",
        choices=("relu", "gelu"),
    ),
    Param(
        "norm_first", "bool", False, "LayerNorm before (pre-norm) instead of after each sub-block."
    ),
)


def _encoder_emit(shapes, p):
    call = module_call(
        "TransformerEncoderLayer", [shapes[0][-1], p["nhead"]], p, ENCODER_PARAMS[1:]
    )
    return call[:-1] + ", batch_first=True)"


def _encoder_params(shapes, p):
    d, f = shapes[0][-1], p["dim_feedforward"]
    return (4 * d * d + 4 * d) + (d * f + f) + (f * d + d) + 4 * d


TRANSFORMER_ENCODER_LAYER = LayerSpec(
    type="TransformerEncoderLayer",
    category="sequence",
    help="One Transformer encoder block: self-attention then a feed-forward net, each with a residual.",
    params=ENCODER_PARAMS,
    infer_shape=lambda s, p: _attention_shape(s, p, "nhead"),
    emit_init=_encoder_emit,
    count_params=_encoder_params,
    count_macs=lambda s, out, p: s[0][0] * (_encoder_params(s, p) + s[0][0] * s[0][1] * 2),
    id_prefix="encoder",
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
    return f"{x}.mean(dim={dim})"


SEQUENCE_MEAN = LayerSpec(
    type="SequenceMean",
    category="sequence",
    help="Pools over the sequence: (sequence, features) to (features), by mean, max or last step.",
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
            "mean: average; max: largest value; last: the final position (front-padded text).",
            choices=("mean", "max", "last"),
        ),
    ),
    infer_shape=_mean_shape,
    emit_forward=lambda attr, xs, p: _pool_expression(xs[0], p),
    count_macs=lambda s, out, p: numel(s[0]),
    input_dtype="float32",
    id_prefix="mean",
)

SPECS = (
    EMBEDDING,
    _recurrent_spec("RNN", "Plain recurrent layer: a hidden state updated at each time step."),
    _recurrent_spec(
        "LSTM", "Long short-term memory: gated recurrence that keeps long-range information."
    ),
    _recurrent_spec("GRU", "Gated recurrent unit: a lighter LSTM."),
    MULTIHEAD_ATTENTION,
    TRANSFORMER_ENCODER_LAYER,
    POSITIONAL_EMBEDDING,
    SEQUENCE_MEAN,
)
