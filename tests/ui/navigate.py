"""Open one of the app's tabs or palette categories under AppTest: closed ones draw nothing,
as in the browser."""

from __future__ import annotations

from streamlit.testing.v1 import AppTest

from builder.layers import get_spec
from components.layout import TAB_KEY


def open_tab(at: AppTest, name: str) -> AppTest:
    """Switch to the tab whose label ends with `name`, as a click would, and rerun."""
    at.session_state[TAB_KEY] = next(t.label for t in at.tabs if t.label.endswith(name))
    return at.run()


def layer_button(at: AppTest, layer_type: str):
    """The palette's button for `layer_type`, its category opened first (as a click would)."""
    at.session_state[f"palette_{get_spec(layer_type).category}"] = True
    return at.run().sidebar.button(key=f"add_{layer_type}")
