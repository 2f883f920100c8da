"""The Train tab: controls and the live dashboard (curves, diagram, predictions).

Training runs in a background Trainer (one per browser session, a global cap across
sessions); a fragment polls its event buffer once a second, so the page stays
responsive and training never waits for the UI. The dataset and settings widgets live in
train_settings, the curves in train_curves, the live predictions in live_predictions.
"""

from __future__ import annotations

import time
import uuid

import streamlit as st

from builder.data import check_compatibility, suggest_fix
from builder.diagram import METRIC_LABELS, METRICS, render_dot
from builder.errors import BuilderError
from builder.shapes import analyse
from builder.training import Trainer

from . import live_runs, predictions, state
from .family_views import render_family_views
from .guard import guarded
from .jobs import SLOTS, leave_a_core_for_the_page
from .live_predictions import SNAPSHOT_SECONDS, render_live_predictions
from .live_tint import graph_signature, run_scale
from .memory_budget import fits_in_memory
from .train_curves import add_events, curves_figure, new_curves, progress_text
from .train_settings import (
    LOG_EVERY,
    STATS_EVERY,
    UPLOAD,
    _apply_fix,
    _dataset_choice,
    _load_dataset,
    _reconstruction_choice,
    _settings,
    config_from_widgets,
    default_dataset,
    idle_timeout_s,
    suggest_for_template,
)

__all__ = [
    "LOG_EVERY",
    "STATS_EVERY",
    "add_events",
    "curves_figure",
    "new_curves",
    "render_train_tab",
    "suggest_for_template",
]

S = st.session_state
POLL_SECONDS = 1.0
WATCH_SECONDS = 10.0  # well inside the shortest idle timeout, a minute
# The shortest wait between two redraws of the live diagram while a run trains. The browser
# lays a graphviz chart out anew (WASM) on each new DOT. At one a second, Chromium spent
# 22-28 CPU seconds on a ~25 s run on 2 cores (13 with no diagram); at this wait, 14-20.
# The canvas tint still follows the run each second.
DIAGRAM_SECONDS = 4.0


# ---- controls ------------------------------------------------------------------------------------


def _session_owner() -> str:
    if "owner" not in S:
        S.owner = uuid.uuid4().hex
    return S.owner


def _request_training() -> None:
    """Train button: start now when a slot is free, else queue (the fragment starts it later)."""
    current = S.get("trainer")
    dataset = S.get("current_dataset")
    if (current is not None and current.running) or dataset is None:
        return
    try:
        config = config_from_widgets()
    except BuilderError as err:
        state.notify("error", str(err))
        return
    S.pending = (state.arch().copy(), dataset, config)
    _try_start()


def _try_start() -> None:
    pending = S.get("pending")
    if pending is None:
        return
    owner = _session_owner()
    place = SLOTS.acquire(owner)
    S.queue_place = place
    if place:
        return
    arch, dataset, config = pending
    S.pending = None
    try:
        with SLOTS.starting(owner):
            trainer = Trainer(
                arch,
                dataset,
                config,
                store=state.run_store(),
                project=S.get("project_id"),
                extra={"dataset_options": dataset_options(dataset), "source_of_run": "app"},
            )
            _launch(owner, trainer)
    except BuilderError as err:
        state.notify("error", str(err))


def _launch(owner: str, trainer) -> None:
    """Start trainer in owner's slot as the project's current run, and show it here."""
    SLOTS.attach(owner, trainer)
    live_runs.register(S.get("project_id"), "train", trainer, idle_timeout_s=idle_timeout_s())
    leave_a_core_for_the_page()
    _show(trainer)
    trainer.start()


def _show(trainer) -> None:
    """Follow trainer in this tab from its first event (so a reload redraws the whole curve)."""
    S.trainer, S.cursor, S.curves = trainer, 0, new_curves()
    elapsed = time.perf_counter() - trainer._t0 if trainer.state != "idle" else 0.0
    S.last_step, S.started, S.snap_time, S.snap_wait = (
        None,
        time.monotonic() - elapsed,
        0.0,
        SNAPSHOT_SECONDS,
    )
    S.steps_per_epoch = -(-trainer.dataset.n_train // trainer.config.batch_size)
    S.view = {}
    S.ended = None
    S.was_running = trainer.running


def _reattach() -> None:
    """Show the project's current run, whichever tab started it (or a tab since reloaded)."""
    current = live_runs.latest(S.get("project_id"), "train")
    if current is not None and S.get("trainer") is not current:
        _show(current)


def _offer_resume() -> None:
    """After a server restart: the project's last run, if interrupted, can go on."""
    record = live_runs.interrupted_run(S.get("project_id"), S.get("owner_id"))
    if record is None:
        return
    epoch = live_runs.last_epoch(record.id)
    st.warning(
        f"Your last run ({record.id}) was interrupted after epoch {epoch}: the server stopped "
        "while it trained.",
        icon=":material/restart_alt:",
    )
    st.button(
        f"Resume from epoch {epoch + 1}",
        icon=":material/play_arrow:",
        key="resume_btn",
        on_click=_resume,
        args=(record.id,),
    )


def _resume(run_id: str) -> None:
    from builder.runs.resume import resume_trainer

    owner = _session_owner()
    if SLOTS.acquire(owner):
        SLOTS.release(owner)
        state.notify("warning", "Every training slot is busy; resume again in a moment.")
        return
    try:
        with SLOTS.starting(owner):
            _launch(owner, resume_trainer(state.run_store(), run_id))
    except BuilderError as err:
        state.notify("error", str(err))


def dataset_options(dataset) -> dict:
    """What, besides its name, rebuilds the same dataset (kept with the run)."""
    options = {}
    if dataset.task == "reconstruction":
        options["task"] = "reconstruction"
        if getattr(dataset, "input_noise", 0.0):
            options["noise"] = float(dataset.input_noise)
    return options


def _pause_or_resume() -> None:
    trainer = S.get("trainer")
    if trainer is None:
        return
    if trainer.state == "paused":
        trainer.resume()
    else:
        trainer.pause()


def _stop() -> None:
    if S.get("pending") is not None:
        S.pending = None
        SLOTS.release(_session_owner())
    trainer = S.get("trainer")
    if trainer is not None:
        trainer.stop()


def keep_training_going() -> None:
    """While the Train tab is closed (not drawn), what its poll did goes on: follow the
    project's run, count a live run as watched (the idle timeout stops unwatched runs
    only), and keep a queued run's place, starting it when a slot frees."""
    _reattach()
    trainer = S.get("trainer")
    if trainer is not None and trainer.running:
        # The canvas's ticks rerun the page only while the Build tab shows; on another tab
        # this keeps the open page counting as watching the run.
        st.fragment(run_every=WATCH_SECONDS)(_still_watching)()
    if "current_dataset" not in S:
        S.current_dataset = default_dataset()
    if S.get("pending") is not None:
        st.fragment(run_every=POLL_SECONDS)(_start_when_free)()


def _still_watching() -> None:
    trainer = S.get("trainer")
    if trainer is not None and trainer.running:
        live_runs.watch(trainer)


def _start_when_free() -> None:
    _try_start()
    if S.get("pending") is None:
        st.rerun(scope="app")  # it started: the canvas follows the run from now on


# ---- the tab ----------------------------------------------------------------------------------------


def render_train_tab() -> None:
    _reattach()
    arch = state.arch()
    analysis = state.analysis()
    left, right = st.columns([1, 1])
    with left:
        name = _dataset_choice()
        task, noise = (
            _reconstruction_choice(arch, analysis, name) if name != UPLOAD else (None, None)
        )
        dataset = _load_dataset(name, task, noise)
    with right:
        if dataset is not None:
            st.caption(dataset.describe())
            _compatibility(arch, analysis, dataset)
    S.current_dataset = dataset
    _settings()
    trainer = S.get("trainer")
    busy = (trainer is not None and trainer.running) or S.get("pending") is not None
    ready = dataset is not None and analysis.ok and _fits(arch, dataset) is None
    ready = ready and (busy or fits_in_memory(arch, analysis, dataset, config_from_widgets()))
    c1, c2, c3, _ = st.columns([1, 1, 1, 3])
    c1.button(
        "Train",
        icon=":material/play_arrow:",
        type="primary",
        key="train_btn",
        disabled=busy or not ready,
        on_click=_request_training,
        width="stretch",
    )
    paused = trainer is not None and trainer.state == "paused"
    c2.button(
        "Resume" if paused else "Pause",
        icon=":material/play_arrow:" if paused else ":material/pause:",
        key="pause_btn",
        disabled=not (trainer is not None and trainer.running),
        on_click=_pause_or_resume,
        width="stretch",
    )
    c3.button(
        "Stop",
        icon=":material/stop:",
        key="stop_btn",
        disabled=not busy,
        on_click=_stop,
        width="stretch",
    )
    if trainer is None and not busy:
        _offer_resume()
    live = busy
    st.fragment(run_every=POLL_SECONDS if live else None)(_guarded_live_view)()
    trained = trainer is not None and not busy and trainer.state in ("finished", "stopped")
    # A toggle, not an expander: Streamlit runs a closed expander's body on every rerun,
    # and these views run the model.
    if trained and st.toggle(
        "Look inside the trained model", key="look_inside", persist_state="session"
    ):
        render_family_views(predictions.snapshot(trainer.model), trainer.arch, trainer.dataset)


def _fits(arch, dataset):
    return state.per_revision("fits", check_compatibility, arch, dataset)


def _compatibility(arch, analysis, dataset) -> None:
    if not analysis.ok:
        st.error(f"Fix the network first: {analysis.errors[0]}", icon=":material/error:")
        return
    problem = _fits(arch, dataset)
    if problem is None:
        st.success("The network fits this dataset.", icon=":material/check_circle:")
        return
    st.error(str(problem), icon=":material/error:")
    if state.per_revision("fix", suggest_fix, arch, dataset) is not None:
        st.button(
            "Fix it for me",
            icon=":material/build:",
            key="fix_btn",
            on_click=_apply_fix,
            args=(dataset,),
        )


def _guarded_live_view() -> None:
    # A fragment's own failure would print Streamlit's traceback box: keep it a message.
    guarded("Live view", _live_view)


def _live_view() -> None:
    """Polled twice a second while training: progress, curves, diagram, predictions."""
    if S.get("pending") is not None:
        _try_start()
        if S.get("pending") is not None:
            st.info(
                f"Queued: {SLOTS.cap} training jobs are already running on this server. "
                f"Yours is number {S.queue_place} in line and starts by itself when a slot frees up.",
            )
            return
    trainer = S.get("trainer")
    if trainer is None:
        st.info(
            "Pick a dataset and press **Train**: the curves, the live diagram and the predictions appear here."
        )
        return
    live_runs.watch(trainer)
    events, S.cursor = trainer.events_since(S.cursor)
    add_events(S.curves, events, S.steps_per_epoch)
    for ev in events:
        if ev.get("kind") == "step":
            S.last_step = ev
        if ev.get("kind") == "status" and ev.get("state") in ("finished", "stopped", "failed"):
            S.ended = time.monotonic()
    _status(trainer)
    if not trainer.running and graph_signature(state.arch()) != graph_signature(trainer.arch):
        st.warning(
            "Stale: the graph has changed since this run. The curves, diagram and predictions "
            "below are from the graph as it was when the run started; train again for current ones.",
            icon=":material/history:",
        )
    classification = trainer.dataset.task == "classification"
    st.plotly_chart(curves_figure(S.curves, classification), width="stretch", key="curves_chart")
    diagram_col, pred_col = st.columns([1, 1.3])
    with diagram_col:
        _live_diagram(trainer)
    with pred_col:
        render_live_predictions(trainer)
    if not trainer.running and S.get("was_running", False):
        S.was_running = False
        st.rerun()  # a full rerun stops the polling and re-enables the buttons
    S.was_running = trainer.running


def _status(trainer) -> None:
    now = S.get("ended") if not trainer.running and S.get("ended") else time.monotonic()
    done, text = progress_text(trainer, S.last_step, S.started, now)
    st.progress(done, text=text)
    message = {"failed": st.error, "stopped": st.warning, "finished": st.success}.get(trainer.state)
    summary_bits = ""
    if trainer.history["val_loss"]:
        summary_bits = f" · val loss {trainer.history['val_loss'][-1]:.4f}"
        if trainer.history["val_accuracy"]:
            summary_bits += f" · val accuracy {trainer.history['val_accuracy'][-1]:.1%}"
    if message is not None:
        message(f"Training {trainer.state}: {trainer.message}{summary_bits}")
    else:
        st.caption(f"State: **{trainer.state}**{summary_bits}")


def _live_diagram(trainer) -> None:
    metric = st.selectbox(
        "Colour layers by",
        METRICS,
        format_func=METRIC_LABELS.get,
        key="diagram_metric",
        persist_state="session",
    )
    dot, step = _diagram_snapshot(trainer, metric)
    st.graphviz_chart(dot)
    if step is not None:
        st.caption(
            f"Coloured by {METRIC_LABELS[metric]} at step {step} on a scale fixed at the run's first snapshot: hotter is larger."
        )


def _diagram_snapshot(trainer, metric: str) -> tuple[str, int | None]:
    """The diagram's DOT and the step its colours show: the last one while it is younger than
    DIAGRAM_SECONDS and the run still trains (the same DOT is not laid out again)."""
    last = S.get("live_dot")
    now = time.monotonic()
    if (
        last is not None
        and last["for"] == (id(trainer), metric)
        and trainer.running
        and now - last["at"] < DIAGRAM_SECONDS
    ):
        return last["dot"], last["step"]
    step = trainer.layer_stats_step
    dot = render_dot(
        trainer.arch,
        _trained_analysis(trainer),
        trainer.layer_stats,
        metric,
        scale=run_scale(trainer, metric),  # the canvas tint uses the same fixed scale
    )
    S.live_dot = {"for": (id(trainer), metric), "at": now, "dot": dot, "step": step}
    return dot, step


def _trained_analysis(trainer):
    if S.get("trained_analysis_for") != id(trainer):
        S.trained_analysis = analyse(trainer.arch)
        S.trained_analysis_for = id(trainer)
    return S.trained_analysis
