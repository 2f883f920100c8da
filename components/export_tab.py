"""Export: the generated code, highlighted, and downloads of model.py, graph.json, weights, zip."""

from __future__ import annotations

import streamlit as st

from builder import export
from builder.codegen import generate_source
from builder.errors import BuilderError
from builder.graph import Architecture

from . import state
from .project import download_name

S = st.session_state


def weights_bytes(model) -> bytes:
    """The trained weights as a safetensors file (no pickle: safe to share and to load)."""
    from safetensors.torch import save

    tensors = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    return save(tensors)


def _weights_once(model) -> bytes:
    """weights_bytes, kept until the model or its training step changes (reruns are many)."""
    trainer = S.get("trainer")
    key = (id(model), getattr(trainer, "global_step", None))
    cached = S.get("weights_export")
    if cached is None or cached[0] != key:
        cached = S.weights_export = (key, weights_bytes(model))
    return cached[1]


def bundle_bytes(arch: Architecture, trainer, plan=None) -> bytes:
    """The export bundle as a zip; with the trained model and its settings when they fit."""
    kwargs = {}
    if trainer is not None and getattr(trainer, "model", None) is not None:
        kwargs = {"config": trainer.config, "dataset": trainer.dataset}
    if plan is not None:
        arch, kwargs["model"], kwargs["note"] = plan.arch, plan.model, plan.note
    return export.bundle_zip(arch, **kwargs)


def _plan(arch: Architecture, trainer):
    """What to export: the current graph, or the last run's when the user picks it."""
    trained = trainer is not None and getattr(trainer, "model", None) is not None
    if not trained:
        return export.plan_export(arch)
    plan = export.plan_export(arch, trainer.arch, trainer.model)
    if not plan.changed:
        return plan
    st.warning(plan.note, icon=":material/sync_problem:")
    which = st.radio(
        "Export",
        ["current", "last_run"],
        format_func={
            "current": "the current graph (no trained weights)",
            "last_run": "the last run's graph with its trained weights",
        }.get,
        horizontal=True,
        key="export_which",
        persist_state="session",
    )
    return export.plan_export(arch, trainer.arch, trainer.model, use=which)


def _source(arch: Architecture) -> str:
    """generate_source, once per graph object (each edit makes a new one; every rerun of the
    page draws this tab)."""
    cached = S.get("export_source")
    if cached is None or cached[0] is not arch or cached[1] != S.get("version"):
        cached = S.export_source = (arch, S.get("version"), generate_source(arch))
    return cached[2]


def render_export() -> None:
    arch = state.arch()
    analysis = state.analysis()
    if not analysis.ok:
        st.error(
            f"The network has {len(analysis.errors)} problem(s); fix them on the Build tab to export it. "
            f"First: {analysis.errors[0]}",
            icon=":material/error:",
        )
        return
    try:
        source = _source(arch)
    except BuilderError as err:
        st.error(str(err), icon=":material/error:")
        return
    trainer = S.get("trainer")
    plan = _plan(arch, trainer)
    if plan.arch is not arch:
        arch, source = plan.arch, _source(plan.arch)
    trained = plan.model is not None
    st.markdown(
        "The code below is exactly what trains in this app: plain PyTorch, no LayerCraft import."
    )
    cols = st.columns(4)
    cols[0].download_button(
        "model.py",
        icon=":material/download:",
        data=source,
        file_name="model.py",
        mime="text/x-python",
        key="dl_model",
        on_click="ignore",  # a download needs no rerun (see project.py)
        width="stretch",
    )
    cols[1].download_button(
        "graph.json",
        icon=":material/download:",
        # Deferred: serialised on click, not on every rerun (the graph as drawn now).
        data=lambda: arch.to_json_string() + "\n",
        file_name=download_name(arch, "json"),
        mime="application/json",
        key="dl_graph",
        on_click="ignore",  # a download needs no rerun (see project.py)
        width="stretch",
    )
    if trained:
        cols[2].download_button(
            "weights",
            icon=":material/download:",
            # Bytes, not a deferred callable: the page reruns often (live views, the canvas),
            # and a rerun drops the deferred file before a slow click fetches it.
            data=_weights_once(plan.model),
            file_name="weights.safetensors",
            key="dl_weights",
            on_click="ignore",  # a download needs no rerun (see project.py)
            width="stretch",
        )
    else:
        cols[2].button(
            "weights",
            icon=":material/download:",
            disabled=True,
            key="dl_weights_off",
            help="Train the model first."
            if not plan.changed
            else "The graph changed since the last run: train again, or export the last run's graph.",
            width="stretch",
        )
    cols[3].download_button(
        "all (.zip)",
        icon=":material/folder_zip:",
        # Built only on click, in its own thread: the bundle (ONNX included) takes seconds.
        data=lambda: bundle_bytes(arch, trainer, plan),
        file_name=download_name(arch, "zip"),
        mime="application/zip",
        key="dl_zip",
        on_click="ignore",  # a download needs no rerun (see project.py)
        width="stretch",
    )
    st.code(source, language="python", line_numbers=True)
