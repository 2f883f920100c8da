"""Data uploads in the Train tab: CSV, NPZ, MNIST IDX (images and labels together, or a zip
of the four standard files, extensionless names too), with the size limit on the page, an
explicit task choice when labels could be classes or values, and a cache keyed by content.

One upload per session is kept: a new one replaces the old, and when the session ends its
memory is handed back (see UploadCache).
"""

from __future__ import annotations

import contextlib
import ctypes
import gc
import tempfile
import weakref
from pathlib import Path

import streamlit as st

from builder.data import MAX_FILE_BYTES
from builder.data.files import TaskChoiceNeeded
from builder.data.uploads import content_hash, load_uploads
from builder.errors import BuilderError

S = st.session_state
TASKS = ("classification", "regression")


class UploadCache:
    """The session's one loaded upload, keyed by a hash of the bytes and the choices made.

    Held only in session state, so it goes when the session goes; the finalizer then asks
    the C allocator to return the freed pages to the system, which glibc otherwise keeps
    (the issue measured 2 GB still held after the tabs had closed).
    """

    def __init__(self) -> None:
        self.key: tuple | None = None
        self.dataset = None
        weakref.finalize(self, release_freed_memory)

    def get(self, key: tuple):
        return self.dataset if key == self.key else None

    def put(self, key: tuple, dataset) -> None:
        self.key, self.dataset = key, None
        gc.collect()  # the old dataset's tensors go before the new one is kept
        self.dataset = dataset


def release_freed_memory() -> None:
    """Return freed heap pages to the OS (glibc only; elsewhere nothing to do)."""
    gc.collect()
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6").malloc_trim(0)


def upload_limit_mb() -> int:
    """Streamlit's per-file upload limit (server.maxUploadSize), in MB."""
    return int(st.get_option("server.maxUploadSize"))


def render_upload():
    """The uploader and what it loaded: a Dataset, or None with a message saying why."""
    limit = upload_limit_mb()
    uploads = st.file_uploader(
        "Data files",
        accept_multiple_files=True,
        key="data_upload",
        help="Extensionless MNIST names such as train-images-idx3-ubyte are fine.",
    )
    st.caption(
        f"CSV with a label column, NPZ with arrays x and y, or MNIST IDX: the images and labels "
        f"files together, or a zip of the four standard files. **Up to {limit} MB per file** "
        f"(and {MAX_FILE_BYTES // 2**20} MB once unpacked); use the command line for more."
    )
    if not uploads:
        st.info("Upload a data file to train on it.")
        return None
    too_big = [u for u in uploads if u.size > limit * 2**20]
    if too_big:  # Streamlit refuses these itself; say why on the page, not in a tooltip
        st.error(f"{too_big[0].name} is larger than the {limit} MB upload limit.")
        return None
    digest = content_hash([(u.name, u.getvalue()) for u in uploads])
    S.upload_digest = digest
    # Choices made for another file do not carry over to this one.
    chosen = S.get("upload_choice_for") == digest
    task = S.get("upload_task") if chosen else None
    label = S.get("upload_label") if chosen else None
    key = (digest, task, label)
    cache = S.get("upload_cache")
    if cache is None:
        cache = S.upload_cache = UploadCache()
    if cache.get(key) is not None:
        return cache.get(key)
    try:
        with st.spinner("Reading the data…"), tempfile.TemporaryDirectory() as tmp:
            dataset = load_uploads(
                [(u.name, u.getvalue()) for u in uploads], Path(tmp), task=task, label=label
            )
    except TaskChoiceNeeded as question:
        _ask_task(question)
        return None
    except BuilderError as err:
        st.error(str(err), icon=":material/error:")
        return None
    cache.put(key, dataset)
    return dataset


def _ask_task(question: TaskChoiceNeeded) -> None:
    st.warning(str(question), icon=":material/help:")
    if question.columns:
        columns = question.columns
        st.selectbox(
            "Label column",
            columns,
            index=columns.index(question.label_column) if question.label_column in columns else 0,
            key="upload_label_pick",
            persist_state="session",
        )
    st.radio(
        "Task", TASKS, horizontal=True, key="upload_task_pick", persist_state="session", index=None
    )
    st.button("Use these choices", key="upload_choose_btn", on_click=_choose)


def _choose() -> None:
    S.upload_choice_for = S.get("upload_digest")
    S.upload_task = S.get("upload_task_pick") or "classification"
    if S.get("upload_label_pick") is not None:
        S.upload_label = S.upload_label_pick
