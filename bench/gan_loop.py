"""GAN training loop: GanTrainer against a hand-written PyTorch GAN loop, in one run.

    .venv/bin/python bench/gan_loop.py [--repeats 3] [--epochs 20] [--device cpu]

Both train the gan_generator / gan_discriminator templates (same initial weights, Adam
lr 2e-4 betas (0.5, 0.999), batch 64, BCE-with-logits, non-saturating generator loss) on
the digits scaled to [-1, 1]. The hand-written loop keeps the data on the device, takes
randperm batches and reads the losses once per epoch. GanTrainer also publishes step
events every 20 steps and refreshes its 64-image sample grid every 50 steps, as it does
in the app. Runs are interleaved (alternating which goes first); the ratio is hand-written time / GanTrainer time.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch
from _timing import interleaved_medians
from torch.nn import functional as F

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from builder.compile import compile_model
from builder.data import load_dataset
from builder.gan import GanConfig, GanTrainer, gan_images, sample_diversity
from builder.templates import load_template
from builder.training import resolve_device

BATCH, LR, BETAS, NOISE = 64, 2e-4, (0.5, 0.999), 32


def hand_written_loop(gen, disc, images, epochs, device) -> float:
    """The classic loop; returns the diversity of 64 final samples (eval mode)."""
    data = images.to(device)
    gen.to(device).train()
    disc.to(device).train()
    opt_g = torch.optim.Adam(gen.parameters(), lr=LR, betas=BETAS)
    opt_d = torch.optim.Adam(disc.parameters(), lr=LR, betas=BETAS)
    ones = torch.ones(BATCH, 1, device=device)
    zeros = torch.zeros(BATCH, 1, device=device)
    for _ in range(epochs):
        sums = torch.zeros(2, device=device)
        perm = torch.randperm(len(data), device=device)
        for step in range(len(data) // BATCH):
            real = data[perm[step * BATCH : (step + 1) * BATCH]]
            fake = gen(torch.randn(BATCH, NOISE, device=device))
            loss_d = F.binary_cross_entropy_with_logits(
                disc(real), ones
            ) + F.binary_cross_entropy_with_logits(disc(fake.detach()), zeros)
            opt_d.zero_grad(set_to_none=True)
            loss_d.backward()
            opt_d.step()
            loss_g = F.binary_cross_entropy_with_logits(disc(fake), ones)
            opt_g.zero_grad(set_to_none=True)
            loss_g.backward()
            opt_g.step()
            sums += torch.stack([loss_d.detach(), loss_g.detach()])
        sums.tolist()  # one read per epoch
    gen.eval()
    with torch.no_grad():
        samples = gen(torch.randn(64, NOISE, device=device))
    return sample_diversity(samples, data[:64])


def gan_trainer_run(gen, disc, images, epochs, device, archs) -> float:
    config = GanConfig(epochs=epochs, batch_size=BATCH, lr_g=LR, lr_d=LR, device=device)
    trainer = GanTrainer(*archs, images, config, generator=gen, discriminator=disc)
    summary = trainer.run()
    if summary["state"] != "finished":
        raise SystemExit(f"GanTrainer did not finish: {summary}")
    return summary["diversity"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    device = str(resolve_device(args.device))
    archs = (load_template("gan_generator"), load_template("gan_discriminator"))
    images = gan_images(load_dataset("digits", task="reconstruction"))
    torch.manual_seed(0)
    initial = (compile_model(archs[0]), compile_model(archs[1]))
    loops = {
        "hand-written": lambda g, d: hand_written_loop(g, d, images, args.epochs, device),
        "GanTrainer": lambda g, d: gan_trainer_run(g, d, images, args.epochs, device, archs),
    }
    median, diversity = interleaved_medians(loops, initial, args.repeats, device)
    samples = (len(images) // BATCH) * BATCH * args.epochs
    print(
        f"GAN on digits ({len(images)} images), {args.epochs} epochs, {device}, "
        f"median of {args.repeats}"
    )
    for kind in loops:
        print(
            f"  {kind:13s} {median[kind]:7.2f} s  {samples / median[kind]:9.0f} images/s  "
            f"diversity {diversity[kind]:.2f}"
        )
    ratio = median["hand-written"] / median["GanTrainer"]
    print(f"  GanTrainer speed / hand-written speed = {ratio:.3f}x (target >= 0.95)")


if __name__ == "__main__":
    main()
