"""Layers for token ids and sequences (all batch-first): embeddings, recurrent nets, attention."""

from __future__ import annotations

from .base import (
    LayerSpec,
    Param,
    ShapeError,
    batch_dim,
    expect_rank,
    fmt_shape,
    module_call,
    numel,
)
from .init import WEIGHT_INIT

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


STATE_NAMES = {"RNN": ("h0",), "GRU": ("h0",), "LSTM": ("h0", "c0")}
STATE_HINT = (
    "A state is batch-first (layers x directions, hidden_size): connect the h_n (or c_n) port "
    "of a layer like this one, or an Input of that shape."
)


def _state_shape(p) -> tuple[int, int]:
    """Shape of h0/h_n (and c0/c_n) per sample, batch first: (layers x directions, hidden)."""
    return (p["num_layers"] * (2 if p["bidirectional"] else 1), p["hidden_size"])


def _check_states(cls, shapes, wanted):
    states = shapes[1:]
    names = STATE_NAMES.get(cls) or CELL_STATES[cls]
    if states and len(states) != len(names):
        raise ShapeError(
            f"takes its initial state as {' and '.join(names)} together, not {len(states)} of them",
            f"Connect {', '.join(names)} in that order after the input.",
        )
    for name, shape in zip(names, states, strict=False):
        if tuple(shape) != tuple(wanted):
            raise ShapeError(
                f"{name} must be {fmt_shape(wanted)} per sample but is {fmt_shape(shape)}",
                STATE_HINT,
            )


def _recurrent_output(cls):
    def rule(shapes, p):
        length, _ = expect_rank(shapes[:1], (2,), "a (sequence, features) input", SEQUENCE_HINT)
        _check_states(cls, shapes, _state_shape(p))
        width = p["hidden_size"] * (2 if p["bidirectional"] else 1)
        return (width,) if p["return"] == "last" else (length, width)

    return rule


def _recurrent_ports(cls):
    def ports(shapes, p):
        outputs = {"output": _recurrent_output(cls)(shapes, p), "h_n": _state_shape(p)}
        if cls == "LSTM":
            outputs["c_n"] = _state_shape(p)
        return outputs

    return ports


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


def _recurrent_forward(cls):
    def emit(attr, xs, p, read, shapes):
        # torch keeps the batch in dim 1 of a state even with batch_first; the graph keeps
        # every tensor batch-first, so states are transposed on the way in and out.
        lines, state_in = [], ""
        if len(xs) > 1:
            names = [f"{attr}_{name}" for name in STATE_NAMES[cls]]
            for name, x in zip(names, xs[1:], strict=True):
                lines.append(f"{name} = {x}.transpose(0, 1).contiguous()  # (layers, N, hidden)")
            state_in = f", ({', '.join(names)})" if cls == "LSTM" else f", {names[0]}"
        outs = [read.get("h_n"), read.get("c_n")] if cls == "LSTM" else [read.get("h_n")]
        if any(outs):
            state = ", ".join(o or "_" for o in outs)
            state = f"({state})" if cls == "LSTM" else state
            lines.append(f"{{out}}, {state} = self.{attr}({xs[0]}{state_in})")
            lines += [f"{o} = {o}.transpose(0, 1)  # batch first" for o in outs if o]
        else:
            call = f"self.{attr}({xs[0]}{state_in})"
            lines.append(f"{{out}}, _ = {call}  # every time step; _ is the final state")
        if p["return"] == "last":
            lines.append("{out} = {out}[:, -1]  # last time step")
        return lines

    return emit


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
    if cls == "RNN":
        params += (NONLINEARITY,)
    ctor_params = tuple(q for q in params[1:] if q.name != "return")

    def emit_init(shapes, p):
        call = module_call(cls, [shapes[0][-1], p["hidden_size"]], p, ctor_params)
        return call[:-1] + ", batch_first=True)"

    return LayerSpec(
        type=cls,
        category="sequence",
        help=help_text + " Optional inputs: the initial state; ports h_n (c_n): the final one.",
        params=params,
        infer_shape=_recurrent_output(cls),
        emit_init=emit_init,
        emit_forward_ports=_recurrent_forward(cls),
        output_ports=_recurrent_ports(cls),
        count_params=_recurrent_params(cls),
        count_macs=_recurrent_macs(cls),
        id_prefix=cls.lower(),
        max_inputs=1 + len(STATE_NAMES[cls]),
        input_names=("input", *STATE_NAMES[cls]),
    )


NONLINEARITY = Param(
    "nonlinearity", "choice", "tanh", "The recurrence's activation.", choices=("tanh", "relu")
)
CELL_STATES = {"RNNCell": ("h",), "GRUCell": ("h",), "LSTMCell": ("h", "c")}
CELL_GATES = {"RNNCell": 1, "GRUCell": 3, "LSTMCell": 4}


def _cell_shape(cls):
    def rule(shapes, p):
        expect_rank(shapes[:1], (1,), "a (features) input: one time step", None)
        _check_states(cls, shapes, (p["hidden_size"],))
        return (p["hidden_size"],)

    return rule


def _cell_forward(cls):
    def emit(attr, xs, p, read, shapes):
        state = ""
        if len(xs) > 1:
            state = f", ({xs[1]}, {xs[2]})" if cls == "LSTMCell" else f", {xs[1]}"
        call = f"self.{attr}({xs[0]}{state})"
        if cls == "LSTMCell":
            return [f"{{out}}, {read.get('c', '_')} = {call}"]
        return call

    return emit


def _cell_spec(cls, help_text):
    params = (
        Param("hidden_size", "int", 64, "Size of the hidden state.", min=1),
        Param("bias", "bool", True, "Learn additive biases."),
    )
    if cls == "RNNCell":
        params += (NONLINEARITY,)
    gates = CELL_GATES[cls]
    return LayerSpec(
        type=cls,
        category="sequence",
        help=help_text,
        params=params,
        infer_shape=_cell_shape(cls),
        emit_init=lambda s, p: module_call(cls, [s[0][-1], p["hidden_size"]], p, params[1:]),
        emit_forward_ports=_cell_forward(cls),
        output_ports=(
            (lambda s, p: {"h": (p["hidden_size"],), "c": (p["hidden_size"],)})
            if cls == "LSTMCell"
            else None
        ),
        count_params=lambda s, p: (
            gates * p["hidden_size"] * (s[0][-1] + p["hidden_size"])
            + (2 * gates * p["hidden_size"] if p["bias"] else 0)
        ),
        count_macs=lambda s, out, p: gates * p["hidden_size"] * (s[0][-1] + p["hidden_size"]),
        id_prefix=cls.lower(),
        max_inputs=1 + len(CELL_STATES[cls]),
        input_names=("input", *CELL_STATES[cls]),
    )


def _attention_shape(shapes, p, heads_key):
    _, embed = expect_rank(shapes[:1], (2,), "a (sequence, features) input", SEQUENCE_HINT)
    if embed % p[heads_key]:
        raise ShapeError(
            f"{p[heads_key]} heads do not divide the feature size {embed}",
            "Choose a head count that divides it.",
        )
    return shapes[0]


def _mha_inputs(shapes):
    """(query, key, value) shapes: one input is self-attention, two share key and value."""
    query = shapes[0]
    key = shapes[1] if len(shapes) > 1 else query
    value = shapes[2] if len(shapes) > 2 else key
    return query, key, value


def _mha_shape(shapes, p):
    _attention_shape(shapes, p, "num_heads")
    query, key, value = _mha_inputs(shapes)
    for name, shape in (("key", key), ("value", value)):
        expect_rank([shape], (2,), f"a (sequence, features) {name}", SEQUENCE_HINT)
    if key[0] != value[0]:
        raise ShapeError(
            f"key and value have different lengths ({key[0]} and {value[0]})",
            "Give them the same sequence length.",
        )
    if p["is_causal"] and query[0] != key[0]:
        raise ShapeError(
            "a causal mask needs query and key of the same length",
            "Turn is_causal off for cross-attention.",
        )
    return query


def _mha_ports(shapes, p):
    query, key, _ = _mha_inputs(shapes)
    return {"output": _mha_shape(shapes, p), "attn_weights": (query[0], key[0])}


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
    Param(
        "is_causal",
        "bool",
        False,
        "Each position sees only itself and earlier ones (a language model's mask).",
        in_ctor=False,
    ),
)


def _mha_emit(shapes, p):
    query, key, value = _mha_inputs(shapes)
    call = module_call("MultiheadAttention", [query[-1], p["num_heads"]], p, MHA_PARAMS[1:])
    extra = "".join(
        f", {name}={shape[-1]}"
        for name, shape in (("kdim", key), ("vdim", value))
        if shape[-1] != query[-1]
    )
    return call[:-1] + f"{extra}, batch_first=True)"


def _causal_mask(attr: str, x: str) -> str:
    # A float mask of -inf above the diagonal, as nn.Transformer makes it.
    return (
        f"{attr}_mask = nn.Transformer.generate_square_subsequent_mask("
        f"{x}.shape[1], device={x}.device)"
    )


def _mha_forward(attr, xs, p, read, shapes):
    query = xs[0]
    key = xs[1] if len(xs) > 1 else query
    value = xs[2] if len(xs) > 2 else key
    lines, mask = [], ""
    if p["is_causal"]:
        lines.append(_causal_mask(attr, query))
        mask = f", attn_mask={attr}_mask, is_causal=True"
    weights = read.get("attn_weights")
    if weights:
        # averaged over heads, (N, query length, key length), as torch returns them
        call = f"self.{attr}({query}, {key}, {value}{mask})"
        lines.append(f"{{out}}, {weights} = {call}")
    else:
        call = f"self.{attr}({query}, {key}, {value}{mask}, need_weights=False)"
        lines.append(f"{{out}}, _ = {call}")
    return lines


def _mha_params(shapes, p):
    query, key, value = _mha_inputs(shapes)
    e = query[-1]
    weights = e * e + e * key[-1] + e * value[-1] + e * e
    return weights + (4 * e if p["bias"] else 0)


MULTIHEAD_ATTENTION = LayerSpec(
    type="MultiheadAttention",
    category="sequence",
    help="Attention: every query position looks at every key position. One input: "
    "self-attention; two: query and key=value; three: query, key, value. Port attn_weights: "
    "the weights, averaged over heads.",
    params=MHA_PARAMS,
    infer_shape=_mha_shape,
    emit_init=_mha_emit,
    emit_forward_ports=_mha_forward,
    output_ports=_mha_ports,
    count_params=_mha_params,
    count_macs=lambda s, out, p: 4 * s[0][0] * s[0][1] ** 2 + 2 * s[0][0] ** 2 * s[0][1],
    id_prefix="attn",
    max_inputs=3,
    input_names=("query", "key", "value"),
)

TRANSFORMER_PARAMS = (
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
    Param("layer_norm_eps", "float", 1e-5, "The LayerNorms' eps.", min=0.0, max=1.0),
)
ENCODER_PARAMS = (
    *TRANSFORMER_PARAMS,
    Param(
        "is_causal",
        "bool",
        False,
        "Each position attends only to itself and earlier ones (a language model's mask).",
        in_ctor=False,
    ),
)


def _encoder_emit(shapes, p):
    call = module_call(
        "TransformerEncoderLayer", [shapes[0][-1], p["nhead"]], p, ENCODER_PARAMS[1:]
    )
    return call[:-1] + ", batch_first=True)"


def _encoder_forward(attr, xs, p, read, shapes):
    if not p["is_causal"]:
        return f"self.{attr}({xs[0]})"
    return [
        _causal_mask(attr, xs[0]),
        f"{{out}} = self.{attr}({xs[0]}, src_mask={attr}_mask, is_causal=True)",
    ]


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
    emit_forward_ports=_encoder_forward,
    count_params=_encoder_params,
    count_macs=lambda s, out, p: s[0][0] * (_encoder_params(s, p) + s[0][0] * s[0][1] * 2),
    id_prefix="encoder",
)

DECODER_PARAMS = (
    *TRANSFORMER_PARAMS,
    Param(
        "tgt_is_causal",
        "bool",
        False,
        "Each target position attends only to itself and earlier ones (off: sees all).",
        in_ctor=False,
    ),
)


def _decoder_shape(shapes, p):
    target = _attention_shape(shapes, p, "nhead")
    memory = expect_rank(shapes[1:], (2,), "a (sequence, features) memory", SEQUENCE_HINT)
    if memory[-1] != target[-1]:
        raise ShapeError(
            f"the memory has {memory[-1]} features but the target {target[-1]}",
            "Give the encoder output the decoder's feature size.",
        )
    return target


def _decoder_emit(shapes, p):
    call = module_call(
        "TransformerDecoderLayer", [shapes[0][-1], p["nhead"]], p, DECODER_PARAMS[1:]
    )
    return call[:-1] + ", batch_first=True)"


def _decoder_forward(attr, xs, p, read, shapes):
    if not p["tgt_is_causal"]:
        return f"self.{attr}({xs[0]}, {xs[1]})"
    return [
        _causal_mask(attr, xs[0]),
        f"{{out}} = self.{attr}({xs[0]}, {xs[1]}, tgt_mask={attr}_mask, tgt_is_causal=True)",
    ]


TRANSFORMER_DECODER_LAYER = LayerSpec(
    type="TransformerDecoderLayer",
    category="sequence",
    help="One Transformer decoder block: masked self-attention over the target (input 1), "
    "attention to the encoder's memory (input 2), then a feed-forward net.",
    params=DECODER_PARAMS,
    infer_shape=_decoder_shape,
    emit_init=_decoder_emit,
    emit_forward_ports=_decoder_forward,
    count_params=lambda s, p: _encoder_params(s, p) + 4 * s[0][-1] ** 2 + 6 * s[0][-1],
    count_macs=lambda s, out, p: 2 * s[0][0] * (_encoder_params(s, p) + s[0][0] * s[0][1] * 2),
    id_prefix="decoder",
    min_inputs=2,
    max_inputs=2,
    input_names=("tgt", "memory"),
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
    _cell_spec("RNNCell", "One step of a plain recurrent layer: (input, h) to the next h."),
    _cell_spec("LSTMCell", "One LSTM step: (input, h, c) to the next h (and c, port c)."),
    _cell_spec("GRUCell", "One GRU step: (input, h) to the next h."),
    MULTIHEAD_ATTENTION,
    TRANSFORMER_ENCODER_LAYER,
    TRANSFORMER_DECODER_LAYER,
    POSITIONAL_EMBEDDING,
    SEQUENCE_MEAN,
)
