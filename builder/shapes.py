"""Shape inference and model statistics over an Architecture, using each layer's own rule."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from .errors import BuilderError, BuilderWarning
from .graph import Architecture
from .layers import get_spec
from .layers.base import Shape, ShapeError, fmt_shape
from .layers.init import INIT_HELP, parse_init
from .sharing import analysed, sharing_errors

LARGE_LAYER_PARAMS = 50_000_000
MAX_MODEL_BYTES = 4 * 1024**3  # float32 weights; refused before anything is allocated
MAX_VALUES_PER_SAMPLE = 10**9  # one layer's output for one sample (4 GB as float32)
INTERNAL_ERROR = "LayerCraft could not work out this layer's output shape"


@dataclass
class NodeInfo:
    """What analysis found for one node."""

    id: str
    type: str
    input_shapes: list[Shape] = field(default_factory=list)
    output_shape: Shape | None = None
    dtype: str = "float32"
    params: int = 0
    macs: int = 0
    error: BuilderError | None = None
    # Multi-output nodes: each output port's shape, default port first (empty: one output).
    port_shapes: dict[str, Shape] = field(default_factory=dict)
    # For each input: the source's output port it reads, by name (None: its only/default one).
    input_ports: list[str | None] = field(default_factory=list)


@dataclass
class Analysis:
    """Per-node shapes, parameter and MAC counts, errors and warnings for a whole graph."""

    nodes: dict[str, NodeInfo]
    errors: list[BuilderError]
    warnings: list[BuilderWarning]
    outputs: list[str]
    order: list[str] = field(default_factory=list)  # topological, as analysed

    @property
    def ok(self) -> bool:
        """True when the graph has no errors."""
        return not self.errors

    @property
    def total_params(self) -> int:
        """Trainable parameters of the whole model."""
        return sum(info.params for info in self.nodes.values())

    @property
    def total_macs(self) -> int:
        """Multiply-accumulates for one sample."""
        return sum(info.macs for info in self.nodes.values())

    def shape_of(self, node_id: str) -> Shape | None:
        """A node's output shape, None when it has an error."""
        return self.nodes[node_id].output_shape


def analyse(arch: Architecture) -> Analysis:
    """Infer every node's shape and counts; problems are collected, never raised."""
    nodes: dict[str, NodeInfo] = {}
    errors: list[BuilderError] = []
    order = arch.topological_order()
    for node_id in order:
        info = _analyse_node(arch, node_id, nodes)
        nodes[node_id] = info
        if info.error is not None:
            errors.append(info.error)
    errors.extend(_graph_errors(arch, nodes))
    analysis = Analysis(nodes, errors, [], arch.output_nodes(), order)
    analysis.warnings = find_warnings(arch, analysis)
    return analysis


def infer_shapes(arch: Architecture) -> dict[str, Shape]:
    """Every node's output shape; raises the first problem as a BuilderError."""
    analysis = analyse(arch)
    if analysis.errors:
        raise analysis.errors[0]
    return {n: info.output_shape for n, info in analysis.nodes.items()}


def _analyse_node(arch: Architecture, node_id: str, done: dict[str, NodeInfo]) -> NodeInfo:
    type_name = arch.type_of(node_id)
    spec = get_spec(type_name)
    info = NodeInfo(node_id, type_name)
    inputs = arch.inputs_of(node_id)
    if len(inputs) < spec.min_inputs:
        needed = "an input" if spec.min_inputs == 1 else f"at least {spec.min_inputs} inputs"
        info.error = BuilderError(
            f"needs {needed} but has {len(inputs)}",
            node=node_id,
            hint="Connect a layer into it." if not inputs else "Connect another branch into it.",
        )
        return info
    upstream = [done[src] for src in inputs]
    if any(u.output_shape is None for u in upstream):
        return info  # the upstream node carries the error; don't repeat it here
    try:
        info.input_ports = [
            _resolve_port(done[src], port, (src, node_id))
            for src, port in zip(inputs, arch.input_ports_of(node_id), strict=True)
        ]
    except BuilderError as exc:
        info.error = exc
        return info
    info.input_shapes = [
        u.port_shapes[port] if port is not None else u.output_shape
        for u, port in zip(upstream, info.input_ports, strict=True)
    ]
    params = arch.params_of(node_id)
    try:
        _check_min_rank(spec, info.input_shapes)
        _check_inits(spec, params)
        _check_tuple_lengths(spec, params)
        info.dtype = _check_dtype(spec, node_id, params, [u.dtype for u in upstream])
        info.output_shape = tuple(spec.infer_shape(info.input_shapes, params))
        _check_positive(info.output_shape)
        if spec.output_ports is not None:
            info.port_shapes = {
                name: tuple(shape)
                for name, shape in spec.output_ports(info.input_shapes, params).items()
            }
            for shape in info.port_shapes.values():
                _check_positive(shape)
        # A sharer calls its owner's layer: the weights are counted once, there.
        info.params = 0 if params.get("shares") else spec.count_params(info.input_shapes, params)
        info.macs = spec.count_macs(info.input_shapes, info.output_shape, params)
    except ShapeError as exc:
        info.output_shape = None
        # A rule may name the node in its hint as "{node}" ("Insert Flatten before fc1.").
        hint = exc.hint.replace("{node}", node_id) if exc.hint else None
        info.error = BuilderError(str(exc), node=node_id, hint=hint)
    except BuilderError as exc:
        info.output_shape = None
        exc.node = exc.node or node_id
        info.error = exc
    except (ArithmeticError, LookupError, TypeError, ValueError) as exc:
        # A rule that crashes is a LayerCraft bug, but the user still gets a message, not a
        # traceback (the fuzz tests fail on this text, so such bugs are found).
        info.output_shape = None
        info.error = BuilderError(
            f"{INTERNAL_ERROR} ({type(exc).__name__}: {str(exc)[:80]})",
            node=node_id,
            hint="Try other settings for this layer.",
        )
    return info


def _resolve_port(source: NodeInfo, port, edge: tuple[str, str]) -> str | None:
    """The output port name an edge reads (None: the source's only or default output)."""
    names = list(source.port_shapes)
    spec = get_spec(source.type)
    if port is None:
        if spec.needs_port:
            raise BuilderError(
                f"{edge[0]} has several outputs ({', '.join(names)})",
                edge=edge,
                hint='Pick one with "source_port" on the edge, e.g. "source_port": 0.',
            )
        return None
    if not names:
        raise BuilderError(
            f"{edge[0]} ({source.type}) has one output, so it has no port {port!r}",
            edge=edge,
            hint='Remove "source_port" from the edge.',
        )
    if isinstance(port, int):
        if port >= len(names):
            raise BuilderError(
                f"{edge[0]} has {len(names)} outputs, so there is no output {port}",
                edge=edge,
                hint=f"Use an index below {len(names)} or a name: {', '.join(names)}.",
            )
        port = names[port]
    if port not in names:
        raise BuilderError(
            f"{edge[0]} has no output named {port!r}",
            edge=edge,
            hint=f"Its outputs: {', '.join(names)}.",
        )
    return None if port == names[0] and not spec.needs_port else port


def _check_min_rank(spec, shapes) -> None:
    if any(len(shape) < spec.min_rank for shape in shapes):
        raise ShapeError(
            "gets one value per sample (N,) but needs at least one more dimension",
            "Insert unsqueeze (dim 1) or Reshape before {node}.",
        )


def _check_inits(spec, params) -> None:
    for name, tensor in (("weight_init", "weight"), ("bias_init", "bias")):
        if not params.get(name):
            continue
        if tensor == "bias" and params.get("bias") is False:
            raise ShapeError("has bias_init but no bias", "Turn bias on, or clear bias_init.")
        for switch in ("affine", "elementwise_affine"):  # a norm without its scale and shift
            if params.get(switch) is False:
                raise ShapeError(
                    f"has {name} but no {tensor} ({switch} is off)",
                    f"Turn {switch} on, or clear {name}.",
                )
        try:
            parse_init(params[name])
        except ValueError as exc:
            raise BuilderError(str(exc), field=name, hint=INIT_HELP) from None


def _check_tuple_lengths(spec, params) -> None:
    """A list for a kernel/stride/padding must give one size per spatial dimension."""
    for param in spec.params:
        value = params.get(param.name)
        is_list = param.kind == "int_or_tuple" and isinstance(value, list | tuple)
        if is_list and len(value) != spec.spatial_dims:
            sizes = "one size" if spec.spatial_dims == 1 else f"{spec.spatial_dims} sizes"
            raise BuilderError(
                f"needs one number or {sizes}, not {len(value)}",
                field=param.name,
                hint=f"Write e.g. {param.name}: 3.",
            )


def _check_dtype(spec, node_id, params, input_dtypes) -> str:
    if spec.type == "Input":
        return params["dtype"]
    if spec.input_dtype == "any":
        return spec.output_dtype(params) if spec.output_dtype else input_dtypes[0]
    for dtype in input_dtypes:
        if dtype != spec.input_dtype:
            if dtype == "int64":
                raise ShapeError("gets integer token ids", "Put an Embedding before {node}.")
            raise ShapeError(
                "expects integer token ids but gets float values",
                'Set the Input dtype to "int64" and feed it token ids.',
            )
    return spec.output_dtype(params) if spec.output_dtype else "float32"


def _check_positive(shape: Shape) -> None:
    # An empty shape is one value per sample, (N,): a discriminator's score, a loss term.
    if any(size < 1 for size in shape):
        raise ShapeError(
            f"would produce an empty output ({fmt_shape(shape)})",
            "Use a smaller kernel or stride, or more padding.",
        )
    if math.prod(shape) > MAX_VALUES_PER_SAMPLE:
        raise ShapeError(
            f"would produce {math.prod(shape):,} values per sample ({fmt_shape(shape)}), "
            "more than fits in memory",
            "Use fewer channels, a larger stride, or pool first.",
        )


def _graph_errors(arch: Architecture, nodes: dict[str, NodeInfo]) -> list[BuilderError]:
    errors = [
        *_output_errors(arch),
        *_tied_weight_errors(arch, nodes),
        *sharing_errors(arch, nodes),
    ]
    if not arch.input_nodes():
        errors.append(
            BuilderError("the network has no Input node", hint="Add an Input from the palette.")
        )
    total = sum(info.params for info in nodes.values())
    if total * 4 > MAX_MODEL_BYTES:
        errors.append(
            BuilderError(
                f"{total:,} parameters would need {total * 4 / 1024**3:.1f} GiB, more than the "
                f"{MAX_MODEL_BYTES // 1024**3} GiB LayerCraft allows",
                hint="Make the largest layers smaller.",
            )
        )
    return errors


def _output_errors(arch: Architecture) -> list[BuilderError]:
    errors = []
    for node_id in arch.node_ids:
        if arch.type_of(node_id) == "Output" and arch.outputs_of(node_id):
            errors.append(
                BuilderError(
                    "an Output ends the network, so nothing may read from it",
                    node=node_id,
                    hint="Connect the layer before the Output instead.",
                )
            )
    for node_id in arch.output_nodes():
        if get_spec(arch.type_of(node_id)).needs_port:
            errors.append(
                BuilderError(
                    "its parts are the network's output, but a split has no single output",
                    node=node_id,
                    hint="Connect each part you need (source_port) to an Output node.",
                )
            )
    return errors


def _tied_weight_errors(arch: Architecture, nodes: dict[str, NodeInfo]) -> list[BuilderError]:
    """A weight tied to another node's must exist there and have the same shape."""
    errors = []
    for node_id in arch.node_ids:
        target = arch.params_of(node_id).get("tie_weight_to")
        if not target:
            continue
        error = _tie_problem(arch, nodes, node_id, target)
        if error:
            errors.append(
                BuilderError(error[0], node=node_id, field="tie_weight_to", hint=error[1])
            )
    return errors


def _tie_problem(arch, nodes, node_id, target) -> tuple[str, str] | None:
    if target not in arch or arch.type_of(target) != "Embedding":
        return (
            f"there is no Embedding named {target!r} to share a weight with",
            "Give the id of an Embedding node.",
        )
    owner = arch.params_of(target).get("shares")
    if owner:
        return f"{target} uses {owner}'s weights", f"Tie the weight to {owner}."
    mine, theirs = nodes.get(node_id), nodes.get(target)
    if not (analysed(mine) and analysed(theirs)):
        return None  # an unconnected or broken node already has its own error
    params = arch.params_of(target)
    wanted = (params["num_embeddings"], params["embedding_dim"])
    have = (arch.params_of(node_id)["out_features"], mine.input_shapes[0][-1])
    if wanted != have:
        return (
            f"its weight is {have[0]}x{have[1]} but {target}'s is {wanted[0]}x{wanted[1]}",
            f"Set out_features to {wanted[0]} and feed it {wanted[1]} features.",
        )
    return None


def find_warnings(arch: Architecture, analysis: Analysis) -> list[BuilderWarning]:
    """Common mistakes that still build: each names the node and suggests a fix."""
    warnings = []
    for node_id in analysis.order or arch.topological_order():
        type_name = arch.type_of(node_id)
        succ_types = [arch.type_of(s) for s in arch.outputs_of(node_id)]
        if type_name == "Softmax" and _is_sole_result(arch, node_id):
            warnings.append(
                BuilderWarning(
                    "Softmax as the last layer of a classifier: cross-entropy applies softmax itself, "
                    "so training gets weak gradients",
                    node=node_id,
                    hint="Remove it and train on the raw scores (logits).",
                )
            )
        # One Linear straight into another collapses; parallel heads (a VAE's mu and logvar)
        # read a shared trunk, which is a deliberate factorisation, so they do not count.
        if type_name == "Linear" and succ_types == ["Linear"]:
            warnings.append(
                BuilderWarning(
                    "two Linear layers with nothing between them collapse into one linear map",
                    node=node_id,
                    hint="Add an activation such as ReLU between them.",
                )
            )
        if type_name in ("Dropout", "Dropout2d") and any(
            t.startswith("BatchNorm") for t in succ_types
        ):
            warnings.append(
                BuilderWarning(
                    "Dropout right before BatchNorm skews its running statistics",
                    node=node_id,
                    hint="Put the Dropout after the BatchNorm instead.",
                )
            )
        if type_name in ("RNN", "LSTM", "GRU"):
            params = arch.params_of(node_id)
            if params["dropout"] > 0 and params["num_layers"] == 1:
                warnings.append(
                    BuilderWarning(
                        "dropout only acts between stacked layers, so it does nothing here",
                        node=node_id,
                        hint="Raise num_layers above 1, or add a Dropout layer after it.",
                    )
                )
        owner = arch.params_of(node_id).get("shares")
        if owner and not arch.trainable_of(node_id) and arch.trainable_of(owner):
            warnings.append(
                BuilderWarning(
                    f"is frozen, but its weights are {owner}'s, which still train",
                    node=node_id,
                    hint=f"Freeze {owner} to keep the shared weights fixed.",
                )
            )
        info = analysis.nodes.get(node_id)
        if info is not None and info.params > LARGE_LAYER_PARAMS:
            warnings.append(
                BuilderWarning(
                    f"has {info.params:,} parameters, over {LARGE_LAYER_PARAMS // 1_000_000}M",
                    node=node_id,
                    hint="Training will be slow and memory-hungry; shrink it or pool first.",
                )
            )
    return warnings + _dead_node_warnings(arch)


def _is_sole_result(arch: Architecture, node_id: str) -> bool:
    """Whether the node's value is the network's only output (a classifier's last layer),
    rather than one of several (attention weights returned beside the real result)."""
    outputs = arch.output_nodes()
    if outputs == [node_id]:
        return True
    return (
        len(outputs) == 1
        and arch.type_of(outputs[0]) == "Output"
        and (arch.inputs_of(outputs[0]) == [node_id] and len(arch.outputs_of(node_id)) == 1)
    )


def _dead_node_warnings(arch: Architecture) -> list[BuilderWarning]:
    if not any(arch.type_of(n) == "Output" for n in arch.node_ids):
        return []
    live = arch.live_nodes()
    return [
        BuilderWarning(
            "no Output depends on it, so forward() leaves it out",
            node=node_id,
            hint="Connect it towards an Output, or delete it.",
        )
        for node_id in arch.node_ids
        if node_id not in live and arch.type_of(node_id) != "Input"
    ]


def format_shape(shape: Shape | None) -> str:
    """Shape as users read it: '(6, 28, 28)'; '—' when unknown."""
    if shape is None:
        return "—"
    return "(" + ", ".join(map(str, shape)) + ("," if len(shape) == 1 else "") + ")"


def format_count(n: int) -> str:
    """1234567 -> '1.2M', 61706 -> '61.7k', 156 -> '156'."""
    for scale, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if n >= scale:
            return f"{n / scale:.1f}{suffix}"
    return str(n)
