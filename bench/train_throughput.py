"""Training throughput: our Trainer against two hand-written PyTorch loops, in one run.

    .venv/bin/python bench/train_throughput.py [--repeats 5] [--device cpu] [--quick] [--big]

Each loop trains the same model (same initial weights, Adam, same batch size) on the
same data for the same epochs, with a validation pass per epoch, and tracks loss and
accuracy the way it naturally would:

- tight:      data resident on the device, randperm batches, loss/accuracy summed on the
              device and read once per epoch (the fastest honest hand-written loop);
- dataloader: TensorDataset + DataLoader(shuffle=True), `.item()` on every step (the
              typical tutorial loop);
- trainer:    builder.training.Trainer, with per-layer statistics off and on.

Runs are interleaved (tight, dataloader, trainer, trainer+stats, tight, ...) so a busy
machine slows all of them alike; the table reports the best time of each and the ratios
of throughputs (higher is better for the trainer). On a shared machine use --threads 1:
then the thread CPU time of each loop is printed too, which other processes barely move.
"""

from __future__ import annotations

import argparse
import copy
import sys
import time
from pathlib import Path

import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from builder.compile import compile_model
from builder.data import load_dataset
from builder.graph import Architecture
from builder.training import TrainConfig, Trainer

TEMPLATES = Path(__file__).resolve().parents[1] / "assets" / "templates"
BATCH = 64
LR = 1e-3
STATS_EVERY = 25


def tight_loop(model, ds, epochs, device) -> None:
    """Hand-written loop: device-resident data, randperm batches, no per-step host sync."""
    x, y = ds.x_train.to(device), ds.y_train.to(device)
    xv, yv = ds.x_val.to(device), ds.y_val.to(device)
    model.to(device)
    opt = torch.optim.Adam(model.parameters(), lr=LR)
    loss_fn = nn.CrossEntropyLoss()
    n = len(x)
    for _ in range(epochs):
        model.train()
        loss_sum = torch.zeros((), device=device)
        correct = torch.zeros((), device=device, dtype=torch.int64)
        perm = torch.randperm(n, device=device)
        for start in range(0, n, BATCH):
            idx = perm[start : start + BATCH]
            xb, yb = x[idx], y[idx]
            out = model(xb)
            loss = loss_fn(out, yb)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            loss_sum += loss.detach()
            correct += (out.detach().argmax(-1) == yb).sum()
        model.eval()
        with torch.no_grad():
            val_loss = torch.zeros((), device=device)
            val_correct = torch.zeros((), device=device, dtype=torch.int64)
            for start in range(0, len(xv), 1024):
                out = model(xv[start : start + 1024])
                val_loss += loss_fn(out, yv[start : start + 1024]) * len(out)
                val_correct += (out.argmax(-1) == yv[start : start + 1024]).sum()
        # One read per epoch, as a careful hand-written loop would log it.
        _ = (loss_sum.item(), correct.item(), val_loss.item(), val_correct.item())


def dataloader_loop(model, ds, epochs, device) -> None:
    """The typical loop: TensorDataset + DataLoader, .item() every step."""
    train = DataLoader(TensorDataset(ds.x_train, ds.y_train), batch_size=BATCH, shuffle=True)
    val = DataLoader(TensorDataset(ds.x_val, ds.y_val), batch_size=1024)
    model.to(device)
    opt = torch.optim.Adam(model.parameters(), lr=LR)
    loss_fn = nn.CrossEntropyLoss()
    for _ in range(epochs):
        model.train()
        running, correct = 0.0, 0
        for xb, yb in train:
            xb, yb = xb.to(device), yb.to(device)
            out = model(xb)
            loss = loss_fn(out, yb)
            opt.zero_grad()
            loss.backward()
            opt.step()
            running += loss.item()
            correct += (out.argmax(-1) == yb).sum().item()
        model.eval()
        val_loss, val_correct = 0.0, 0
        with torch.no_grad():
            for xb, yb in val:
                xb, yb = xb.to(device), yb.to(device)
                out = model(xb)
                val_loss += loss_fn(out, yb).item() * len(xb)
                val_correct += (out.argmax(-1) == yb).sum().item()


def trainer_run(model, ds, epochs, device, arch, stats_every=0) -> None:
    config = TrainConfig(
        epochs=epochs, batch_size=BATCH, lr=LR, device=device, stats_every=stats_every
    )
    summary = Trainer(arch, ds, config, model=model).run()
    if summary["state"] != "finished":
        raise SystemExit(f"trainer did not finish: {summary}")


def _synchronise(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def measure(case, repeats, device) -> dict[str, tuple[float, float]]:
    """Best (wall seconds, thread CPU seconds) per loop kind over `repeats` interleaved rounds.

    The minimum is the estimate least disturbed by other work on a shared machine; with
    --threads 1 all the work runs on this thread, so its CPU time ignores other processes.
    """
    _name, arch, ds, epochs = case
    torch.manual_seed(0)
    initial = compile_model(arch)
    loops = {
        "tight": lambda m: tight_loop(m, ds, epochs, device),
        "dataloader": lambda m: dataloader_loop(m, ds, epochs, device),
        "trainer": lambda m: trainer_run(m, ds, epochs, device, arch),
        "trainer+stats": lambda m: trainer_run(m, ds, epochs, device, arch, STATS_EVERY),
    }
    wall: dict[str, list[float]] = {k: [] for k in loops}
    cpu: dict[str, list[float]] = {k: [] for k in loops}
    for loop in loops.values():  # warm-up: allocator, kernels, lazy init
        loop(copy.deepcopy(initial))
    for _ in range(repeats):
        for kind, loop in loops.items():
            model = copy.deepcopy(initial)
            _synchronise(device)
            start, start_cpu = time.perf_counter(), time.thread_time()
            loop(model)
            _synchronise(device)
            wall[kind].append(time.perf_counter() - start)
            cpu[kind].append(time.thread_time() - start_cpu)
    return {kind: (min(wall[kind]), min(cpu[kind])) for kind in loops}


def _row(label: str, t: dict[str, float]) -> str:
    return (
        f"{label:40} {t['tight']:8.3f} {t['dataloader']:9.3f} {t['trainer']:8.3f} "
        f"{t['trainer+stats']:8.3f} {t['tight'] / t['trainer']:8.3f}x "
        f"{t['dataloader'] / t['trainer']:9.3f}x {t['tight'] / t['trainer+stats']:14.3f}x"
    )


def cases(quick: bool, big: bool):
    lenet = Architecture.load(TEMPLATES / "lenet5.json")
    mlp = Architecture.load(TEMPLATES / "mlp_digits.json")
    # 10,240 samples with a 20 % validation split leaves 8,192 to train on.
    synthetic = load_dataset("synthetic", n_samples=10_240, height=32, width=32)
    digits = load_dataset("digits")
    out = [
        ("LeNet-5, 8,192 synthetic 1×32×32", lenet, synthetic, 1),
        ("digits MLP, 1,438 digits", mlp, digits, 5 if quick else 20),
    ]
    if big:
        lenet28 = lenet.copy()
        lenet28.update_params(lenet28.input_nodes()[0], shape=[1, 28, 28])
        mnist_like = load_dataset("synthetic", n_samples=75_000, height=28, width=28)
        out.append(("LeNet-5, 60,000 synthetic 1×28×28", lenet28, mnist_like, 1))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--quick", action="store_true", help="fewer epochs (smoke test)")
    parser.add_argument("--big", action="store_true", help="add LeNet-5 on 60,000 1×28×28")
    parser.add_argument("--threads", type=int, help="torch CPU threads (default: torch's choice)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    print(f"device {args.device}, torch {torch.__version__}, threads {torch.get_num_threads()}")
    header = (
        f"{'model (time kind)':40} {'tight s':>8} {'loader s':>9} {'ours s':>8} {'stats s':>8} "
        f"{'vs tight':>9} {'vs loader':>10} {'stats vs tight':>15}"
    )
    print(header)
    print("-" * len(header))
    single_thread = torch.get_num_threads() == 1 and args.device == "cpu"
    for case in cases(args.quick, args.big):
        t = measure(case, args.repeats, args.device)
        print(_row(f"{case[0]} (wall)", {k: v[0] for k, v in t.items()}), flush=True)
        if single_thread:
            print(_row(f"{case[0]} (CPU)", {k: v[1] for k, v in t.items()}), flush=True)
    print("ratios are throughput of ours / theirs (same epochs, same data): higher is better")


if __name__ == "__main__":
    main()
