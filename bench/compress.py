"""Compression bar, each figure a ratio of the compressed model to its original in one run.

    .venv/bin/python bench/compress.py [--out DIR] [--rounds 5]

Trains the digits LeNet, the digits MLP and the LSTM text classifier with the templates'
settings, then: 50% global pruning + 2 fine-tune epochs; 50% structured channel pruning +
fine-tune; dynamic int8 (MLP, LSTM); static int8 (LeNet); and distils the LeNet into an
MLP student with under a quarter of its parameters, against the same student trained
alone (same initial weights, data order, epochs, seed), both on a share of the training
split (--distill-fraction, 5%), once per seed. CPU latency is the median forward time of a
batch of 64 validation samples, original and compressed measured in alternation.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from builder.compress import CompressRequest, Trained, compress_model
from builder.compress.measure import cpu_latency_ms, latency_batch
from builder.data import load_dataset
from builder.graph import Architecture
from builder.templates import load_template, template_settings
from builder.training import TrainConfig, Trainer


def train(stem: str, dataset) -> Trained:
    arch = load_template(stem)
    config = TrainConfig(**template_settings(stem), device="cpu", seed=0)
    trainer = Trainer(arch, dataset, config)
    trainer.run()
    settings = {**config.to_dict(), "dataset": dataset.name}
    return Trained(arch, trainer.model.cpu().eval(), settings, origin=stem)


def latency_ratio(original, compressed, dataset, rounds: int, size: int = 64) -> float:
    """original / compressed median latency, measured alternately so load hits both alike."""
    batch = latency_batch(dataset, size)
    before, after = [], []
    for _ in range(rounds):
        before.append(cpu_latency_ms(original, batch, min_run_time=0.5))
        after.append(cpu_latency_ms(compressed, batch, min_run_time=0.5))
    return statistics.median(before) / statistics.median(after)


def student_graph() -> Architecture:
    """Flatten -> Linear(40) -> ReLU -> Linear(10): 3,010 parameters, 22% of the LeNet."""
    arch = Architecture("Student MLP")
    x = arch.add_node("Input", {"shape": [1, 8, 8]}, id="x")
    flat = arch.add_node("Flatten", id="flatten1")
    fc1 = arch.add_node("Linear", {"out_features": 40}, id="fc1")
    relu = arch.add_node("ReLU", id="relu1")
    fc2 = arch.add_node("Linear", {"out_features": 10}, id="fc2")
    for a, b in ((x, flat), (flat, fc1), (fc1, relu), (relu, fc2)):
        arch.connect(a, b)
    return arch


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", help="keep the compressed bundles here")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--distill-epochs", type=int, default=300)
    parser.add_argument(
        "--distill-fraction", type=float, default=0.05, help="the student's share of the data"
    )
    parser.add_argument("--distill-seeds", type=int, default=5, help="seeds 0..N-1, each a pair")
    parser.add_argument("--cases", default="", help="run only cases whose name has this text")
    args = parser.parse_args()
    torch.set_num_threads(max(1, torch.get_num_threads()))
    out = Path(args.out or tempfile.mkdtemp(prefix="compress-bench-"))
    digits = load_dataset("digits", seed=0)
    sentiment = load_dataset("sentiment", seed=0)
    wanted = args.cases
    models: dict[str, Trained] = {}

    def trained_on(stem: str, dataset) -> Trained:
        """Each template is trained once, and only when a wanted case uses it."""
        if stem not in models:
            models[stem] = train(stem, dataset)
        return models[stem]

    cases = [
        ("lenet global prune 50% + 2 ft", "lenet_digits", digits, CompressRequest("prune", sparsity=0.5, finetune_epochs=2)),
        ("lenet structured 50% + 10 ft", "lenet_digits", digits, CompressRequest("prune", sparsity=0.5, structured=True, finetune_epochs=10)),
        ("mlp dynamic int8", "mlp_digits", digits, CompressRequest("quantize", quantization="dynamic")),
        ("lstm dynamic int8", "lstm_text", sentiment, CompressRequest("quantize", quantization="dynamic")),
        ("lenet static int8", "lenet_digits", digits, CompressRequest("quantize", quantization="static")),
    ]  # fmt: skip
    print(
        "| case | params | file | latency ratio (orig/new) | metric before -> after | points lost |"
    )
    print("|---|---|---|---|---|---|")
    for i, (name, stem, dataset, request) in enumerate(cases):
        if wanted and wanted not in name:
            continue
        trained = trained_on(stem, dataset)
        result = compress_model(trained, dataset, request, out / f"case{i}")
        r = result.report
        ratio = latency_ratio(trained.model, result.model, dataset, args.rounds)
        ratio_256 = latency_ratio(trained.model, result.model, dataset, args.rounds, size=256)
        lost = 100 * (r["metric_before"] - r["metric_after"])
        print(
            f"| {name} | {r['params_before']:,} -> {r['params_after']:,} ({r['params_before'] / r['params_after']:.2f}x) "
            f"| {r['bytes_before']:,} -> {r['bytes_after']:,} B ({r['bytes_before'] / r['bytes_after']:.2f}x) "
            f"| {ratio:.2f}x / {ratio_256:.2f}x | {r['metric_before']:.4f} -> {r['metric_after']:.4f} | {lost:.2f} |",
            flush=True,
        )
        print(
            json.dumps({"case": name, **r, "latency_ratio": ratio, "latency_ratio_256": ratio_256}),
            file=sys.stderr,
        )
    if not wanted or wanted in "lenet -> student distilled":
        distill_seeds(trained_on("lenet_digits", digits), args, out)
    return 0


def distill_seeds(teacher: Trained, args, out: Path) -> None:
    """The LeNet distilled into the MLP student on a share of the training split, one pair
    (distilled, alone: same start, data order, epochs) per seed, through compress_model."""
    share = load_dataset("digits", seed=0, fraction=args.distill_fraction)
    print(
        f"\nlenet -> student distilled, {len(share.x_train)} training images, {args.distill_epochs} epochs"
    )
    print("| seed | distilled | alone | points |")
    print("|---|---|---|---|")
    gains = []
    for seed in range(args.distill_seeds):
        request = CompressRequest(
            "distill", student=student_graph(), epochs=args.distill_epochs, seed=seed,
            train_fraction=args.distill_fraction,
        )  # fmt: skip
        r = compress_model(teacher, share, request, out / f"distill{seed}").report
        gains.append(100 * (r["metric_after"] - r["student_alone_metric"]))
        print(
            f"| {seed} | {r['metric_after']:.4f} | {r['student_alone_metric']:.4f} | {gains[-1]:+.2f} |",
            flush=True,
        )
        print(json.dumps({"case": "distill", **r}), file=sys.stderr)
    wins = sum(g > 0 for g in gains)
    print(f"mean {statistics.mean(gains):+.2f} points; distilled wins {wins} of {len(gains)} seeds")


if __name__ == "__main__":
    sys.exit(main())
