"""Sidebar panel: paste or upload a PyTorch .py file, name the class, and open it as a graph.

Importing runs the user's code, so the panel is on only when the server listens on this
machine alone (server.address localhost / 127.0.0.1) or LAYERCRAFT_ALLOW_CODE_IMPORT=1.
The import itself runs in a subprocess with a time limit (builder.importer.sandbox).
"""

from __future__ import annotations

import os

import streamlit as st

from builder.errors import BuilderError
from builder.importer.sandbox import TIMEOUT_S, import_source

from . import state

S = st.session_state
LOCAL_ADDRESSES = {"localhost", "127.0.0.1", "::1"}
ALLOW_ENV = "LAYERCRAFT_ALLOW_CODE_IMPORT"
EXAMPLE = "Net  or  RNNModel('LSTM', 1000, 200, 200, 2)"


def code_import_allowed() -> tuple[bool, str]:
    """(allowed, why): only a server nobody else can reach may run pasted code."""
    if os.environ.get(ALLOW_ENV) == "1":
        return True, f"{ALLOW_ENV}=1 is set."
    address = st.get_option("server.address")
    if address in LOCAL_ADDRESSES:
        return True, f"The server listens on {address} only."
    listening = f"on {address}" if address else "on every network interface"
    return False, (
        f"Importing runs the uploaded code, and this server listens {listening}, so anyone who "
        f"can reach it could run code here. Start it with `--server.address localhost`, or set "
        f"{ALLOW_ENV}=1 if you trust everyone who can reach it."
    )


def parse_shapes(text: str) -> list[tuple[int, ...]]:
    """ "1,28,28; 10" -> [(1, 28, 28), (10,)]: one shape per forward input, without the batch."""
    shapes = []
    for part in text.split(";"):
        try:
            shape = tuple(int(v) for v in part.replace("x", ",").split(",") if v.strip())
        except ValueError:
            shape = ()
        if not shape or any(d < 1 for d in shape):
            raise BuilderError(
                f"{part.strip()!r} is not a shape",
                field="input shapes",
                hint="Write one shape per input, without the batch: 1,28,28 (several: 1,28,28; 10).",
            )
        shapes.append(shape)
    return shapes


def parse_dtypes(text: str, count: int) -> list[str]:
    dtypes = [d.strip() for d in text.split(";") if d.strip()] if text.strip() else []
    bad = [d for d in dtypes if d not in ("float32", "int64")]
    if bad or len(dtypes) > count:
        raise BuilderError(
            f"dtypes {text!r} do not fit {count} input(s)",
            field="dtypes",
            hint="One of float32 / int64 per input (int64 for token ids), separated by ';'.",
        )
    return dtypes


def _source_text() -> str | None:
    upload = S.get("import_upload")
    if upload is not None:
        return upload.getvalue().decode("utf-8", errors="replace")
    pasted = S.get("import_code", "")
    return pasted if pasted.strip() else None


def _import() -> None:
    source = _source_text()
    if source is None:
        state.notify("error", "Paste the model's code or upload its .py file first.")
        return
    try:
        shapes = parse_shapes(S.get("import_shapes", ""))
        dtypes = parse_dtypes(S.get("import_dtypes", ""), len(shapes))
        with st.spinner("Importing… (the code runs in a separate process)"):
            arch, summary = import_source(source, S.get("import_expr", ""), shapes, dtypes)
    except BuilderError as err:
        state.notify("error", f"Import failed: {err}")
        return
    S.selected = None
    state.commit(arch)
    state.notify(
        "success",
        f"Imported “{arch.name}”: {summary['nodes']} nodes, {summary['params']:,} parameters; "
        f"outputs match the original (max difference {summary['max_diff']:.1e}).",
    )
    if summary.get("init_notes"):
        state.notify(
            "warning", "Some inits were not carried over: " + "; ".join(summary["init_notes"]) + "."
        )


def render_import_panel() -> None:
    """The Import expander: code, class expression, input shapes and the Import button."""
    with st.expander("Import PyTorch code", icon=":material/upload_file:"):
        allowed, why = code_import_allowed()
        if not allowed:
            st.info(f"Import is off. {why}", icon=":material/lock:")
            return
        st.file_uploader("Model file (.py)", type=["py"], key="import_upload")
        st.text_area("…or paste the code", key="import_code", height=120)
        st.text_input("Class or constructor call", key="import_expr", placeholder=EXAMPLE)
        st.text_input(
            "Input shapes (no batch; ';' between inputs)",
            value="1,28,28",
            key="import_shapes",
        )
        st.text_input("Input dtypes (optional)", key="import_dtypes", placeholder="float32; int64")
        # A callback: it runs before the name box and the canvas are drawn, which then show
        # the imported graph.
        st.button("Import", key="import_run", on_click=_import, width="stretch")
        st.caption(
            "A function that returns the model, or a model the file builds (`netG`, after "
            f"`netG.apply(weights_init)`), works too. At most {TIMEOUT_S} s per import. {why}"
        )
