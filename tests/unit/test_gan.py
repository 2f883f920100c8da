"""GAN projects: the generator/discriminator pair check and the adversarial trainer."""

import numpy as np
import pytest
import torch

from builder.data import load_dataset
from builder.errors import BuilderError
from builder.gan import (
    GanConfig,
    GanTrainer,
    check_gan_pair,
    gan_images,
    noise_input_of,
    sample_diversity,
)
from builder.templates import load_template


@pytest.fixture(scope="module")
def digits():
    return load_dataset("digits", task="reconstruction", n_samples=320)


def _pair():
    return load_template("gan_generator"), load_template("gan_discriminator")


def test_template_pair_fits_and_reads_noise_size_from_the_generator_input():
    gen, disc = _pair()
    assert check_gan_pair(gen, disc) is None
    assert noise_input_of(gen) == ("noise", 32)


def test_pair_check_names_both_nodes_and_the_fix_when_shapes_differ():
    gen, disc = _pair()
    disc.set_params("image", {"shape": [1, 28, 28]})
    err = check_gan_pair(gen, disc)
    assert isinstance(err, BuilderError)
    assert err.node == "image" and err.field == "shape"
    text = str(err)
    assert "'image' gives [1, 8, 8]" in text and "expects [1, 28, 28]" in text
    assert "Set the discriminator Input shape to [1, 8, 8]" in text


def test_pair_check_rejects_a_discriminator_with_more_than_one_score():
    gen, disc = _pair()
    disc.set_params("real_logit", {"out_features": 2})
    err = check_gan_pair(gen, disc)
    assert err is not None and err.node == "real_logit"
    assert "Linear(out_features=1)" in err.hint


def test_pair_check_rejects_an_image_shaped_noise_input():
    gen, disc = _pair()
    gen.set_params("noise", {"shape": [1, 4, 8]})
    err = check_gan_pair(gen, disc)
    assert err is not None and err.node is not None


def test_gan_images_are_scaled_to_minus_one_one(digits):
    images = gan_images(digits)
    assert images.min().item() == pytest.approx(-1.0)
    assert images.max().item() == pytest.approx(1.0)


def test_gan_refuses_token_id_data():
    text = load_dataset("sentiment", n_samples=64)
    with pytest.raises(BuilderError, match="image data"):
        gan_images(text)


def test_trainer_refuses_images_that_do_not_fit_the_discriminator():
    gen, disc = _pair()
    with pytest.raises(BuilderError, match="dataset's images"):
        GanTrainer(gen, disc, torch.rand(64, 1, 6, 6), GanConfig(epochs=1, device="cpu"))


def test_short_run_publishes_both_losses_and_d_outputs_and_samples(digits):
    gen, disc = _pair()
    config = GanConfig(epochs=2, batch_size=32, sample_every=5, log_every=4, device="cpu")
    trainer = GanTrainer(gen, disc, digits, config)
    assert trainer.latest_samples() is None
    summary = trainer.run()
    assert summary["state"] == "finished" and summary["epochs"] == 2
    events, cursor = trainer.events_since(0)
    kinds = {e["kind"] for e in events}
    assert kinds == {"status", "step", "epoch"}
    steps = [e for e in events if e["kind"] == "step"]
    for key in ("loss_d", "loss_g", "d_real", "d_fake", "loss", "samples_per_s"):
        assert all(np.isfinite(e[key]) for e in steps), key
    assert all(0 <= e["d_real"] <= 1 and 0 <= e["d_fake"] <= 1 for e in steps)
    epochs = [e for e in events if e["kind"] == "epoch"]
    assert [e["epoch"] for e in epochs] == [1, 2]
    assert all(e["diversity"] > 0 for e in epochs)
    samples = trainer.latest_samples()
    assert samples.shape == (64, 1, 8, 8) and samples.dtype == np.float32
    assert samples.min() >= 0 and samples.max() <= 1
    assert trainer.events_since(cursor) == ([], cursor)


def test_both_networks_learn_with_their_own_optimizer(digits):
    gen, disc = _pair()
    trainer = GanTrainer(gen, disc, digits, GanConfig(epochs=1, batch_size=32, device="cpu"))
    g_before = [p.detach().clone() for p in trainer.generator.parameters()]
    d_before = [p.detach().clone() for p in trainer.discriminator.parameters()]
    trainer.run()
    assert trainer.opt_g is not trainer.opt_d
    assert all(
        not torch.equal(a, b) for a, b in zip(g_before, trainer.generator.parameters(), strict=True)
    )
    assert all(
        not torch.equal(a, b)
        for a, b in zip(d_before, trainer.discriminator.parameters(), strict=True)
    )


def test_stop_ends_a_background_run_with_state_stopped(digits):
    gen, disc = _pair()
    trainer = GanTrainer(gen, disc, digits, GanConfig(epochs=10_000, device="cpu"))
    trainer.start()
    trainer.pause()
    trainer.stop()
    assert trainer.join(timeout=30)
    assert trainer.state == "stopped"
    assert trainer.summary()["message"].startswith("stopped by the user")


def test_diversity_is_near_zero_for_a_collapsed_generator_and_near_one_for_real_data(digits):
    images = gan_images(digits)
    assert sample_diversity(images[:64], images[64:128]) == pytest.approx(1.0, abs=0.15)
    collapsed = images[:1].repeat(64, 1, 1, 1)
    assert sample_diversity(collapsed, images[64:128]) < 0.01


def test_config_rejects_bad_learning_rate_and_unknown_settings():
    with pytest.raises(BuilderError) as err:
        GanConfig(lr_d=0).validate()
    assert err.value.field == "lr_d"
    with pytest.raises(BuilderError, match="unknown GAN setting"):
        GanConfig.from_dict({"lr": 1e-3})
    assert GanConfig.from_dict(GanConfig().to_dict()) == GanConfig()


@pytest.mark.slow
def test_template_gan_trains_on_digits_without_mode_collapse():
    gen, disc = _pair()
    data = load_dataset("digits", task="reconstruction")
    trainer = GanTrainer(gen, disc, data, GanConfig(epochs=12, device="cpu"))
    summary = trainer.run()
    assert summary["state"] == "finished"
    # Collapse to one output gives ~0; real digits give 1 by definition.
    assert min(trainer.history["diversity"][3:]) > 0.3
    # Neither network wins outright: D is not certain about real or fake images.
    assert 0.2 < summary["d_fake"] < 0.8 and 0.2 < summary["d_real"] < 0.9
    samples = trainer.generate(64)
    flat = samples.reshape(64, -1)
    assert np.unique(flat.round(2), axis=0).shape[0] == 64


def test_command_line_trains_the_pair_and_prints_a_summary(tmp_path, capsys):
    import json

    from builder.cli import main
    from builder.templates import TEMPLATE_DIR

    code = main(
        ["train", str(TEMPLATE_DIR / "gan_generator.json"),
         "--discriminator", str(TEMPLATE_DIR / "gan_discriminator.json"),
         "--dataset", "digits", "--epochs", "2", "--device", "cpu",
         "--samples-out", str(tmp_path / "samples.npy"),
         "--metrics-out", str(tmp_path / "metrics.jsonl")]
    )  # fmt: skip
    out, err = capsys.readouterr()
    summary = json.loads(out.strip().splitlines()[-1])
    assert code == 0 and summary["task"] == "gan" and summary["epochs"] == 2
    assert summary["diversity"] > 0 and 0 < summary["d_real"] < 1
    assert "epoch 2/2 loss_d" in err and "D(G(z))" in err
    assert np.load(tmp_path / "samples.npy").shape == (64, 1, 8, 8)
    events = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert [e["epoch"] for e in events if e["kind"] == "epoch"] == [1, 2]


def test_command_line_reports_a_mismatched_pair_without_a_traceback(tmp_path, capsys):
    from builder.cli import main

    gen, disc = _pair()
    disc.set_params("image", {"shape": [1, 28, 28]})
    gen.save(tmp_path / "g.json")
    disc.save(tmp_path / "d.json")
    args = ["train", str(tmp_path / "g.json"), "--discriminator", str(tmp_path / "d.json")]
    assert main([*args, "--dataset", "digits"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: image.shape: the generator's output")


def test_command_line_refuses_save_for_a_gan_pair(tmp_path, capsys):
    from builder.cli import main
    from builder.templates import TEMPLATE_DIR

    args = ["train", str(TEMPLATE_DIR / "gan_generator.json"), "--discriminator",
            str(TEMPLATE_DIR / "gan_discriminator.json"), "--dataset", "digits",
            "--save", str(tmp_path / "out")]  # fmt: skip
    assert main(args) == 1
    assert "error: save: --save is not available for a GAN pair" in capsys.readouterr().err
