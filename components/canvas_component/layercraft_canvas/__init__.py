"""The canvas component's registration: the built bundle lives in ./dist (vite output)."""

from __future__ import annotations

from functools import cache
from typing import Any

import streamlit as st


@cache
def _component():
    # Registered on first use, inside a running app: Streamlit resolves the file-backed
    # bundle against the package manifests it scanned at start-up. The name is
    # "<project name>.<component name>" from pyproject.toml; the glob matches the one
    # content-hashed bundle that `npm run build` writes into dist/.
    return st.components.v2.component(
        "layercraft_canvas.canvas", js="index-*.js", isolate_styles=False
    )


def canvas_component(**kwargs: Any) -> Any:
    """Mount the canvas (key=, data=, on_intent_change=, height=)."""
    return _component()(**kwargs)
