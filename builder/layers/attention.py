"""Attention layers (batch-first): MultiheadAttention and the Transformer blocks, with causal masks."""

from __future__ import annotations

from .base import LayerSpec, Param, ShapeError, expect_rank, module_call
from .recurrent import SEQUENCE_HINT


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
