"""The drag-and-connect canvas: Architecture <-> streamlit-flow state, as plain functions.

`build_flow_state` turns the graph (with its analysis) into what the browser draws;
`apply_flow_change` folds what the browser sends back (moves, new edges, deletions,
selection) into the Architecture. `render_canvas` is the only Streamlit part.
"""

from __future__ import annotations

import html
import time
from dataclasses import dataclass, field

from streamlit_flow.elements import StreamlitFlowEdge, StreamlitFlowNode
from streamlit_flow.state import StreamlitFlowState

from builder.errors import BuilderError
from builder.graph import Architecture
from builder.layout import layered_positions
from builder.shapes import Analysis, format_shape

MAX_KEY_PARAMS = 3
NODE_STYLE = {
    "background": "#ffffff",
    "border": "1px solid #c9d3e0",
    "borderRadius": "8px",
    "fontSize": "12px",
    "padding": "6px 8px",
    "width": "190px",
    "textAlign": "left",
}
INPUT_STYLE = {**NODE_STYLE, "background": "#eef6ff", "border": "1px solid #6aa5e8"}
ERROR_STYLE = {**NODE_STYLE, "background": "#fde8e8", "border": "2px solid #d93025"}
SELECTED_STYLE = {"boxShadow": "0 0 0 3px #ff9f1c"}
EDGE_LABEL_STYLE = {"fontSize": "10px", "fill": "#4a5568"}


def now_ms() -> int:
    """A timestamp newer than anything the browser sent, so it accepts our state."""
    return int(time.time() * 1000)


def edge_id(src: str, dst: str) -> str:
    return f"{src}->{dst}"


def key_params(arch: Architecture, node_id: str) -> str:
    """The few params a user set on the node, e.g. 'out_channels=6, kernel_size=5'."""
    params = [(k, v) for k, v in arch.user_params_of(node_id).items() if not k.startswith("_")]
    shown = ", ".join(f"{k}={_short(v)}" for k, v in params[:MAX_KEY_PARAMS])
    return shown + (", …" if len(params) > MAX_KEY_PARAMS else "")


def _short(value: object) -> str:
    if isinstance(value, list | tuple):
        return "×".join(str(v) for v in value)
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def format_count(n: int) -> str:
    """1234567 -> '1.2M', 61706 -> '61.7k', 156 -> '156'."""
    for scale, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if n >= scale:
            return f"{n / scale:.1f}{suffix}"
    return str(n)


def node_content(arch: Architecture, node_id: str, analysis: Analysis | None) -> str:
    """The Markdown a node shows: id and type, key params, output shape, params or error."""
    esc = html.escape
    lines = [f"**{esc(node_id)}** · {esc(arch.type_of(node_id))}"]
    params = key_params(arch, node_id)
    if params:
        lines.append(f"<small>{esc(params)}</small>")
    info = analysis.nodes.get(node_id) if analysis else None
    if info is not None and info.error is not None:
        reason = info.error.message + (f" {info.error.hint}" if info.error.hint else "")
        lines.append(f"<span style='color:#b3261e'>⚠ {esc(reason)}</span>")
    elif info is not None and info.output_shape is not None:
        shape = esc(format_shape(info.output_shape))
        count = f" · {format_count(info.params)} params" if info.params else ""
        lines.append(f"<code>{shape}</code>{count}")
    return "  \n".join(lines)


def build_flow_state(
    arch: Architecture,
    analysis: Analysis | None = None,
    selected: str | None = None,
    generation: int = 0,
) -> StreamlitFlowState:
    """What the canvas draws for arch: nodes with shapes and errors, edges labelled with shapes.

    Every node carries `generation` in its data, so values the browser sends back about
    an older canvas (the component echoes stale states after an update) can be told apart.
    """
    fallback = layered_positions(arch)
    nodes = []
    for node_id in arch.node_ids:
        info = analysis.nodes.get(node_id) if analysis else None
        is_input = arch.type_of(node_id) == "Input"
        style = (
            ERROR_STYLE
            if info is not None and info.error
            else INPUT_STYLE
            if is_input
            else NODE_STYLE
        )
        if node_id == selected:
            style = {**style, **SELECTED_STYLE}
        nodes.append(
            StreamlitFlowNode(
                id=node_id,
                pos=tuple(arch.pos_of(node_id) or fallback[node_id]),
                data={"content": node_content(arch, node_id, analysis), "gen": generation},
                node_type="input" if is_input else "default",
                connectable=True,
                selectable=True,
                deletable=True,
                style=dict(style),  # the library's default dict is shared: never hand it ours
            )
        )
    edges = []
    for src, dst, port, shape in _edges_with_shapes(arch, analysis):
        label = format_shape(shape) if shape is not None else ""
        edges.append(
            StreamlitFlowEdge(
                # an edge from a named output port (h_n, part1 ...) says which one it reads
                id=edge_id(src, dst) + ("" if port is None else f"-{port}"),
                source=src,
                target=dst,
                marker_end={"type": "arrowclosed"},
                deletable=True,
                label=label if port is None else f"{port} {label}".strip(),
                label_style=dict(EDGE_LABEL_STYLE),
                label_show_bg=True,
                style={},
            )
        )
    return StreamlitFlowState(nodes, edges, selected_id=selected, timestamp=now_ms())


def _edges_with_shapes(arch: Architecture, analysis):
    """(src, dst, source port or None, the shape the edge carries) for every edge."""
    for dst in arch.node_ids:
        info = analysis.nodes.get(dst) if analysis else None
        ports = arch.input_ports_of(dst)
        for i, src in enumerate(arch.inputs_of(dst)):
            shapes = info.input_shapes if info is not None else []
            if i < len(shapes):
                shape = shapes[i]
            else:  # dst has an error of its own: show what the source gives by default
                source = analysis.nodes.get(src) if analysis else None
                shape = source.output_shape if source is not None else None
            yield src, dst, ports[i], shape


def is_current(value: StreamlitFlowState, generation: int) -> bool:
    """True when the browser's state is about the canvas we sent last (not a stale echo)."""
    return all(node.data.get("gen") == generation for node in value.nodes)


@dataclass
class CanvasChange:
    """What one browser interaction did to the graph."""

    arch: Architecture
    selected: str | None
    structural: bool = False  # nodes or edges changed: record for undo, re-send the canvas
    moved: bool = False  # only positions changed: autosave, no undo step
    errors: list[BuilderError] = field(default_factory=list)


def apply_flow_change(
    arch: Architecture, value: StreamlitFlowState, selected: str | None
) -> CanvasChange:
    """Fold the browser's state into a copy of arch.

    Nodes missing from the browser are deleted (with their edges, including the
    dangling ones the library leaves behind), new edges are connected (refused ones
    come back as errors), moved nodes get their new positions.
    """
    new = arch.copy()
    change = CanvasChange(new, selected)
    browser_nodes = {n.id: n for n in value.nodes}
    for node_id in arch.node_ids:
        if node_id not in browser_nodes:
            new.remove_node(node_id)
            change.structural = True
    browser_edges = [
        (e.source, e.target) for e in value.edges if e.source in new and e.target in new
    ]
    for src, dst in new.edges:
        if (src, dst) not in browser_edges:
            new.disconnect(src, dst)
            change.structural = True
    for src, dst in browser_edges:
        if not new.graph.has_edge(src, dst):
            try:
                new.connect(src, dst)
                change.structural = True
            except BuilderError as err:
                change.errors.append(err)
    for node_id, node in browser_nodes.items():
        if node_id in new:
            pos = (round(node.position["x"], 1), round(node.position["y"], 1))
            if new.pos_of(node_id) is None or tuple(new.pos_of(node_id)) != pos:
                new.set_pos(node_id, pos)
                change.moved = True
    change.selected = _selection_after(new, value.selected_id, selected)
    return change


def _selection_after(arch: Architecture, clicked: str | None, before: str | None) -> str | None:
    """A clicked node becomes selected; anything else keeps the selection.

    The component also reports "nothing selected" when it merely echoes a state we sent,
    which cannot be told apart from a click on the empty canvas, so clearing the
    selection is an explicit button in the inspector.
    """
    if clicked in arch:
        return clicked
    return before if before in arch else None
