"""Does a dataset fit a graph? One clear message when not, and a one-click fix where possible."""

from __future__ import annotations

from builder.errors import BuilderError

from .dataset import Dataset, format_shape, kind_of_input

# Layers that keep the shape of their input, skipped when looking for the layer to resize.
_SHAPE_KEEPING = {
    "ReLU", "LeakyReLU", "GELU", "SiLU", "ELU", "Tanh", "Sigmoid", "Softmax", "LogSoftmax",
    "Dropout", "Identity", "Output", "PReLU", "Mish", "Softplus", "Hardswish",
}  # fmt: skip


def _input_node(arch) -> str | BuilderError:
    inputs = [n for n in arch.node_ids if arch.type_of(n) == "Input"]
    if len(inputs) != 1:
        return BuilderError(
            f"training needs exactly one Input node, the graph has {len(inputs)}",
            hint="Add one Input node." if not inputs else "Remove the extra Input nodes.",
        )
    return inputs[0]


def _output_node(arch) -> str | BuilderError:
    outputs = arch.output_nodes()
    if outputs and arch.type_of(outputs[0]) == "Output":
        return outputs[0]  # named outputs: training compares the first (e.g. a VAE's recon)
    if len(outputs) != 1:
        return BuilderError(
            f"training needs exactly one output, the graph has {len(outputs)} ({', '.join(outputs)})",
            hint="Join the branches (Add or Concat) or remove the loose ends.",
        )
    return outputs[0]


def _expected_output(dataset: Dataset) -> tuple[tuple[int, ...], ...]:
    """Output shapes the task accepts; the first is what a fix sets."""
    if dataset.task == "classification":
        return (
            ((dataset.num_classes,), (1,))
            if dataset.num_classes == 2
            else ((dataset.num_classes,),)
        )
    if dataset.task == "regression":
        return (tuple(dataset.target_shape),)
    return (tuple(dataset.input_shape),)


def check_compatibility(
    arch, dataset: Dataset, *, analysis=None, explain: bool = True
) -> BuilderError | None:
    """None when `dataset` can train `arch`; else the first mismatch, with the fix in its hint.

    `analysis` is arch's, when the caller has it. `explain=False` leaves out the hint of an
    Input mismatch, which tries the change on a copy (a caller that makes the fix itself
    does not need it).
    """
    from builder.shapes import analyse  # late: the core may still be loading

    node = _input_node(arch)
    if isinstance(node, BuilderError):
        return node

    def hint(change: dict, fix: str, otherwise: str) -> str | None:
        return _hint_if_clean(arch, node, change, fix, otherwise) if explain else None

    params = arch.params_of(node)
    want_shape, want_dtype = tuple(params["shape"]), params.get("dtype", "float32")
    kind = kind_of_input(dataset)
    if want_dtype != dataset.dtype:
        return BuilderError(
            f"{dataset.name} gives {kind} ({dataset.dtype}) but the Input expects {want_dtype}",
            node=node,
            field="dtype",
            hint=hint(
                {"dtype": dataset.dtype},
                f'Set the Input dtype to "{dataset.dtype}".',
                f"this network cannot take {kind}: pick a dataset of {want_dtype} inputs, or build a network for {kind}.",
            ),
        )
    if want_shape != tuple(dataset.input_shape):
        return BuilderError(
            f"{dataset.name} gives {format_shape(dataset.input_shape)} {kind} but the Input expects {format_shape(want_shape)}",
            node=node,
            field="shape",
            hint=hint(
                {"shape": list(dataset.input_shape)},
                f"Set the Input shape to {list(dataset.input_shape)}.",
                f"this network is built for {format_shape(want_shape)} inputs: pick a dataset of that shape, or change its layers for {format_shape(dataset.input_shape)}.",
            ),
        )
    analysis = analysis or analyse(arch)
    if analysis.errors:
        return analysis.errors[0]
    out = _output_node(arch)
    if isinstance(out, BuilderError):
        return out
    got = tuple(analysis.nodes[out].output_shape)
    accepted = _expected_output(dataset)
    if got in accepted:
        return None
    return _output_mismatch(arch, dataset, out, got, accepted[0])


def _hint_if_clean(arch, node: str, change: dict, fix: str, otherwise: str) -> str:
    """`fix` only when applying it to a copy leaves the whole graph analysing clean;
    else what breaks, said plainly, and `otherwise`."""
    from builder.shapes import analyse

    trial = arch.copy()
    try:
        trial.update_params(node, **change)
    except BuilderError as err:
        return f"{err.message}; {otherwise}"
    analysis = analyse(trial)
    if analysis.ok:
        return fix
    first = analysis.errors[0]
    where = f"{first.node}: " if first.node else ""
    return f"Changing the Input alone would break {where}{first.message}; {otherwise}"


def _output_mismatch(arch, dataset, out, got, want) -> BuilderError:
    target = _resizable_layer(arch, out)
    if dataset.task == "classification":
        message = f"{dataset.name} has {dataset.num_classes} classes but the output gives {format_shape(got)} values"
        fix = f"Set {target}'s out_features to {dataset.num_classes}." if target else None
    elif dataset.task == "regression":
        message = f"{dataset.name} has {format_shape(want)} targets but the output gives {format_shape(got)}"
        fix = f"Set {target}'s out_features to {want[0]}." if target and len(want) == 1 else None
    else:
        message = f"reconstruction needs the output to match the {format_shape(want)} input, but it gives {format_shape(got)}"
        fix = (
            "End the decoder with a layer that restores the input shape (e.g. Linear then Reshape)."
        )
    return BuilderError(message, node=out, hint=fix or "Change the last layer to match the data.")


def _resizable_layer(arch, out: str) -> str | None:
    """The Linear that sets the output width, walking back over activations and dropout."""
    node = out
    while True:
        if arch.type_of(node) == "Linear":
            return node
        if arch.type_of(node) not in _SHAPE_KEEPING:
            return None
        inputs = arch.inputs_of(node)
        if len(inputs) != 1:
            return None
        node = inputs[0]


def suggest_fix(arch, dataset: Dataset, *, analysis=None):
    """A fixed copy of `arch` (Input shape/dtype set, last Linear resized) or None if that is
    not enough (or nothing needs fixing). `analysis` is arch's, when the caller has it."""
    if check_compatibility(arch, dataset, analysis=analysis, explain=False) is None:
        return None
    fixed = arch.copy()
    node = _input_node(fixed)
    if isinstance(node, BuilderError):
        return None
    fixed.update_params(node, shape=list(dataset.input_shape), dtype=dataset.dtype)
    _resize_head(fixed, dataset)
    # One check of the copy with both changes: this runs on every edit of a graph that
    # does not fit the dataset, and each check analyses the whole graph.
    return fixed if check_compatibility(fixed, dataset, explain=False) is None else None


def _resize_head(arch, dataset: Dataset) -> None:
    """Sets the last Linear's width to what the task expects, unless it already gives an
    accepted one. A Linear's width does not depend on its input, so this can be decided
    before the graph is analysed."""
    if dataset.task not in ("classification", "regression"):
        return
    out = _output_node(arch)
    target = None if isinstance(out, BuilderError) else _resizable_layer(arch, out)
    if target is None:
        return
    want = _expected_output(dataset)
    if (arch.params_of(target).get("out_features"),) in want or len(want[0]) != 1:
        return
    arch.update_params(target, out_features=int(want[0][0]))
