"""The GAN panel and the family views in a Streamlit AppTest (no browser)."""

from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from components.family_views import (
    attention_figure,
    confusion_figure,
    hidden_norm_figure,
    image_grid_figure,
    token_words,
)
from components.gan_panel import add_gan_events, gan_curves_figure, new_gan_curves

PAGE = str(Path(__file__).resolve().parent / "family_page.py")


def _page() -> AppTest:
    return AppTest.from_file(PAGE, default_timeout=60).run()


def test_gan_panel_offers_the_template_pair_and_says_it_fits():
    at = _page()
    assert not at.exception
    assert at.selectbox(key="gan_gen_choice").value == "gan_generator"
    assert at.selectbox(key="gan_disc_choice").value == "gan_discriminator"
    assert any("the pair fits" in c.value for c in at.caption)


def test_gan_panel_explains_a_mismatched_pair_and_disables_training():
    at = _page()
    at.selectbox(key="gan_disc_choice").select("lenet5").run()
    errors = [e.value for e in at.error]
    assert any("do not fit together" in e and "expects [1, 32, 32]" in e for e in errors)
    assert at.button(key="gan_train_btn").disabled


def test_gan_panel_trains_and_shows_curves_and_a_sample_grid():
    at = _page()
    at.number_input(key="gan_epochs").set_value(1)
    at.button(key="gan_train_btn").click().run()
    trainer = at.session_state["gan_trainer"]
    assert trainer.join(timeout=60)
    at.run()
    assert not at.exception
    assert any("Generated samples" in m.value for m in at.markdown)
    assert any("finished" in s.value for s in at.success)


def test_gan_event_folding_and_figures_follow_the_events():
    curves = new_gan_curves()
    events = [
        {"kind": "status", "state": "running"},
        {"kind": "step", "step": 11, "loss_d": 1.2, "loss_g": 0.8, "d_real": 0.6, "d_fake": 0.4},
        {"kind": "epoch", "epoch": 1, "loss_d": 1.0},
    ]
    add_gan_events(curves, events, steps_per_epoch=22)
    assert curves["x"] == [0.5] and curves["loss_g"] == [0.8]
    fig = gan_curves_figure(curves)
    assert [t.name for t in fig.data] == ["loss D", "loss G", "D(x) real", "D(G(z)) fake"]


def test_figures_draw_grids_heat_maps_and_lines_from_view_arrays():
    grid = image_grid_figure(np.random.rand(10, 1, 8, 8), ncols=5)
    assert grid.data[0].z.shape == (17, 44)
    cm = confusion_figure(np.array([[3, 1], [0, 4]]), ["neg", "pos"])
    assert list(cm.data[0].x) == ["neg", "pos"]
    attn = attention_figure(np.random.rand(2, 3, 3), ["a", "b", "a"], head=1)
    assert list(attn.data[0].y) == ["0:a", "1:b", "2:a"]
    lines = hidden_norm_figure({"lstm1": np.arange(4.0)})
    assert list(lines.data[0].y) == [0, 1, 2, 3]


def test_token_words_map_ids_to_words_and_mark_padding():
    assert token_words([3, 1, 0], ["<pad>", "good", "bad", "film"]) == ["film", "good", "·"]


@pytest.mark.slow
def test_autoencoder_page_trains_and_shows_reconstructions():
    at = _page()
    at.number_input(key="ae_epochs").set_value(2)
    at.button(key="ae_train_btn").click().run()
    trainer = at.session_state["ae_trainer"]
    assert trainer.join(timeout=120)
    at.run()
    assert not at.exception
    assert any("input · reconstruction" in c.value for c in at.caption)


def _views_page(template: str, dataset: str):
    """A page that renders every family view of an untrained template on a small dataset."""

    def page(template, dataset):
        from builder.compile import compile_model
        from builder.data import load_dataset
        from builder.templates import load_template
        from components.family_views import render_family_views

        arch = load_template(template)
        render_family_views(compile_model(arch), arch, load_dataset(dataset, n_samples=200))

    return AppTest.from_function(page, default_timeout=60, args=(template, dataset)).run()


def test_family_views_for_an_image_classifier_show_confusion_matrix_and_mistakes():
    at = _views_page("lenet_digits", "digits")
    assert not at.exception and not at.warning
    assert [t.label for t in at.tabs] == ["Confusion matrix", "Mistakes", "Explain"]
    assert any("Integrated gradients" in c.value for c in at.caption)


@pytest.mark.parametrize(
    ("template", "tabs"),
    [
        ("lstm_text", ["Confusion matrix", "Mistakes", "Hidden state", "Explain"]),
        ("transformer_text", ["Confusion matrix", "Mistakes", "Attention", "Explain"]),
    ],
)
def test_family_views_for_text_models_look_inside_the_chosen_example(template, tabs):
    at = _views_page(template, "sentiment")
    assert not at.exception and not at.warning
    assert [t.label for t in at.tabs] == tabs
    assert any("Integrated gradients per token" in c.value for c in at.caption)


def test_family_views_for_a_feature_model_explain_with_permutation_importance():
    at = _views_page("mlp_moons", "moons")
    assert not at.exception and not at.warning
    assert "Explain" in [t.label for t in at.tabs]
    assert any("Permutation importance" in c.value for c in at.caption)
