"""The GAN panel: pick a generator and a discriminator, check the pair, train, watch it live.

Self-contained: `render_gan_panel()` keeps its GanTrainer in st.session_state["gan_trainer"]
and polls it from a fragment twice a second, so training never waits for the page.
"""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
import streamlit as st
from plotly.subplots import make_subplots

from builder.data import load_dataset
from builder.errors import BuilderError
from builder.gan import GanConfig, GanTrainer, check_gan_pair, noise_input_of
from builder.graph import Architecture
from builder.templates import list_templates, load_template

from . import live_runs, state
from .family_views import image_grid_figure
from .jobs import leave_a_core_for_the_page

S = st.session_state
POLL_SECONDS = 0.5
CANVAS = "Current graph (canvas)"
GEN_DEFAULT, DISC_DEFAULT = "gan_generator", "gan_discriminator"
D_COLOUR, G_COLOUR = "#f97316", "#3b82f6"


# ---- pure helpers -----------------------------------------------------------------------------


def new_gan_curves() -> dict[str, list]:
    return {"x": [], "loss_d": [], "loss_g": [], "d_real": [], "d_fake": [], "diversity": []}


def add_gan_events(curves: dict[str, list], events: list[dict], steps_per_epoch: int) -> None:
    """Fold step events into the series the charts draw (x in epochs, fractional)."""
    for ev in events:
        if ev.get("kind") != "step" or ev.get("loss_d") is None:
            continue
        curves["x"].append(ev["step"] / max(steps_per_epoch, 1))
        for key in ("loss_d", "loss_g", "d_real", "d_fake", "diversity"):
            curves[key].append(ev.get(key))


def gan_curves_figure(curves: dict[str, list]):
    """Two panels: both losses, and D's mean output on real (D(x)) and generated (D(G(z))) images."""
    fig = make_subplots(
        rows=1, cols=2, subplot_titles=("Losses", "Discriminator output"), horizontal_spacing=0.1
    )
    x = curves["x"]
    fig.add_trace(go.Scatter(x=x, y=curves["loss_d"], name="loss D", line_color=D_COLOUR), 1, 1)
    fig.add_trace(go.Scatter(x=x, y=curves["loss_g"], name="loss G", line_color=G_COLOUR), 1, 1)
    fig.add_trace(go.Scatter(x=x, y=curves["d_real"], name="D(x) real", line_color="#16a34a"), 1, 2)
    fig.add_trace(
        go.Scatter(x=x, y=curves["d_fake"], name="D(G(z)) fake", line_color="#dc2626"), 1, 2
    )
    fig.update_yaxes(range=[0, 1], row=1, col=2)
    fig.update_xaxes(title="epoch")
    fig.update_layout(height=300, margin=dict(l=0, r=0, t=30, b=0), legend=dict(orientation="h"))
    return fig


@st.cache_data(show_spinner=False)
def template_choices() -> list[str]:
    """Template stems, the GAN pair first (read once: templates do not change while serving)."""
    stems = [stem for stem, _, _ in list_templates()]
    first = [s for s in (GEN_DEFAULT, DISC_DEFAULT) if s in stems]
    return first + [s for s in stems if s not in first]


def _load_choice(choice: str) -> Architecture:
    if choice == CANVAS:
        return S.arch.copy()
    return load_template(choice)


@st.cache_resource(show_spinner=False)
def _gan_digits():
    # Unstandardised [0, 1] pixels; GanTrainer scales them to [-1, 1] for the Tanh output.
    return load_dataset("digits", task="reconstruction")


def _checked_pair(gen_choice: str, disc_choice: str):
    """(generator, pair problem or None), worked out once per choice and graph revision:
    every rerun of the page draws this tab, and loading and analysing two graphs each time
    made it the heaviest panel of an edit."""
    on_canvas = CANVAS in (gen_choice, disc_choice)
    key = (gen_choice, disc_choice, S.get("version") if on_canvas else None)
    cached = S.get("gan_pair_check")
    if cached is None or cached[0] != key:
        gen, disc = _load_choice(gen_choice), _load_choice(disc_choice)
        cached = S.gan_pair_check = (key, gen, check_gan_pair(gen, disc))
    return cached[1], cached[2]


# ---- the panel --------------------------------------------------------------------------------


def render_gan_panel() -> None:
    """Generator/discriminator pickers, pair check, settings, Train/Stop and the live view."""
    st.subheader("Generative adversarial network")
    st.caption(
        "Two networks trained against each other on the 8×8 digits: the generator turns noise "
        "into images, the discriminator tells real from generated."
    )
    choices = template_choices() + ([CANVAS] if "arch" in S else [])
    left, right = st.columns(2)
    gen_choice = left.selectbox(
        "Generator", choices, index=0, key="gan_gen_choice", persist_state="session"
    )
    disc_default = choices.index(DISC_DEFAULT) if DISC_DEFAULT in choices else 0
    disc_choice = right.selectbox(
        "Discriminator", choices, index=disc_default, key="gan_disc_choice", persist_state="session"
    )
    try:
        gen, problem = _checked_pair(gen_choice, disc_choice)
    except BuilderError as err:
        st.error(str(err), icon=":material/error:")
        return
    if problem is not None:
        st.error(f"These two do not fit together: {problem}", icon=":material/error:")
    else:
        _, noise_dim = noise_input_of(gen)
        st.caption(f"Noise size {noise_dim} (from the generator's Input) · the pair fits.")
    _settings()
    _reattach()
    trainer = S.get("gan_trainer")
    busy = trainer is not None and trainer.running
    c1, c2, _ = st.columns([1, 1, 4])
    c1.button(
        "Train GAN",
        icon=":material/play_arrow:",
        type="primary",
        key="gan_train_btn",
        disabled=busy or problem is not None,
        on_click=_start,
        width="stretch",
    )
    c2.button(
        "Stop GAN",
        icon=":material/stop:",
        key="gan_stop_btn",
        disabled=not busy,
        on_click=_stop,
        width="stretch",
    )
    st.fragment(run_every=POLL_SECONDS if busy else None)(_live_view)()


def _settings() -> None:
    cols = st.columns(5)
    cols[0].number_input("Epochs", 1, 500, 30, key="gan_epochs", persist_state="session")
    cols[1].number_input(
        "Batch size", 8, 1024, 64, step=8, key="gan_batch", persist_state="session"
    )
    cols[2].number_input(
        "lr G", 1e-6, 1.0, 2e-4, format="%.5f", key="gan_lr_g", persist_state="session"
    )
    cols[3].number_input(
        "lr D", 1e-6, 1.0, 2e-4, format="%.5f", key="gan_lr_d", persist_state="session"
    )
    cols[4].number_input(
        "Samples every (steps)", 1, 1000, 20, key="gan_every", persist_state="session"
    )


def _config_from_widgets() -> GanConfig:
    # Read at click time: callback args would hold the values of the previous page run.
    return GanConfig(
        epochs=int(S.gan_epochs),
        batch_size=int(S.gan_batch),
        lr_g=float(S.gan_lr_g),
        lr_d=float(S.gan_lr_d),
        sample_every=int(S.gan_every),
        log_every=5,
    )


def _start() -> None:
    old = S.get("gan_trainer")
    if old is not None:
        old.stop()
    try:
        gen, disc = _load_choice(S.gan_gen_choice), _load_choice(S.gan_disc_choice)
        trainer = GanTrainer(
            gen,
            disc,
            _gan_digits(),
            _config_from_widgets(),
            store=state.run_store(),
            project=S.get("project_id"),
            extra={"dataset_options": {"task": "reconstruction"}, "source_of_run": "app"},
        )
    except BuilderError as err:
        S.gan_error = str(err)
        return
    S.gan_error = None
    S.gan_trainer = trainer
    live_runs.register(S.get("project_id"), "gan", trainer)
    S.gan_cursor = 0
    S.gan_curves = new_gan_curves()
    leave_a_core_for_the_page()
    trainer.start()


def _reattach() -> None:
    """Follow the project's current GAN run, whichever tab started it (or before a reload)."""
    current = live_runs.latest(S.get("project_id"), "gan")
    if current is not None and S.get("gan_trainer") is not current:
        S.gan_trainer, S.gan_cursor, S.gan_curves = current, 0, new_gan_curves()


def _stop() -> None:
    trainer = S.get("gan_trainer")
    if trainer is not None:
        trainer.stop()


def _live_view() -> None:
    if S.get("gan_error"):
        st.error(S.gan_error, icon=":material/error:")
    trainer = S.get("gan_trainer")
    if trainer is None:
        st.info("Press Train GAN to start.", icon=":material/info:")
        return
    events, S.gan_cursor = trainer.events_since(S.get("gan_cursor", 0))
    curves = S.setdefault("gan_curves", new_gan_curves())
    add_gan_events(curves, events, trainer.steps_per_epoch())
    _status_line(trainer)
    if curves["x"]:
        st.plotly_chart(gan_curves_figure(curves), key="gan_curves_chart")
    samples = trainer.latest_samples()
    if samples is not None:
        diversity = trainer.diversity
        st.markdown(
            f"**Generated samples** (fixed noise, step {trainer.samples_step}) · diversity "
            f"{diversity:.2f} (real digits = 1.00; near 0 = collapse to one output)"
        )
        st.plotly_chart(
            image_grid_figure(np.asarray(samples), ncols=8, height=460, value_range=(0, 1)),
            key="gan_samples_chart",
        )
    if trainer.running:
        return
    if S.get("gan_finished_run") != trainer.run_id:
        # Redraw the whole page once so the buttons leave their "running" state.
        S.gan_finished_run = trainer.run_id
        st.rerun()


def _status_line(trainer: GanTrainer) -> None:
    cfg = trainer.config
    text = (
        f"{trainer.state} · epoch {trainer.epochs_done}/{cfg.epochs} · step {trainer.global_step}"
    )
    if trainer.state == "failed":
        st.error(trainer.message, icon=":material/error:")
    elif trainer.state == "finished":
        st.success(text, icon=":material/check_circle:")
    else:
        st.caption(text)
