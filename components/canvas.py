"""What the canvas component draws: the analysed graph as plain JSON-ready dicts.

`node_payload` is the one place a node's payload is made; other features extend it through
`extras` (e.g. {"frozen": True}, {"searched": True}, a live tint). Nothing here imports
Streamlit, so it is tested without a browser.
"""

from __future__ import annotations

from typing import Any

from builder import groups
from builder.errors import sentences
from builder.graph import Architecture
from builder.layers import get_spec
from builder.layers.base import LayerSpec
from builder.search.space import searched_nodes
from builder.shapes import Analysis, format_count, format_shape

from .canvas_blocks import fold_collapsed, group_summaries

MAX_KEY_PARAMS = 3
DIRECTIONS = ("DOWN", "RIGHT")
CATEGORY_COLOURS = {
    "core": "#4c6ef5",
    "convolution": "#0c8599",
    "normalisation": "#7048e8",
    "activation": "#e8590c",
    "sequence": "#2b8a3e",
    "merge": "#c2255c",
}
INPUT_COLOUR = "#1971c2"
OTHER_COLOUR = "#868e96"
# Optional booleans other features set on a node (trainable switch, search space).
BADGES = ("frozen", "searched")


def _short(value: object) -> str:
    if isinstance(value, list | tuple):
        return "×".join(str(v) for v in value)
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def key_params(arch: Architecture, node_id: str) -> str:
    """The few params a user set on the node, e.g. 'out_channels=6, kernel_size=5'."""
    params = [(k, v) for k, v in arch.user_params_of(node_id).items() if not k.startswith("_")]
    params.sort(key=lambda kv: kv[0] != "shares")  # whose weights it uses matters most
    shown = ", ".join(f"{k}={_short(v)}" for k, v in params[:MAX_KEY_PARAMS])
    return shown + (", …" if len(params) > MAX_KEY_PARAMS else "")


def node_colour(spec: LayerSpec) -> str:
    """The category colour of a layer type (Input has its own)."""
    if spec.type == "Input":
        return INPUT_COLOUR
    return CATEGORY_COLOURS.get(spec.category, OTHER_COLOUR)


def ports_of(spec: LayerSpec, n_inputs: int) -> list[dict[str, Any]]:
    """Target handles: one per input; a layer taking any number gets one spare more.

    A spec may name its ports (`input_names`: input, h_0, c_0); otherwise multi-input
    ports are numbered.
    """
    if spec.max_inputs == 0:
        return []
    if spec.max_inputs == 1:
        return [{"id": "in0", "label": "", "spare": False}]
    names = spec.input_names
    count = spec.max_inputs if spec.max_inputs is not None else max(n_inputs, spec.min_inputs)
    ports = [
        {"id": f"in{i}", "label": names[i] if i < len(names) else str(i + 1), "spare": False}
        for i in range(count)
    ]
    if spec.max_inputs is None:
        ports.append({"id": f"in{count}", "label": "+", "spare": True})
    return ports


def output_handles(spec: LayerSpec, port_shapes: dict[str, Any]) -> list[dict[str, Any]]:
    """Source handles of a node with named outputs (h_n, part1 ...), one per output.

    The first output keeps the plain `out` handle where an edge without a port reads it;
    the others are `out:<name>`. A single-output node has no list: it shows one `out`.
    """
    handles = []
    for i, (name, shape) in enumerate(port_shapes.items()):
        plain = i == 0 and not spec.needs_port
        handles.append(
            {"id": "out" if plain else f"out:{name}", "label": name, "shape": format_shape(shape)}
        )
    return handles


def source_handle(spec: LayerSpec, port_names: list[str], source_port: str | int | None) -> str:
    """The handle an edge leaves from: `out`, or `out:<name>` for a named output port."""
    if source_port is None or not port_names:
        return "out"
    name = port_names[source_port] if isinstance(source_port, int) else source_port
    if name == port_names[0] and not spec.needs_port:
        return "out"
    return f"out:{name}"


def node_payload(
    arch: Architecture,
    node_id: str,
    analysis: Analysis | None,
    extras: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Everything the canvas shows for one node; `extras` adds or overrides fields."""
    spec = get_spec(arch.type_of(node_id))
    info = analysis.nodes.get(node_id) if analysis else None
    error = None
    if info is not None and info.error is not None:
        error = sentences(info.error.message, info.error.hint)  # one full stop between
    shape = info.output_shape if info is not None else None
    pos = arch.pos_of(node_id)
    payload = {
        "id": node_id,
        "type": spec.type,
        "category": spec.category,
        "color": node_colour(spec),
        "params": arch.user_params_of(node_id),
        "summary": key_params(arch, node_id),
        "shape": format_shape(shape) if shape is not None else None,
        "param_count": format_count(info.params) if info is not None and info.params else None,
        "error": error,
        "fix": None,
        "ports": ports_of(spec, len(arch.inputs_of(node_id))),
        "has_output": True,
        "out_ports": output_handles(spec, info.port_shapes) if info is not None else [],
        "pos": list(pos) if pos is not None else None,
        "tint": None,
        "stat": None,
    }
    payload.update(extras or {})
    for badge in BADGES:
        payload[badge] = bool(payload.get(badge, False))
    return payload


def edge_id(src: str, dst: str) -> str:
    return f"{src}->{dst}"


def edge_payloads(arch: Architecture, analysis: Analysis | None) -> list[dict[str, Any]]:
    """Edges with their port on the target and the shape they carry as a label; an edge
    from a named output port (h_n, part1 ...) says which one it reads."""
    edges = []
    for dst in arch.node_ids:
        info = analysis.nodes.get(dst) if analysis else None
        shapes = info.input_shapes if info is not None else []
        source_ports = arch.input_ports_of(dst)
        for port, src in enumerate(arch.inputs_of(dst)):
            if port < len(shapes):
                shape = shapes[port]
            else:  # dst has an error of its own: show what the source gives by default
                source = analysis.nodes.get(src) if analysis else None
                shape = source.output_shape if source is not None else None
            label = format_shape(shape) if shape is not None else ""
            source_port = source_ports[port]
            source = analysis.nodes.get(src) if analysis else None
            names = list(source.port_shapes) if source is not None else []
            edges.append(
                {
                    "id": edge_id(src, dst) + ("" if source_port is None else f"-{source_port}"),
                    "source": src,
                    "target": dst,
                    "target_port": port,
                    "source_port": source_port,
                    "source_handle": source_handle(get_spec(arch.type_of(src)), names, source_port),
                    "label": label if source_port is None else f"{source_port} {label}".strip(),
                }
            )
    return edges


def canvas_payload(
    arch: Architecture,
    analysis: Analysis | None,
    *,
    rev: int,
    selected: list[str] | None = None,
    node_extras: dict[str, dict[str, Any]] | None = None,
    **view: Any,
) -> dict[str, Any]:
    """The whole `data` the component gets. `view` sets the non-graph fields."""
    extras = node_extras or {}
    marks = graph_badges(arch)
    nodes, edges = fold_collapsed(
        arch,
        analysis,
        [
            node_payload(arch, n, analysis, {**marks.get(n, {}), **extras.get(n, {})})
            for n in arch.node_ids
        ],
        edge_payloads(arch, analysis),
    )
    data = {
        "rev": rev,
        "nodes": nodes,
        "edges": edges,
        "groups": group_summaries(arch, analysis),
        "selected": [n for n in (selected or []) if groups.selectable(arch, n)],
        "direction": layout_direction(arch),
        "layout_request": 0,
        "refusal": None,
        "legend": None,
        "banner": None,
        "live": False,
        "live_rev": 0,
        "height": 700,
        "palette_prefix": "add_",
        "file_stem": "network",
        "ack": None,
    }
    data.update(view)
    return data


def graph_badges(arch: Architecture) -> dict[str, dict[str, bool]]:
    """The badges the graph itself sets: ❄ on a frozen layer, ⚲ on a node AutoML searches."""
    badges: dict[str, dict[str, bool]] = {}
    for node_id in searched_nodes(arch) if arch.search else ():
        badges.setdefault(node_id, {})["searched"] = True
    for node_id in arch.node_ids:
        if not arch.trainable_of(node_id):
            badges.setdefault(node_id, {})["frozen"] = True
    return badges


def layout_direction(arch: Architecture) -> str:
    """The graph's layout direction ("DOWN" unless the graph says "RIGHT")."""
    direction = getattr(arch, "layout", {}).get("direction", "DOWN")
    return direction if direction in DIRECTIONS else "DOWN"
