"""Model summary table (layer, type, output shape, params, MACs, totals) and the core's warnings."""

from __future__ import annotations

import streamlit as st

from builder.graph import Architecture
from builder.shapes import Analysis, format_shape


def summary_rows(arch: Architecture, analysis: Analysis) -> list[dict[str, object]]:
    """One row per layer in forward order, for the summary table."""
    rows = []
    for node_id in arch.topological_order():
        info = analysis.nodes[node_id]
        rows.append(
            {
                "layer": node_id,
                "type": info.type,
                "output shape": format_shape(info.output_shape)
                if info.error is None
                else "⚠ error",
                "params": info.params,
                "MACs": info.macs,
            }
        )
    return rows


def totals_line(analysis: Analysis) -> str:
    """'61,706 parameters (241.0 KiB as float32) · 416,520 MACs per sample'."""
    kib = analysis.total_params * 4 / 1024
    size = f"{kib / 1024:.1f} MiB" if kib >= 1024 else f"{kib:.1f} KiB"
    return (
        f"**{analysis.total_params:,}** parameters ({size} as float32) · "
        f"**{analysis.total_macs:,}** MACs per sample"
    )


def render_problems(analysis: Analysis) -> None:
    """Errors (the model cannot build) then warnings (it builds, but look again)."""
    for err in analysis.errors:
        st.error(str(err), icon=":material/error:")
    for warning in analysis.warnings:
        st.warning(str(warning), icon=":material/warning:")
    if analysis.ok and not analysis.warnings:
        st.success("The network is valid: every shape fits.", icon=":material/check_circle:")


# Up to this many layers the per-layer table starts open. Past it the table starts folded:
# a 200-row table is read on demand, and drawn on every edit it was the largest part of the
# browser's redraw after the canvas (bench/canvas_roundtrip.py).
OPEN_TABLE_UP_TO = 60


def render_summary(arch: Architecture, analysis: Analysis) -> None:
    st.subheader("Model summary")
    render_problems(analysis)
    st.markdown(totals_line(analysis))
    render_layer_table(arch, analysis)


def render_layer_table(arch: Architecture, analysis: Analysis) -> None:
    """The per-layer table in an expander that keeps the user's choice; folded, it is not
    built or sent at all (the expander reruns the tab when opened)."""
    table = st.expander(
        f"Per-layer table ({len(analysis.nodes)} layers)",
        expanded=len(analysis.nodes) <= OPEN_TABLE_UP_TO,
        key="summary_table",
        on_change="rerun",
        icon=":material/table_rows:",
    )
    if not table.open:
        return
    table.dataframe(
        summary_rows(arch, analysis),
        hide_index=True,
        width="stretch",
        column_config={
            "params": st.column_config.NumberColumn(format="localized"),
            "MACs": st.column_config.NumberColumn(format="localized"),
        },
    )
