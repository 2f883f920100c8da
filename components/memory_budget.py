"""Before Train: would this run fit in memory? Refuse with the reason, and offer a batch
size that fits (one click), instead of letting the allocator fail mid-run."""

from __future__ import annotations

import streamlit as st

from builder.budget import check_trainer_memory
from builder.errors import BuilderError
from builder.training import resolve_device

S = st.session_state


def fits_in_memory(arch, analysis, dataset, config) -> bool:
    """Show why a run would not fit (and a smaller batch to pick); True when it fits."""
    if dataset is None or not analysis.ok:
        return True  # other messages explain what is missing
    try:
        device = resolve_device(config.device)
        check_trainer_memory(arch, dataset, config, device, analysis)
    except BuilderError as err:
        st.error(str(err), icon=":material/memory:")
        smaller = getattr(err, "suggested_batch_size", None)
        if smaller:
            st.button(
                f"Use batch size {smaller}",
                key="fit_batch_btn",
                on_click=_set_batch,
                args=(smaller,),
                icon=":material/compress:",
            )
        return False
    return True


def _set_batch(size: int) -> None:
    S.cfg_batch = int(size)
