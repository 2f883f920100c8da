"""Open one of the app's tabs under AppTest (a closed tab draws nothing, as in the browser)
and find a palette button."""

from __future__ import annotations

from streamlit.testing.v1 import AppTest

from components.layout import TAB_KEY


def open_tab(at: AppTest, name: str) -> AppTest:
    """Switch to the tab whose label ends with `name`, as a click would, and rerun."""
    at.session_state[TAB_KEY] = next(t.label for t in at.tabs if t.label.endswith(name))
    return at.run()


def layer_button(at: AppTest, layer_type: str):
    """The palette's button for `layer_type` (every category draws its buttons, open or not)."""
    return at.sidebar.button(key=f"add_{layer_type}")
