"""The Search tab: the graph's search space, N trials in the background, a live table,
Optuna's plotly figures, and "Apply best" as an undoable edit.

The search holds one of the server's training slots (components.jobs) for as long as it
runs, like a training does; every trial is a run in the run store.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

import streamlit as st

from builder.data import DATASETS, dataset_help, load_dataset
from builder.errors import BuilderError
from builder.layers.base import Param
from builder.search import PRUNERS, SAMPLERS, SearchSettings, space_of
from builder.search.apply import apply_best
from builder.search.edit import mark_train
from builder.training import OPTIMIZERS, TrainConfig

from . import state
from .jobs import SLOTS, leave_a_core_for_the_page
from .search_marks import parse_search_text, spec_text

S = st.session_state
POLL_SECONDS = 1.0
# Training settings the tab can search, with a first range or set of choices.
TRAIN_PARAMS = {
    "lr": (Param("lr", "float", 1e-3, "learning rate"), "0.0001..0.1 log"),
    "batch_size": (Param("batch_size", "int", 64, "batch size"), "32, 64, 128"),
    "optimizer": (
        Param("optimizer", "choice", "adam", "", choices=OPTIMIZERS),
        "adam, sgd, momentum",
    ),
    "weight_decay": (Param("weight_decay", "float", 0.0, "L2"), "0..0.001"),
}


def render_search_tab() -> None:
    """The whole tab."""
    arch = state.arch()
    st.subheader("Search")
    st.caption(
        "Optuna tries values for what you mark as searched: node parameters (inspector → "
        "Search), layer types, skippable nodes, repeated blocks and training settings. "
        "Every trial is a run."
    )
    left, right = st.columns([1, 1.4], gap="large")
    with left:
        _space_summary(arch)
        _train_marks(arch)
    with right:
        _controls(arch)
    st.fragment(run_every=POLL_SECONDS if _job_running() else None)(_live_view)()


# ---- the space ---------------------------------------------------------------------------------


def _space_summary(arch) -> None:
    try:
        dims = space_of(arch).dims
    except BuilderError as err:
        st.error(str(err), icon=":material/error:")
        return
    if not dims:
        st.info(
            "Nothing is searched yet. Select a node and open **Search** in the inspector, "
            "or load the template “Search digits CNN”.",
            icon=":material/info:",
        )
        return
    rows = [{"searched": d.name, "values": _dim_text(d)} for d in dims]
    st.dataframe(rows, hide_index=True, width="stretch", key="search_space_table")


def _dim_text(dim) -> str:
    if dim.kind == "choice":
        return " | ".join(str(c) for c in dim.choices)
    return f"{dim.low:g} .. {dim.high:g}" + (" (log)" if dim.log else "")


def _train_marks(arch) -> None:
    st.markdown("**Training settings**")
    train = (arch.search or {}).get("train", {})
    for name, (_param, default) in TRAIN_PARAMS.items():
        key, text_key = f"search_train_{name}", f"search_train_{name}_range"
        _sync(key, name in train)
        st.toggle(
            f"search {name}",
            key=key,
            persist_state="session",
            on_change=_toggle_train,
            args=(name, key, default),
        )
        if name in train:
            _sync(text_key, spec_text(train[name]))
            st.text_input(
                f"{name} range or choices",
                key=text_key,
                persist_state="session",
                on_change=_set_train,
                args=(name, text_key),
                label_visibility="collapsed",
            )


def _toggle_train(name: str, key: str, default: str) -> None:
    param = TRAIN_PARAMS[name][0]
    spec = parse_search_text(param, default) if S[key] else None
    state.edit(mark_train, name, spec)


def _set_train(name: str, key: str) -> None:
    try:
        spec = parse_search_text(TRAIN_PARAMS[name][0], S[key])
    except BuilderError as err:
        state.notify("error", str(err))
        return
    state.edit(mark_train, name, spec)


# ---- running ---------------------------------------------------------------------------------


def _controls(arch) -> None:
    default = S.get("dataset_name")
    options = list(DATASETS)
    c1, c2 = st.columns(2)
    c1.selectbox(
        "Dataset",
        options,
        index=options.index(default) if default in options else options.index("digits"),
        format_func=lambda n: f"{n} — {dataset_help(n)}",
        key="search_dataset",
        persist_state="session",
    )
    c2.number_input(
        "Trials",
        min_value=1,
        max_value=500,
        value=10,
        step=1,
        key="search_trials",
        persist_state="session",
    )
    c3, c4, c5 = st.columns(3)
    c3.number_input(
        "Epochs per trial",
        min_value=1,
        max_value=200,
        value=3,
        key="search_epochs",
        persist_state="session",
    )
    c4.selectbox(
        "Sampler",
        SAMPLERS,
        key="search_sampler",
        persist_state="session",
        help="tpe: Optuna's default",
    )
    c5.selectbox(
        "Pruner",
        PRUNERS,
        key="search_pruner",
        persist_state="session",
        help="Stop weak trials early from their epoch metrics.",
    )
    job = S.get("search_job")
    running = _job_running()
    b1, b2, b3 = st.columns(3)
    b1.button(
        "Run search",
        key="search_run",
        type="primary",
        icon=":material/play_arrow:",
        on_click=_start,
        disabled=running,
        width="stretch",
    )
    b2.button("Stop", key="search_stop", on_click=_stop, disabled=not running, width="stretch")
    best = job.best() if job is not None else None
    b3.button(
        "Apply best",
        key="search_apply",
        icon=":material/check:",
        on_click=_apply,
        disabled=not (best and best["best_trial"] is not None),
        width="stretch",
        help="Write the best trial's values onto the graph (Undo takes them back).",
    )


def _start() -> None:
    owner = S.setdefault("search_owner", uuid.uuid4().hex)
    if SLOTS.acquire(owner):
        SLOTS.release(owner)
        state.notify(
            "warning",
            f"{SLOTS.cap} training jobs are already running on this server; try again soon.",
        )
        return
    try:
        with SLOTS.starting(owner):
            job = _new_job()
            SLOTS.attach(owner, job)
            leave_a_core_for_the_page()
            S.search_job, S.search_started = job, time.monotonic()
            job.start()
    except BuilderError as err:
        state.notify("error", str(err))


def _new_job():
    from builder.search.background import BackgroundSearch

    name = S.search_dataset
    cache = S.setdefault("search_datasets", {})
    if name not in cache:
        cache[name] = load_dataset(name)
    config = TrainConfig(epochs=int(S.search_epochs), log_every=20)
    settings = SearchSettings(
        study=f"{S.project_id}-{time.strftime('%Y%m%d-%H%M%S')}",
        n_trials=int(S.search_trials),
        sampler=S.search_sampler,
        pruner=S.search_pruner,
        seed=0,
        project=S.project_id,
    )
    store = state.run_store()  # the trials are the signed-in user's runs
    return BackgroundSearch(state.arch(), cache[name], config, settings, store=store)


def _stop() -> None:
    job = S.get("search_job")
    if job is not None:
        job.stop()


def _apply() -> None:
    job = S.get("search_job")
    if job is None:
        return
    best = job.best()
    try:
        new = apply_best(state.arch(), best["best_params"])
    except BuilderError as err:
        state.notify("error", str(err))
        return
    state.commit(new)
    train = {k: v for k, v in best["best_params"].items() if k in TRAIN_PARAMS}
    extra = f" Best training settings: {_settings_text(train)}." if train else ""
    state.notify("success", f"Applied trial {best['best_trial']} to the graph.{extra}")


def _settings_text(values: dict[str, Any]) -> str:
    return ", ".join(
        f"{k} = {v:.3g}" if isinstance(v, float) else f"{k} = {v}" for k, v in values.items()
    )


def _job_running() -> bool:
    job = S.get("search_job")
    return job is not None and job.running


# ---- the live view ---------------------------------------------------------------------------


def _live_view() -> None:
    job = S.get("search_job")
    if job is None:
        return
    if S.get("search_seen_state") != job.state:
        first = "search_seen_state" not in S
        S.search_seen_state = job.state
        if not first and not job.running:
            st.rerun()  # the search ended: redraw the whole tab (Apply best, buttons)
    best = job.best()
    total = job.search.settings.n_trials
    done = best["n_trials"]
    if job.running:
        st.progress(
            min(done / max(total, 1), 1.0), text=f"Trial {min(done + 1, total)} of {total}…"
        )
    else:
        st.caption(job.message)
    if best["best_trial"] is not None:
        st.markdown(
            f"Best so far: **{best['best_value']:.4f}** ({job.search.metric}) in trial "
            f"{best['best_trial']} · {best['n_pruned']} pruned · {best['n_failed']} infeasible"
        )
    rows = job.table()
    if rows:
        st.dataframe(rows, hide_index=True, width="stretch", key="search_trials_table")
    _figures(job)


def _figures(job) -> None:
    import optuna.visualization as vis
    from optuna.trial import TrialState

    study = job.study
    complete = [t for t in study.get_trials(deepcopy=False) if t.state == TrialState.COMPLETE]
    if not complete:
        return
    tabs = st.tabs(["History", "Parallel coordinates", "Importances"])
    with tabs[0]:
        st.plotly_chart(vis.plot_optimization_history(study), key="search_history")
    with tabs[1]:
        st.plotly_chart(vis.plot_parallel_coordinate(study), key="search_parallel")
    with tabs[2]:
        if len(complete) < 3:
            st.caption("Importances need at least three finished trials.")
        else:
            try:
                st.plotly_chart(vis.plot_param_importances(study), key="search_importances")
            except (RuntimeError, ValueError) as err:
                st.caption(f"No importances yet: {err}")


def _sync(key: str, value: Any) -> None:
    if S.get(key) != value:
        S[key] = value
