"""The path users run, against a tight hand-written loop in the same run:

    .venv/bin/python bench/runs_path.py [--repeats 3] [--epochs-scale 1] [--rss-runs 10]

- thread:  Trainer.start() in its background thread, then join (what the app and CLI do);
- store:   the same with a RunStore (events batched by the recorder thread, weights saved);
- cli:     `python -m builder train` as a subprocess; its own JSON line gives the training
           throughput (samples/s), so interpreter start-up is reported apart, not hidden;
- tight:   bench/train_throughput.py's tight loop (device-resident data, randperm batches).

Interleaved (tight, thread, store, then cli; the first three rotate their order from one
repeat to the next, so none always runs first); each figure is the best of
the repeats, and ratios are throughputs (higher is better for us). The store's cost is also
given as the median of the per-repeat ratios (store vs the thread run just before it): a
run store costs a few milliseconds per run, below this machine's run-to-run noise, and the
paired median is the steadier figure. Then ten recorded runs in
one process, and how much the process's RSS grew from after the first to after the tenth.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from train_throughput import BATCH, LR, tight_loop  # noqa: E402

from builder.compile import compile_model  # noqa: E402
from builder.data import load_dataset  # noqa: E402
from builder.graph import Architecture  # noqa: E402
from builder.runs import RunStore  # noqa: E402
from builder.training import TrainConfig, Trainer  # noqa: E402

# (template, dataset, epochs): runs of 2-4 s, so the fixed cost of a run (thread, record,
# weights file) does not hide the loop and the machine's noise stays a few percent (at
# 40 and 5 epochs, 0.4-0.9 s runs, the same figure moved by 10% between runs). The MLP went
# from 160 to 320 epochs when its 160 had become 1.1 s runs.
CASES = (("mlp_digits", "digits", 320), ("lenet5", "digits32", 20))


def rss_mb() -> float:
    with open("/proc/self/statm") as handle:
        pages = int(handle.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


def thread_run(arch, ds, epochs, store=None) -> float:
    config = TrainConfig(epochs=epochs, batch_size=BATCH, lr=LR, device="cpu")
    model = compile_model(arch)
    trainer = Trainer(arch, ds, config, model=model, store=store)
    start = time.perf_counter()
    trainer.start()
    trainer.join()
    seconds = time.perf_counter() - start
    if trainer.state != "finished":
        raise SystemExit(f"trainer did not finish: {trainer.message}")
    return seconds


def tight_run(arch, ds, epochs) -> float:
    model = compile_model(arch)
    start = time.perf_counter()
    tight_loop(model, ds, epochs, "cpu")
    return time.perf_counter() - start


def cli_run(stem, dataset, epochs, home) -> tuple[float, float]:
    """(samples/s the CLI reports for its training, wall seconds of the whole process)."""
    start = time.perf_counter()
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "builder",
            "train",
            str(ROOT / "assets/templates" / f"{stem}.json"),
            "--dataset",
            dataset,
            "--epochs",
            str(epochs),
            "--batch-size",
            str(BATCH),
            "--lr",
            str(LR),
            "--device",
            "cpu",
            "--quiet",
            "--home",
            str(home),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    wall = time.perf_counter() - start
    return json.loads(done.stdout.strip().splitlines()[-1])["samples_per_s"], wall


def _rotated(names: tuple[str, ...], repeat: int) -> tuple[str, ...]:
    """Each repeat starts with the next variant: whichever runs first or right after another
    (a warmer cache, a cooler core) is not always the same one."""
    shift = repeat % len(names)
    return names[shift:] + names[:shift]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=6)
    parser.add_argument("--epochs-scale", type=float, default=1.0, help="multiply the epochs")
    parser.add_argument("--rss-runs", type=int, default=10)
    args = parser.parse_args()
    torch.set_num_threads(1)  # a shared machine: one thread each, so loops compare fairly
    os.environ["OMP_NUM_THREADS"] = "1"
    home = Path(tempfile.mkdtemp())
    store = RunStore(home=home)
    print(f"torch threads 1 · batch {BATCH} · best of {args.repeats}")
    for stem, dataset, base_epochs in CASES:
        epochs = max(1, round(base_epochs * args.epochs_scale))
        arch = Architecture.load(ROOT / "assets/templates" / f"{stem}.json")
        ds = load_dataset(dataset)
        samples = ds.n_train * epochs
        best = {"tight": 1e9, "thread": 1e9, "store": 1e9}
        cli_rate, cli_wall = 0.0, 1e9
        paired = []  # store time / thread time, per repeat
        for repeat in range(args.repeats):
            seconds = {}
            for name in _rotated(("tight", "thread", "store"), repeat):
                if name == "tight":
                    seconds[name] = tight_run(arch, ds, epochs)
                else:
                    seconds[name] = thread_run(arch, ds, epochs, store if name == "store" else None)
                best[name] = min(best[name], seconds[name])
            paired.append(seconds["store"] / seconds["thread"])
            rate, wall = cli_run(stem, dataset, epochs, home)
            cli_rate, cli_wall = max(cli_rate, rate), min(cli_wall, wall)
        tight_rate = samples / best["tight"]
        print(f"\n{stem} on {dataset} ({ds.n_train} samples x {epochs} epochs)")
        print(f"  tight loop            {best['tight']:.3f} s   {tight_rate:,.0f} samples/s")
        for name in ("thread", "store"):
            rate = samples / best[name]
            print(
                f"  Trainer.start {name:<7} {best[name]:.3f} s   {rate:,.0f} samples/s   {rate / tight_rate:.3f}x"
            )
        print(
            f"  store overhead        {best['store'] / best['thread'] - 1:+.1%} (best vs best), "
            f"{statistics.median(paired) - 1:+.1%} (median of {len(paired)} pairs: "
            f"{', '.join(f'{r - 1:+.1%}' for r in paired)})"
        )
        print(
            f"  CLI subprocess        {cli_rate:,.0f} samples/s in training   {cli_rate / tight_rate:.3f}x   ({cli_wall:.1f} s with start-up)"
        )
    arch = Architecture.load(ROOT / "assets/templates/mlp_digits.json")
    ds = load_dataset("digits")
    thread_run(arch, ds, 2, store)
    first = rss_mb()
    for _ in range(args.rss_runs - 1):
        thread_run(arch, ds, 2, store)
    print(
        f"\nRSS after run 1: {first:.1f} MB; after run {args.rss_runs}: {rss_mb():.1f} MB ({rss_mb() - first:+.1f} MB)"
    )


if __name__ == "__main__":
    main()
