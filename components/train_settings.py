"""The Train tab's dataset choice and training settings (kept per project across reloads)."""

from __future__ import annotations

import streamlit as st

from builder.data import (
    DATASETS,
    check_compatibility,
    dataset_help,
    load_dataset,
    suggest_fix,
)
from builder.errors import BuilderError
from builder.templates import template_dataset, template_settings
from builder.training import LOSSES, OPTIMIZERS, SCHEDULES, TrainConfig

from . import session_store, state
from .uploads import render_upload

S = st.session_state
UPLOAD = "Upload a file…"
# Per-layer statistics every 10 steps feed the live diagram; the loss is read every 5 steps.
STATS_EVERY, LOG_EVERY = 10, 5


def _dataset_choice() -> str:
    options = [*DATASETS, UPLOAD]
    # Once the pick is in the session (a loaded template set it, or the user did), it rules; a
    # default index as well would make Streamlit warn that the widget has two sources of truth.
    default = S.get("dataset_name") or _saved("dataset_pick", "digits")
    index = None if "dataset_pick" in S else (options.index(default) if default in options else 0)
    name = st.selectbox(
        "Dataset",
        options,
        index=index,
        format_func=lambda n: n if n == UPLOAD else f"{n} — {dataset_help(n)}",
        key="dataset_pick",
        persist_state="session",
    )
    S.dataset_name = name
    return name


def uploads_in_use() -> bool:
    """Is the Train tab's dataset the user's uploaded files?"""
    return S.get("dataset_name") == UPLOAD


def default_dataset():
    """The dataset the Train tab would pick, loaded without its widgets (for the canvas's
    dataset-aware fixes before the tab was first opened)."""
    name = S.get("dataset_name") or _saved("dataset_pick", "digits")
    return None if name not in DATASETS else _load_dataset(name)


def _reconstruction_choice(arch, analysis, name: str) -> tuple[str | None, float | None]:
    """Train as an autoencoder (target = input)? Preselected when the output mirrors the input
    and the network does not already fit the dataset's own task (moons: 2 features in,
    2 classes out, is a classifier)."""
    outputs, inputs = arch.output_nodes(), arch.input_nodes()
    mirrors = (
        analysis.ok
        and len(outputs) == 1
        and len(inputs) == 1
        and analysis.shape_of(outputs[0]) == analysis.shape_of(inputs[0])
        and arch.params_of(inputs[0])["dtype"] == "float32"
    )
    if mirrors:
        native = _load_dataset(name)
        mirrors = (
            native is None
            or state.per_revision("fits_native", check_compatibility, arch, native) is not None
        )
    on = st.toggle(
        "Reconstruct the input (autoencoder)",
        value=mirrors,
        key=f"recon_{mirrors}",
        persist_state="session",
        help="The target is the input itself; the live view shows inputs next to reconstructions.",
    )
    if not on:
        return None, None
    noise = st.slider(
        "Denoising: noise added to the input only",
        0.0,
        1.0,
        0.0,
        0.05,
        key="recon_noise",
        persist_state="session",
    )
    return "reconstruction", noise or None


def _load_dataset(name: str, task: str | None = None, noise: float | None = None):
    """The chosen dataset (cached per session); None (with a message) when there is none yet."""
    cache = S.setdefault("datasets", {})
    if name != UPLOAD:
        key = (name, task, noise)
        if key not in cache:
            with st.spinner(f"Loading {name}…"):
                try:
                    cache[key] = load_dataset(name, task=task, noise=noise)
                except BuilderError as err:
                    st.error(str(err), icon=":material/error:")
                    return None
        return cache[key]
    return render_upload()


def _apply_fix(dataset) -> None:
    fixed = suggest_fix(state.arch(), dataset)
    if fixed is not None:
        state.commit(fixed)
        state.notify("success", "Applied the fix: the network now fits the dataset.")


def _settings() -> None:
    c1, c2, c3, c4 = st.columns(4)
    c1.number_input(
        "Epochs", 1, 1000, _suggested("epochs"), key=_setting_key("epochs"), persist_state="session"
    )
    c2.number_input(
        "Batch size", 1, 8192, _saved("cfg_batch", 64), key="cfg_batch", persist_state="session"
    )
    c3.selectbox(
        "Optimizer",
        OPTIMIZERS,
        index=_saved_index("cfg_opt", OPTIMIZERS, "adam"),
        key="cfg_opt",
        persist_state="session",
    )
    c4.number_input(
        "Learning rate",
        1e-6,
        10.0,
        _suggested("lr"),
        format="%g",
        step=1e-3,
        key=_setting_key("lr"),
        persist_state="session",
    )
    with st.expander("More settings"):
        d1, d2, d3, d4 = st.columns(4)
        d1.number_input(
            "Weight decay (L2)",
            0.0,
            1.0,
            _saved("cfg_wd", 0.0),
            format="%g",
            key="cfg_wd",
            persist_state="session",
        )
        d2.selectbox(
            "LR schedule",
            SCHEDULES,
            index=_saved_index("cfg_sched", SCHEDULES, "none"),
            key="cfg_sched",
            persist_state="session",
        )
        d3.number_input(
            "Early stopping patience (0 = off)",
            0,
            100,
            _saved("cfg_patience", 0),
            key="cfg_patience",
            persist_state="session",
        )
        d4.number_input(
            "Seed", 0, 2**31 - 1, _saved("cfg_seed", 0), key="cfg_seed", persist_state="session"
        )
        e1, e2, e3, e4 = st.columns(4)
        e1.number_input(
            "L1 penalty",
            0.0,
            1.0,
            _saved("cfg_l1", 0.0),
            format="%g",
            key="cfg_l1",
            persist_state="session",
        )
        e2.number_input(
            "Gradient clipping (0 = off)",
            0.0,
            100.0,
            _saved("cfg_clip", 0.0),
            format="%g",
            key="cfg_clip",
            persist_state="session",
        )
        e3.selectbox(
            "Loss",
            LOSSES,
            index=_saved_index("cfg_loss", LOSSES, "auto"),
            key="cfg_loss",
            persist_state="session",
            help="auto: cross-entropy for classes, MSE for values",
        )
        e4.number_input(
            "Augment: random shift (px)",
            0,
            4,
            _saved("cfg_shift", 0),
            key="cfg_shift",
            persist_state="session",
            help="Images only: random shifts.",
        )
        f1, f2, f3, _ = st.columns(4)
        f1.checkbox(
            "Random horizontal flips",
            _saved("cfg_hflip", False),
            key="cfg_hflip",
            persist_state="session",
            help="Images only.",
        )
        f2.number_input(
            "Input noise std",
            0.0,
            2.0,
            _saved("cfg_noise", 0.0),
            format="%g",
            key="cfg_noise",
            persist_state="session",
        )
        f3.number_input(
            "Stop if unwatched (min, 0 = never)",
            0,
            24 * 60,
            _saved("cfg_idle", 0),
            key="cfg_idle",
            persist_state="session",
            help="Stop the run when no open page has shown it for this long, so a run "
            "left behind in closed tabs frees its training slot.",
        )
    _persist_settings()


# Widget keys whose values are kept per project across reloads (besides epochs and lr).
KEPT_KEYS = ("cfg_batch", "cfg_opt", "cfg_wd", "cfg_sched", "cfg_patience", "cfg_seed", "cfg_l1")
KEPT_KEYS += ("cfg_clip", "cfg_loss", "cfg_shift", "cfg_hflip", "cfg_noise", "dataset_pick")
KEPT_KEYS += ("cfg_idle",)


def _saved(key: str, default):
    """The value this project's settings had before a reload (of the default's type)."""
    value = S.get("saved_settings", {}).get(key, default)
    return value if isinstance(value, type(default)) else default


def _saved_index(key: str, options, default: str) -> int:
    value = _saved(key, default)
    return options.index(value) if value in options else options.index(default)


def _persist_settings() -> None:
    """Write the settings to the project's session file when they changed."""
    values = {k: S[k] for k in KEPT_KEYS if k in S}
    values["epochs"] = S.get(_setting_key("epochs"), _suggested("epochs"))
    values["lr"] = S.get(_setting_key("lr"), _suggested("lr"))
    if values == S.get("persisted_settings") or "project_id" not in S:
        return
    try:
        session_store.save_session(S.project_id, settings=values)
    except OSError:
        return  # the settings still work; they are just not kept
    S.persisted_settings = values
    S.saved_settings = values


# The settings a template may suggest, and their values when it does not.
SUGGESTABLE = {"epochs": 10, "lr": 1e-2}


def suggest_for_template(stem: str) -> str:
    """Point the Train tab at the template's dataset and settings; says what it set."""
    dataset = template_dataset(stem)
    if dataset is not None:
        S.dataset_pick = dataset
    settings = {k: v for k, v in template_settings(stem).items() if k in SUGGESTABLE}
    S.suggested_settings = settings
    # New widget keys, so the widgets start from the suggestion. Setting the old keys is not
    # enough: a rerun the canvas requests at once carries the browser's old values back.
    S.settings_generation = S.get("settings_generation", 0) + 1
    said = ", ".join(f"{name} {value:g}" for name, value in settings.items())
    return f" Train tab: {dataset} data, {said}." if dataset and said else ""


def _suggested(name: str):
    if name in S.get("suggested_settings", {}):
        return S.suggested_settings[name]
    return _saved(name, SUGGESTABLE[name])


def _setting_key(name: str) -> str:
    return f"cfg_{name}_{S.get('settings_generation', 0)}"


def idle_timeout_s() -> float:
    """The Train tab's "stop if unwatched" setting in seconds (0: never)."""
    return 60.0 * int(S.get("cfg_idle", 0) or 0)


def config_from_widgets() -> TrainConfig:
    """The settings as the widgets hold them now (read at click time, never stale)."""
    return TrainConfig(
        epochs=int(S.get(_setting_key("epochs"), _suggested("epochs"))),
        batch_size=int(S.get("cfg_batch", 64)),
        optimizer=S.get("cfg_opt", "adam"),
        lr=float(S.get(_setting_key("lr"), _suggested("lr"))),
        weight_decay=float(S.get("cfg_wd", 0.0)),
        schedule=S.get("cfg_sched", "none"),
        early_stopping_patience=int(S.get("cfg_patience", 0)),
        seed=int(S.get("cfg_seed", 0)),
        l1=float(S.get("cfg_l1", 0.0)),
        clip_grad=float(S.get("cfg_clip", 0.0)),
        loss=S.get("cfg_loss", "auto"),
        augment_shift=int(S.get("cfg_shift", 0)),
        augment_hflip=bool(S.get("cfg_hflip", False)),
        augment_noise=float(S.get("cfg_noise", 0.0)),
        stats_every=STATS_EVERY,
        log_every=LOG_EVERY,
    )
