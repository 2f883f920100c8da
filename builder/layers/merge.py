"""Nodes that combine several inputs, in edge order."""

from __future__ import annotations

from .base import LayerSpec, Param, ShapeError, batch_dim, fmt_shape, numel


def broadcastable(a, b) -> bool:
    """Torch's broadcasting for inputs of one rank: each size equal, or 1 on one side
    (a squeeze-and-excitation gate (C, 1, 1) times its feature map (C, H, W))."""
    return len(a) == len(b) and all(x == y or 1 in (x, y) for x, y in zip(a, b, strict=True))


def _broadcast_shapes(shapes, p):
    out = shapes[0]
    for other in shapes[1:]:
        if not broadcastable(out, other):
            raise ShapeError(
                f"inputs have different shapes {fmt_shape(out)} and {fmt_shape(other)}",
                "Make them equal, e.g. with a 1x1 Conv2d or a Linear on one branch "
                "(a size of 1 on one side is broadcast, as torch does).",
            )
        out = tuple(max(a, b) if 1 in (a, b) else a for a, b in zip(out, other, strict=True))
    return out


def _concat_shape(shapes, p):
    rank = len(shapes[0])
    if any(len(s) != rank for s in shapes):
        raise ShapeError(
            "inputs have different numbers of dimensions: " + ", ".join(map(fmt_shape, shapes)),
            "Flatten or reshape the inputs to the same rank.",
        )
    dim = batch_dim(p["dim"], shapes[0])
    if dim == 0:
        raise ShapeError(
            "cannot concatenate along the batch (dim 0)", "Use dim 1 (channels/features)."
        )
    axis = dim - 1
    for other in shapes[1:]:
        for i, (a, b) in enumerate(zip(shapes[0], other, strict=True)):
            if i != axis and a != b:
                raise ShapeError(
                    f"inputs {fmt_shape(shapes[0])} and {fmt_shape(other)} differ outside dim {p['dim']}",
                    "Only the concatenated dimension may differ; match the others (e.g. padding).",
                )
    return tuple(
        sum(s[axis] for s in shapes) if i == axis else size for i, size in enumerate(shapes[0])
    )


def _reparameterize_shape(shapes, p):
    mu, logvar = shapes
    if mu != logvar:
        raise ShapeError(
            f"mu {fmt_shape(mu)} and logvar {fmt_shape(logvar)} differ",
            "Give both heads the same out_features.",
        )
    return mu


def _reparameterize_forward(attr, xs, p):
    mu, logvar = xs
    sample = f"{mu} + {attr}_std * torch.randn_like({attr}_std)"
    return [
        f"{attr}_std = torch.exp(0.5 * {logvar})",
        # Sampling only while training; eval gives the mean (deterministic outputs).
        f"{{out}} = {sample}"
        if p["sample_in_eval"]
        else f"{{out}} = {sample} if self.training else {mu}",
        # KL(q(z|x) || N(0, 1)), summed over the latent dims and averaged over the batch;
        # the trainer adds it to the loss (TrainConfig.kl_weight).
        f"{attr}_kl = 1 + {logvar} - {mu}.pow(2) - {logvar}.exp()",
        f"self.{attr}_kl = -0.5 * {attr}_kl.sum() / len({mu})",
    ]


REPARAMETERIZE = LayerSpec(
    type="Reparameterize",
    category="merge",
    help="A VAE's sampling step: (mu, logvar) to z = mu + exp(logvar / 2) * noise while "
    "training (z = mu in eval); its KL term is added to the training loss.",
    params=(Param("sample_in_eval", "bool", False, "Also sample in eval mode (off: z = mu)."),),
    min_inputs=2,
    max_inputs=2,
    infer_shape=_reparameterize_shape,
    emit_forward=_reparameterize_forward,
    count_macs=lambda s, out, p: 4 * numel(out),
    id_prefix="z",
    input_names=("mu", "logvar"),
    min_rank=0,
)

SPECS = (
    LayerSpec(
        type="Add",
        category="merge",
        help="Adds its inputs element-wise (residual / skip connections); a size of 1 on one "
        "input is broadcast, as torch does.",
        min_inputs=2,
        max_inputs=None,
        infer_shape=_broadcast_shapes,
        emit_forward=lambda attr, xs, p: " + ".join(xs),
        id_prefix="add",
        min_rank=0,
    ),
    LayerSpec(
        type="Concat",
        category="merge",
        help="Joins its inputs along one dimension (channels by default), as in Inception.",
        params=(
            Param("dim", "int", 1, "Dimension to join along (the batch is 0).", min=-8, max=8),
        ),
        min_inputs=2,
        max_inputs=None,
        infer_shape=_concat_shape,
        emit_forward=lambda attr, xs, p: f"torch.cat([{', '.join(xs)}], dim={p['dim']})",
        id_prefix="concat",
    ),
    LayerSpec(
        type="Multiply",
        category="merge",
        help="Multiplies its inputs element-wise (gating); a size of 1 on one input is "
        "broadcast, as in a squeeze-and-excitation block's (C, 1, 1) gate.",
        min_inputs=2,
        max_inputs=None,
        infer_shape=_broadcast_shapes,
        emit_forward=lambda attr, xs, p: " * ".join(xs),
        id_prefix="mul",
        min_rank=0,
    ),
    REPARAMETERIZE,
)
