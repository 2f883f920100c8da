"""One panel's failure stays in that panel: a message there, the rest of the page works.

Streamlit's own rerun/stop signals derive from BaseException, so catching Exception here
never swallows them.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import streamlit as st

from builder.errors import BuilderError, sentences

log = logging.getLogger("layercraft")


def guarded(title: str, render: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Run render(*args, **kwargs); on failure show a message in its place and return None.

    A BuilderError is the user's to fix and says how; anything else is our bug: the
    traceback goes to the server log, never onto the page (it would show server paths).
    """
    try:
        return render(*args, **kwargs)
    except BuilderError as err:
        st.error(sentences(f"{title}: {err}"), icon=":material/error:")
    except MemoryError:
        st.error(
            sentences(
                f"{title} ran out of memory",
                "Use a smaller model, batch or dataset; the rest of the page still works.",
            ),
            icon=":material/memory:",
        )
    except Exception as err:  # the point: nothing escapes the panel
        log.exception("panel %r failed", title)
        st.error(
            sentences(
                f"{title} could not be shown ({type(err).__name__})",
                "The rest of the page still works; undo the last change or reload the page.",
            ),
            icon=":material/error:",
        )
    return None
