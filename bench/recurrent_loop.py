"""Recurrent training loop: our Trainer against a hand-written PyTorch loop, in one run.

    .venv/bin/python bench/recurrent_loop.py [--repeats 3] [--epochs 3] [--device cpu]
        [--template lstm_text]

Both train the same LSTM text classifier (the lstm_text template: Embedding -> LSTM ->
Linear, same initial weights, Adam, batch 64) on the embedded sentiment set for the same
epochs, with one validation pass per epoch. The hand-written loop is the careful one:
data resident on the device, randperm batches, loss and accuracy summed on the device and
read once per epoch. Runs are interleaved (alternating which goes first) so a busy machine slows both alike; the ratio is
hand-written time / trainer time (1.0 = as fast; target >= 0.95).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch
from _timing import interleaved_medians
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from builder.compile import compile_model
from builder.data import load_dataset
from builder.templates import load_template
from builder.training import TrainConfig, Trainer, resolve_device

BATCH = 64
LR = 1e-3


def hand_written_loop(model, ds, epochs, device) -> float:
    """Device-resident data, randperm batches, one host read per epoch; returns val accuracy."""
    x, y = ds.x_train.to(device), ds.y_train.to(device)
    xv, yv = ds.x_val.to(device), ds.y_val.to(device)
    model.to(device)
    opt = torch.optim.Adam(model.parameters(), lr=LR)
    loss_fn = nn.CrossEntropyLoss()
    accuracy = 0.0
    for _ in range(epochs):
        model.train()
        loss_sum = torch.zeros((), device=device)
        perm = torch.randperm(len(x), device=device)
        for start in range(0, len(x), BATCH):
            idx = perm[start : start + BATCH]
            out = model(x[idx])
            loss = loss_fn(out, y[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            loss_sum += loss.detach()
        model.eval()
        with torch.no_grad():
            correct = torch.zeros((), device=device, dtype=torch.int64)
            val_loss = torch.zeros((), device=device)
            for start in range(0, len(xv), 1024):
                out = model(xv[start : start + 1024])
                val_loss += loss_fn(out, yv[start : start + 1024]) * len(out)
                correct += (out.argmax(-1) == yv[start : start + 1024]).sum()
        _, n_correct, _ = loss_sum.item(), correct.item(), val_loss.item()
        accuracy = n_correct / len(xv)
    return accuracy


def trainer_run(model, ds, epochs, device, arch) -> float:
    config = TrainConfig(epochs=epochs, batch_size=BATCH, lr=LR, device=device)
    summary = Trainer(arch, ds, config, model=model).run()
    if summary["state"] != "finished":
        raise SystemExit(f"trainer did not finish: {summary}")
    return summary["val_accuracy"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--template", default="lstm_text")
    args = parser.parse_args()
    device = str(resolve_device(args.device))
    arch = load_template(args.template)
    ds = load_dataset("sentiment")
    torch.manual_seed(0)
    initial = compile_model(arch)
    loops = {
        "hand-written": lambda m: hand_written_loop(m, ds, args.epochs, device),
        "trainer": lambda m: trainer_run(m, ds, args.epochs, device, arch),
    }
    median, accuracy = interleaved_medians(loops, (initial,), args.repeats, device)
    samples = ds.n_train * args.epochs
    print(
        f"{args.template} on sentiment ({ds.n_train} train), {args.epochs} epochs, {device}, "
        f"median of {args.repeats}"
    )
    for kind in loops:
        print(
            f"  {kind:13s} {median[kind]:7.2f} s  {samples / median[kind]:9.0f} samples/s  "
            f"val acc {accuracy[kind]:.3f}"
        )
    ratio = median["hand-written"] / median["trainer"]
    print(f"  trainer speed / hand-written speed = {ratio:.3f}x (target >= 0.95)")


if __name__ == "__main__":
    main()
