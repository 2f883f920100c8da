"""A small page holding the GAN panel and the family views on their own, for AppTest.

Run with: streamlit run tests/ui/family_page.py
"""

import streamlit as st

from builder.data import load_dataset
from builder.templates import load_template
from builder.training import TrainConfig, Trainer
from components.family_views import render_family_views
from components.gan_panel import render_gan_panel

st.set_page_config(page_title="LayerCraft families", layout="wide")
S = st.session_state

gan_tab, ae_tab = st.tabs(["GAN", "Autoencoder"])
with gan_tab:
    render_gan_panel()
with ae_tab:
    st.subheader("Convolutional autoencoder")
    epochs = st.number_input("Autoencoder epochs", 1, 100, 5, key="ae_epochs")
    if st.button("Train autoencoder", key="ae_train_btn"):
        arch = load_template("conv_autoencoder")
        data = load_dataset("digits", task="reconstruction")
        trainer = Trainer(arch, data, TrainConfig(epochs=int(epochs), device="cpu", log_every=5))
        trainer.start()
        S.ae_trainer = trainer

    @st.fragment(run_every=0.5)
    def _autoencoder_live():
        trainer = S.get("ae_trainer")
        if trainer is None:
            st.caption("Press Train autoencoder to start.")
            return
        val = trainer.history["val_loss"]
        st.caption(
            f"{trainer.state} · epoch {trainer.epochs_done} · val loss "
            + (f"{val[-1]:.4f}" if val else "…")
        )
        if trainer.epochs_done:
            render_family_views(trainer.model, trainer.arch, trainer.dataset)

    _autoencoder_live()
