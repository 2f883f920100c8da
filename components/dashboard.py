"""The Train tab: dataset, compatibility fix, settings, controls and the live dashboard.

Training runs in a background Trainer (one per browser session, a global cap across
sessions); a fragment polls its event buffer twice a second, so the page stays
responsive and training never waits for the UI.
"""

from __future__ import annotations

import tempfile
import time
import uuid
from pathlib import Path

import numpy as np
import plotly.graph_objects as go
import streamlit as st
from plotly.subplots import make_subplots

from builder.data import (
    DATASETS,
    check_compatibility,
    dataset_help,
    load_dataset,
    load_file,
    suggest_fix,
)
from builder.diagram import METRIC_LABELS, METRICS, render_dot
from builder.errors import BuilderError
from builder.shapes import analyse
from builder.templates import template_dataset, template_settings
from builder.training import LOSSES, OPTIMIZERS, SCHEDULES, TrainConfig, Trainer

from . import predictions, state
from .family_views import confusion_figure, render_family_views, render_reconstructions
from .jobs import SLOTS, leave_a_core_for_the_page
from .live_tint import graph_signature, run_scale

S = st.session_state
UPLOAD = "Upload a file…"
POLL_SECONDS = 0.5
SNAPSHOT_SECONDS = 1.0  # the shortest wait between two live prediction snapshots
# Share of the time the live predictions may take from training: a bigger model or
# validation set refreshes its confusion matrix less often instead of slowing the run.
SNAPSHOT_BUDGET = 0.1
TRAIN_COLOUR, VAL_COLOUR = "#3b82f6", "#f97316"
# Per-layer statistics every 10 steps feed the live diagram; the loss is read every 5 steps.
STATS_EVERY, LOG_EVERY = 10, 5


# ---- curves (plain functions over events) ---------------------------------------------------


def new_curves() -> dict[str, list]:
    return {"step_x": [], "step_loss": [], "step_acc": [], "epochs": {"train": {}, "val": {}}}


def add_events(curves: dict, events: list[dict], steps_per_epoch: int) -> None:
    """Fold metric events into the series the charts draw (x in epochs, fractional for steps)."""
    for ev in events:
        if ev.get("kind") == "step" and ev.get("loss") is not None:
            done = (ev["epoch"] - 1) + ev.get("epoch_step", 0) / max(steps_per_epoch, 1)
            curves["step_x"].append(done)
            curves["step_loss"].append(ev["loss"])
            curves["step_acc"].append(ev.get("accuracy"))
        elif ev.get("kind") == "epoch" and ev.get("split") in ("train", "val"):
            curves["epochs"][ev["split"]][ev["epoch"]] = (ev.get("loss"), ev.get("accuracy"))


def curves_figure(curves: dict, classification: bool) -> go.Figure:
    """Loss (and accuracy) against epochs: per-window training points, per-epoch train and val."""
    cols = 2 if classification else 1
    titles = ("Loss", "Accuracy") if classification else ("Loss",)
    fig = make_subplots(rows=1, cols=cols, subplot_titles=titles, horizontal_spacing=0.08)
    fig.add_trace(
        go.Scatter(
            x=curves["step_x"],
            y=curves["step_loss"],
            mode="lines",
            name="train (batches)",
            line={"color": TRAIN_COLOUR, "width": 1},
            opacity=0.35,
        ),
        row=1,
        col=1,
    )
    for split, colour in (("train", TRAIN_COLOUR), ("val", VAL_COLOUR)):
        points = sorted(curves["epochs"][split].items())
        xs = [e for e, _ in points]
        fig.add_trace(
            go.Scatter(
                x=xs,
                y=[v[0] for _, v in points],
                mode="lines+markers",
                name=f"{split} loss",
                line={"color": colour},
            ),
            row=1,
            col=1,
        )
        if classification:
            fig.add_trace(
                go.Scatter(
                    x=xs,
                    y=[v[1] for _, v in points],
                    mode="lines+markers",
                    name=f"{split} accuracy",
                    line={"color": colour, "dash": "dot"},
                ),
                row=1,
                col=2,
            )
    fig.update_xaxes(title_text="epoch", rangemode="tozero")
    if classification:
        fig.update_yaxes(range=[0, 1.02], row=1, col=2)
    fig.update_layout(
        height=320,
        margin={"l": 10, "r": 10, "t": 30, "b": 10},
        legend={"orientation": "h", "y": -0.25},
        uirevision="curves",
    )
    return fig


def progress_text(trainer, last_step: dict | None, started: float, now: float) -> tuple[float, str]:
    """(fraction done, 'epoch 2/10 · step 12/23 · ETA 0:14 · cpu')."""
    cfg = trainer.config
    steps = S.get("steps_per_epoch") or 1
    epoch = last_step["epoch"] if last_step else max(trainer.epochs_done, 1)
    step = last_step.get("epoch_step", 0) if last_step else 0
    done = min(1.0, ((epoch - 1) * steps + step) / (cfg.epochs * steps))
    if trainer.state in ("finished", "stopped", "failed"):
        done = 1.0 if trainer.state == "finished" else done
    elapsed = now - started
    eta = "—" if done <= 0 or done >= 1 else _clock(elapsed * (1 - done) / done)
    return (
        done,
        f"epoch {epoch}/{cfg.epochs} · step {step}/{steps} · elapsed {_clock(elapsed)} · ETA {eta} · device {trainer.device}",
    )


def _clock(seconds: float) -> str:
    seconds = round(seconds)
    return f"{seconds // 60}:{seconds % 60:02d}"


# ---- dataset and settings ----------------------------------------------------------------------


def _dataset_choice() -> str:
    options = [*DATASETS, UPLOAD]
    # Once the pick is in the session (a loaded template set it, or the user did), it rules; a
    # default index as well would make Streamlit warn that the widget has two sources of truth.
    default = S.get("dataset_name") or "digits"
    index = None if "dataset_pick" in S else (options.index(default) if default in options else 0)
    name = st.selectbox(
        "Dataset",
        options,
        index=index,
        format_func=lambda n: n if n == UPLOAD else f"{n} — {dataset_help(n)}",
        key="dataset_pick",
    )
    S.dataset_name = name
    return name


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
        mirrors = native is None or check_compatibility(arch, native) is not None
    on = st.toggle(
        "Reconstruct the input (autoencoder)",
        value=mirrors,
        key=f"recon_{mirrors}",
        help="The target is the input itself; the live view shows inputs next to reconstructions.",
    )
    if not on:
        return None, None
    noise = st.slider(
        "Denoising: noise added to the input only", 0.0, 1.0, 0.0, 0.05, key="recon_noise"
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
    upload = st.file_uploader(
        "Data file (CSV with a label column, NPZ with x and y, or MNIST IDX)",
        type=["csv", "npz", "idx", "gz", "ubyte"],
        key="data_upload",
    )
    if upload is None:
        st.info("Upload a data file to train on it.")
        return None
    key = f"upload:{upload.name}:{upload.size}"
    if key not in cache:
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / Path(upload.name).name
            path.write_bytes(upload.getvalue())
            try:
                cache[key] = load_file(path)
            except BuilderError as err:
                err.file = upload.name
                st.error(str(err), icon=":material/error:")
                return None
    return cache[key]


def _apply_fix(dataset) -> None:
    fixed = suggest_fix(state.arch(), dataset)
    if fixed is not None:
        state.commit(fixed)
        state.notify("success", "Applied the fix: the network now fits the dataset.")


def _settings() -> None:
    c1, c2, c3, c4 = st.columns(4)
    c1.number_input("Epochs", 1, 1000, _suggested("epochs"), key=_setting_key("epochs"))
    c2.number_input("Batch size", 1, 8192, 64, key="cfg_batch")
    c3.selectbox("Optimizer", OPTIMIZERS, index=OPTIMIZERS.index("adam"), key="cfg_opt")
    c4.number_input(
        "Learning rate",
        1e-6,
        10.0,
        _suggested("lr"),
        format="%g",
        step=1e-3,
        key=_setting_key("lr"),
    )
    with st.expander("More settings"):
        d1, d2, d3, d4 = st.columns(4)
        d1.number_input("Weight decay (L2)", 0.0, 1.0, 0.0, format="%g", key="cfg_wd")
        d2.selectbox("LR schedule", SCHEDULES, key="cfg_sched")
        d3.number_input("Early stopping patience (0 = off)", 0, 100, 0, key="cfg_patience")
        d4.number_input("Seed", 0, 2**31 - 1, 0, key="cfg_seed")
        e1, e2, e3, e4 = st.columns(4)
        e1.number_input("L1 penalty", 0.0, 1.0, 0.0, format="%g", key="cfg_l1")
        e2.number_input("Gradient clipping (0 = off)", 0.0, 100.0, 0.0, format="%g", key="cfg_clip")
        e3.selectbox(
            "Loss", LOSSES, key="cfg_loss", help="auto: cross-entropy for classes, MSE for values"
        )
        e4.number_input(
            "Augment: random shift (px)",
            0,
            4,
            0,
            key="cfg_shift",
            help="Images only: random shifts.",
        )
        f1, f2, _, _ = st.columns(4)
        f1.checkbox("Random horizontal flips", key="cfg_hflip", help="Images only.")
        f2.number_input("Input noise std", 0.0, 2.0, 0.0, format="%g", key="cfg_noise")


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
    return S.get("suggested_settings", {}).get(name, SUGGESTABLE[name])


def _setting_key(name: str) -> str:
    return f"cfg_{name}_{S.get('settings_generation', 0)}"


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
        trainer = Trainer(arch, dataset, config)
    except BuilderError as err:
        SLOTS.release(owner)
        state.notify("error", str(err))
        return
    SLOTS.attach(owner, trainer)
    leave_a_core_for_the_page()
    S.trainer, S.cursor, S.curves = trainer, 0, new_curves()
    S.last_step, S.started, S.snap_time, S.snap_wait = None, time.monotonic(), 0.0, SNAPSHOT_SECONDS
    S.steps_per_epoch = -(-dataset.n_train // config.batch_size)
    S.view = {}
    trainer.start()


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


# ---- the tab ----------------------------------------------------------------------------------------


def render_train_tab() -> None:
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
    ready = dataset is not None and analysis.ok and check_compatibility(arch, dataset) is None
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
    live = busy
    st.fragment(run_every=POLL_SECONDS if live else None)(_live_view)()
    trained = trainer is not None and not busy and trainer.state in ("finished", "stopped")
    # A toggle, not an expander: Streamlit runs a closed expander's body on every rerun,
    # and these views run the model.
    if trained and st.toggle("Look inside the trained model", key="look_inside"):
        render_family_views(predictions.snapshot(trainer.model), trainer.arch, trainer.dataset)


def _compatibility(arch, analysis, dataset) -> None:
    if not analysis.ok:
        st.error(f"Fix the network first: {analysis.errors[0]}", icon=":material/error:")
        return
    problem = check_compatibility(arch, dataset)
    if problem is None:
        st.success("The network fits this dataset.", icon=":material/check_circle:")
        return
    st.error(str(problem), icon=":material/error:")
    if suggest_fix(arch, dataset) is not None:
        st.button(
            "Fix it for me",
            icon=":material/build:",
            key="fix_btn",
            on_click=_apply_fix,
            args=(dataset,),
        )


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
        _predictions(trainer)
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
        "Colour layers by", METRICS, format_func=METRIC_LABELS.get, key="diagram_metric"
    )
    st.graphviz_chart(
        render_dot(
            trainer.arch,
            _trained_analysis(trainer),
            trainer.layer_stats,
            metric,
            scale=run_scale(trainer, metric),  # the canvas tint uses the same fixed scale
        )
    )
    if trainer.layer_stats_step is not None:
        st.caption(
            f"Coloured by {METRIC_LABELS[metric]} at step {trainer.layer_stats_step} on a scale fixed at the run's first snapshot: hotter is larger."
        )


def _trained_analysis(trainer):
    if S.get("trained_analysis_for") != id(trainer):
        S.trained_analysis = analyse(trainer.arch)
        S.trained_analysis_for = id(trainer)
    return S.trained_analysis


def _predictions(trainer) -> None:
    """Confusion matrix, decision boundary (2-D sets) and sample predictions, from a model snapshot."""
    ds = trainer.dataset
    if trainer.state == "idle":
        return
    if ds.task == "reconstruction":
        # Cheap (a few images through the model), so it refreshes with every poll.
        render_reconstructions(predictions.snapshot(trainer.model), ds)
        return
    if ds.task not in ("classification", "regression"):
        return
    now = time.monotonic()
    wait = S.get("snap_wait", SNAPSHOT_SECONDS)
    if now - S.snap_time >= wait or (not trainer.running and not S.view.get("final")):
        try:
            S.view = _compute_view(trainer)
        except Exception as err:  # a snapshot taken mid-step can fail; the next one will do
            S.view.setdefault("error", str(err))
        S.view["final"] = not trainer.running
        S.snap_time = time.monotonic()
        S.snap_wait = max(SNAPSHOT_SECONDS, (S.snap_time - now) / SNAPSHOT_BUDGET)
    view = S.view
    if "fit" in view:
        st.plotly_chart(_fit_figure(*view["fit"]), width="stretch", key="fit_chart")
    if "boundary" in view:
        st.plotly_chart(
            _boundary_figure(ds, *view["boundary"]), width="stretch", key="boundary_chart"
        )
    if "confusion" in view:
        st.markdown("**Confusion matrix (validation)**")
        st.plotly_chart(
            confusion_figure(view["confusion"], ds.class_names),
            width="stretch",
            key="confusion_chart",
        )
    if "samples" in view:
        _samples(ds, *view["samples"])


def _compute_view(trainer) -> dict:
    ds = trainer.dataset
    model = predictions.snapshot(trainer.model)
    if ds.task == "regression":
        return {"fit": predictions.regression_fit(model, ds)}
    scores = predictions.class_scores(model, ds.x_val)
    pred = scores.argmax(dim=1).numpy()
    view = {
        "confusion": predictions.confusion_matrix(
            ds.y_val.numpy(), pred, max(ds.num_classes, scores.shape[1])
        ),
        "samples": (pred[:12], scores.max(dim=1).values.numpy()[:12]),
    }
    if tuple(ds.input_shape) == (2,):
        view["boundary"] = predictions.boundary_grid(model, ds.x_val)
    return view


def _fit_figure(feature, true, predicted) -> go.Figure:
    """One input: the data and the model's curve over it. More: predicted against true."""
    fig = go.Figure()
    if feature is not None:
        order = np.argsort(feature)
        fig.add_trace(go.Scatter(x=feature, y=true, mode="markers", name="validation data"))
        fig.add_trace(go.Scatter(x=feature[order], y=predicted[order], mode="lines", name="model"))
        axes = {"xaxis_title": "input", "yaxis_title": "target"}
    else:
        low, high = float(min(true.min(), predicted.min())), float(max(true.max(), predicted.max()))
        fig.add_trace(go.Scatter(x=true, y=predicted, mode="markers", name="validation samples"))
        fig.add_trace(
            go.Scatter(
                x=[low, high], y=[low, high], mode="lines", name="perfect", line={"dash": "dot"}
            )
        )
        axes = {"xaxis_title": "true", "yaxis_title": "predicted"}
    fig.update_layout(
        title="Predictions (validation)", height=360, margin={"t": 40, "b": 40}, **axes
    )
    return fig


def _boundary_figure(ds, xs, ys, z) -> go.Figure:
    fig = go.Figure(
        go.Contour(
            x=xs,
            y=ys,
            z=z,
            colorscale="RdBu",
            opacity=0.55,
            showscale=False,
            contours={"coloring": "heatmap"},
        )
    )
    x, y = ds.x_val.numpy(), ds.y_val.numpy()
    fig.add_trace(
        go.Scatter(
            x=x[:, 0],
            y=x[:, 1],
            mode="markers",
            marker={
                "color": y,
                "colorscale": "RdBu",
                "size": 6,
                "line": {"width": 0.5, "color": "white"},
            },
            showlegend=False,
        )
    )
    fig.update_layout(
        title="Decision boundary (validation points)",
        height=300,
        margin={"l": 10, "r": 10, "t": 30, "b": 10},
        uirevision="boundary",
    )
    return fig


def _samples(ds, pred: np.ndarray, confidence: np.ndarray) -> None:
    st.markdown("**Sample predictions (validation)**")
    names = [str(c) for c in ds.class_names]
    label = lambda i: names[i] if i < len(names) else str(i)  # noqa: E731
    truth = ds.y_val.numpy()[: len(pred)]
    shape = tuple(ds.input_shape)
    if len(shape) == 3 and shape[0] in (1, 3):
        cols = st.columns(6)
        for i in range(min(len(pred), 12)):
            img = ds.x_val[i].numpy()
            img = (img - img.min()) / max(float(img.max() - img.min()), 1e-9)
            img = img[0] if shape[0] == 1 else np.transpose(img, (1, 2, 0))
            mark = "✓" if pred[i] == truth[i] else "✗"
            cols[i % 6].image(
                img,
                caption=f"{mark} {label(pred[i])} (true {label(truth[i])})",
                width="stretch",
                clamp=True,
            )
        return
    rows = []
    for i in range(len(pred)):
        row = {
            "true": label(int(truth[i])),
            "predicted": label(int(pred[i])),
            "confidence": f"{confidence[i]:.0%}",
        }
        if ds.vocabulary is not None:
            # Last, so a long sentence runs off the right edge instead of hiding the verdict.
            words = [ds.vocabulary[t] for t in ds.x_val[i].tolist() if t]
            row["text"] = " ".join(words)[:120]
        rows.append(row)
    st.dataframe(rows, hide_index=True, width="stretch")
