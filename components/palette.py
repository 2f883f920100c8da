"""The layer palette: categories with search; a click inserts the layer after the selection."""

from __future__ import annotations

import networkx as nx
import streamlit as st

from builder import blocks, groups
from builder.errors import BuilderError
from builder.graph import Architecture
from builder.layers import REGISTRY, specs_by_category
from builder.layers.base import LayerSpec
from builder.layout import place_inserted

from . import state

S = st.session_state
BLOCK_PREFIX = "block_"  # the canvas makes buttons keyed block_<slug> draggable
CATEGORY_TITLES = {
    "core": "Core",
    "convolution": "Convolution & pooling",
    "normalisation": "Normalisation & dropout",
    "activation": "Activations",
    "sequence": "Sequence",
    "merge": "Merge",
    "tensor": "Tensor ops",
}


def matching_specs(query: str) -> dict[str, list[LayerSpec]]:
    """Palette entries whose type, category or help contains the query (case-insensitive)."""
    words = query.lower().split()
    result = {}
    for category, specs in specs_by_category().items():
        hits = [
            s for s in specs if all(w in f"{s.type} {s.category} {s.help}".lower() for w in words)
        ]
        if hits:
            result[category] = hits
    return result


def add_layer(arch: Architecture, type_name: str, selected: str | None) -> str:
    """Insert a layer after the selected node (between it and its successors and wired).

    With nothing selected (or for an Input) the layer is placed unconnected beside the
    graph, ready to be wired by dragging from handle to handle.
    """
    if selected in arch and type_name != "Input":
        new_id = arch.insert_after(selected, type_name)
        place_inserted(arch, selected, new_id)
        return new_id
    return arch.add_node(type_name, pos=_free_spot(arch))


def _free_spot(arch: Architecture) -> tuple[float, float]:
    """Right of the rightmost node, level with the lowest one."""
    spots = [p for n in arch.node_ids if (p := arch.pos_of(n)) is not None]
    if not spots:
        return (0.0, 0.0)
    return (max(x for x, _ in spots) + 260, max(y for _, y in spots))


def insert_point(arch: Architecture) -> str | None:
    """The node a click inserts after: the selected one, or a selected block's output."""
    picked = S.get("selected")
    if picked in arch:
        return picked
    group = groups.find(arch, picked)
    exits = groups.exits(arch, group) if group else []
    return exits[0] if len(exits) == 1 else None


def _on_click(type_name: str) -> None:
    new = S.arch.copy()
    try:
        node_id = add_layer(new, type_name, insert_point(new))
    except Exception as err:  # BuilderError: shown as a notice, the graph stays as it was
        state.notify("error", str(err))
        return
    _shift_below(new, node_id)
    S.selected = node_id
    state.commit(new)


def _shift_below(arch: Architecture, new_id: str) -> None:
    """Push the new node's descendants down a row so nothing overlaps."""
    pos = arch.pos_of(new_id)
    if pos is None:
        return
    for node_id in nx.descendants(arch.graph, new_id):
        p = arch.pos_of(node_id)
        if p is not None and p[1] >= pos[1]:
            arch.set_pos(node_id, (p[0], p[1] + 110))


def _on_block_click(slug: str) -> None:
    new = S.arch.copy()
    after = insert_point(new)
    try:
        block = blocks.load_block(slug)
        if after is None:
            gid = blocks.insert_block(new, block, at=_free_spot(new))
        else:
            gid = blocks.insert_block_after(new, block, after)
    except BuilderError as err:  # a broken block file or a refused wire: the graph stays
        state.notify("error", str(err))
        return
    S.selected = gid
    state.commit(new)
    if after is not None:
        state.request_layout()


def render_my_blocks() -> None:
    """Saved blocks, inserted like layers (click) or dropped on the canvas (drag)."""
    saved = blocks.list_blocks()
    with st.expander(f"My blocks ({len(saved)})", expanded=bool(saved)):
        if not saved:
            st.caption("Group layers on the canvas (Ctrl/Cmd+G), then *Save to My blocks*.")
        for block in saved:
            st.button(
                f"{block.name} · {block.layers}",
                key=f"{BLOCK_PREFIX}{block.slug}",
                help=f"{block.layers} layers; click to insert after the selection, or drag.",
                on_click=_on_block_click,
                args=(block.slug,),
                icon=":material/widgets:",
                width="stretch",
            )


def render_palette() -> None:
    """Sidebar palette: a search box and one expander per category."""
    st.subheader("Layers")
    query = st.text_input(
        "Search layers",
        placeholder="conv, norm, lstm…",
        key="palette_search",
        label_visibility="collapsed",
    )
    # Fixed words, not the selected node's id: selecting on the canvas reruns only the
    # Build tab, so a caption naming the selection would go stale.
    st.caption(
        "Click a layer to insert it after the selected node (unconnected when none is), "
        "or drag it onto the canvas."
    )
    render_my_blocks()
    groups = matching_specs(query)
    if not groups:
        st.caption("No layer matches.")
    for category, specs in groups.items():
        # Every category draws its buttons, open or not: each palette item carries
        # data-layer-type in the page (a contract other checks rely on). A search opens
        # the categories it matches.
        with st.expander(CATEGORY_TITLES.get(category, category), expanded=bool(query)):
            _layer_buttons(specs)


def _layer_buttons(specs: list[LayerSpec]) -> None:
    cols = st.columns(2)
    for i, spec in enumerate(specs):
        cols[i % 2].button(
            spec.type,
            key=f"add_{spec.type}",
            help=spec.help,
            on_click=_on_click,
            args=(spec.type,),
            width="stretch",
        )


__all__ = ["REGISTRY", "add_layer", "matching_specs", "render_palette"]
