"""`python -m builder train`: train a graph file on a dataset from the terminal.

Progress goes to stderr (a bar when stderr is a terminal, one line per epoch otherwise);
stdout gets exactly one JSON line, the run summary, at the end.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import fields
from pathlib import Path
from typing import Any, TextIO

from builder.errors import BuilderError

POLL_SECONDS = 0.1
BAR_WIDTH = 24


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the train flags (everything after GRAPH.json) to `parser`."""
    from builder.data import DATASETS
    from builder.training import DEVICES, LOSSES, OPTIMIZERS, SCHEDULES, TrainConfig

    defaults = TrainConfig()
    data = parser.add_mutually_exclusive_group(required=True)
    data.add_argument("--dataset", choices=DATASETS, help="an embedded dataset")
    data.add_argument("--data", metavar="FILE", help="a .csv, .npz or MNIST IDX (-ubyte[.gz]) file")
    parser.add_argument("--label-column", help="CSV column holding the label (default: last)")
    parser.add_argument(
        "--task",
        choices=("classification", "regression", "reconstruction"),
        help="override the dataset's task (reconstruction: autoencoder, target = input)",
    )
    parser.add_argument(
        "--noise", type=float, help="dataset noise; for reconstruction, input noise"
    )
    parser.add_argument("--n-samples", type=int, help="size of a generated dataset")
    parser.add_argument("--val-fraction", type=float, default=0.2, help="share held out (0.2)")
    parser.add_argument("--epochs", type=int, default=defaults.epochs)
    parser.add_argument("--batch-size", type=int, default=defaults.batch_size)
    parser.add_argument("--optimizer", choices=OPTIMIZERS, default=defaults.optimizer)
    parser.add_argument("--lr", type=float, default=defaults.lr, help="learning rate")
    parser.add_argument("--momentum", type=float, default=defaults.momentum)
    parser.add_argument("--weight-decay", type=float, default=defaults.weight_decay, help="L2")
    parser.add_argument("--l1", type=float, default=defaults.l1, help="L1 penalty on weights")
    parser.add_argument("--schedule", choices=SCHEDULES, default=defaults.schedule)
    parser.add_argument(
        "--step-size", type=int, default=defaults.step_size, help="for --schedule step"
    )
    parser.add_argument("--gamma", type=float, default=defaults.gamma, help="LR decay factor")
    parser.add_argument("--loss", choices=LOSSES, default=defaults.loss)
    parser.add_argument("--clip-grad", type=float, default=defaults.clip_grad, help="0 = off")
    parser.add_argument(
        "--early-stopping-patience",
        "--patience",
        type=int,
        default=defaults.early_stopping_patience,
        help="epochs without improvement before stopping; 0 = off",
    )
    parser.add_argument("--seed", type=int, default=defaults.seed)
    parser.add_argument("--device", choices=DEVICES, default=defaults.device)
    parser.add_argument("--amp", action="store_true", help="bf16 autocast on CUDA")
    parser.add_argument("--compile", action="store_true", help="torch.compile the model")
    parser.add_argument("--stats-every", type=int, default=defaults.stats_every)
    parser.add_argument("--log-every", type=int, default=defaults.log_every)
    parser.add_argument("--augment-shift", type=int, default=0, help="random image shift, pixels")
    parser.add_argument("--augment-hflip", action="store_true", help="random left-right flips")
    parser.add_argument("--augment-noise", type=float, default=0.0, help="input noise std")
    parser.add_argument("--metrics-out", metavar="FILE.jsonl", help="write every metric event")
    parser.add_argument("--save", metavar="DIR", help="write the trained model bundle here")
    parser.add_argument("--quiet", action="store_true", help="no progress on stderr")
    runs = parser.add_argument_group("run store", "every training is recorded as a run")
    runs.add_argument("--home", metavar="DIR", help="LayerCraft home (default $LAYERCRAFT_HOME)")
    runs.add_argument("--project", help="project id the run belongs to")
    runs.add_argument("--note", default="", help="a note kept with the run")
    runs.add_argument("--no-record", action="store_true", help="do not record the run")
    runs.add_argument(
        "--init-from",
        metavar="RUN_ID_OR_FILE",
        help="start from a run's weights (or a .safetensors file), matched by node id and shape",
    )
    runs.add_argument(
        "--freeze", metavar="NODE,NODE", help="nodes whose weights stay fixed (trainable: false)"
    )
    gan = parser.add_argument_group(
        "GAN", "train GRAPH as a generator against a discriminator (adversarial loop)"
    )
    gan.add_argument("--discriminator", metavar="FILE.json", help="the discriminator graph")
    gan.add_argument("--lr-g", type=float, default=2e-4, help="generator learning rate (2e-4)")
    gan.add_argument("--lr-d", type=float, default=2e-4, help="discriminator learning rate (2e-4)")
    gan.add_argument("--samples-out", metavar="FILE.npy", help="save the final sample grid")


def config_from_args(args: argparse.Namespace):
    """The TrainConfig the flags describe."""
    from builder.training import TrainConfig

    values = {f.name: getattr(args, f.name) for f in fields(TrainConfig) if hasattr(args, f.name)}
    return TrainConfig.from_dict(values)


def dataset_from_args(args: argparse.Namespace, task: str | None = None):
    """Load --dataset or --data with the task / noise / size options; `task` overrides --task."""
    from builder.data import load_dataset, load_file

    task = task or args.task

    if args.dataset:
        return load_dataset(
            args.dataset,
            seed=args.seed,
            val_fraction=args.val_fraction,
            n_samples=args.n_samples,
            noise=args.noise,
            task=task,
        )
    return load_file(
        args.data,
        label_column=args.label_column,
        task=task,
        seed=args.seed,
        val_fraction=args.val_fraction,
    )


def run(args: argparse.Namespace) -> int:
    """Train as the flags say; prints the summary JSON on stdout. Returns the exit code."""
    from builder.data import check_compatibility
    from builder.graph import Architecture
    from builder.runs import RunStore
    from builder.runs.warm import freeze_nodes, warm_start
    from builder.training import Trainer

    if args.discriminator:
        return run_gan(args)
    try:
        config = config_from_args(args)
        arch = Architecture.load(args.graph)
        if args.freeze:
            freeze_nodes(arch, [n.strip() for n in args.freeze.split(",") if n.strip()])
        dataset = dataset_from_args(args)
        problem = check_compatibility(arch, dataset)
        if problem is not None:
            raise problem
        trainer = Trainer(arch, dataset, config, **record_options(args))
        if args.init_from:
            report = warm_start(trainer, args.init_from, trainer.store or RunStore(home=args.home))
            if not args.quiet:
                print(report.describe(), file=sys.stderr)
        metrics = _open_metrics(args.metrics_out)
    except BuilderError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    _follow_to_the_end(trainer, metrics, None if args.quiet else Progress(sys.stderr))
    summary = trainer.summary()
    if args.save and trainer.state in ("finished", "stopped"):
        try:
            summary["saved"] = _save(arch, trainer, config, args)
        except BuilderError as err:
            print(f"error: {err}", file=sys.stderr)
            print(json.dumps(summary), flush=True)
            return 1
    print(json.dumps(summary), flush=True)
    return _exit_code(trainer)


def run_gan(args: argparse.Namespace) -> int:
    """Adversarial training of GRAPH (generator) against --discriminator; summary on stdout."""
    import numpy as np

    from builder.gan import GanConfig, GanTrainer
    from builder.graph import Architecture

    try:
        if args.save:
            raise BuilderError(
                "--save is not available for a GAN pair",
                field="save",
                hint="Use --samples-out for the samples, or export each graph on its own.",
            )
        config = GanConfig(
            epochs=args.epochs,
            batch_size=args.batch_size,
            lr_g=args.lr_g,
            lr_d=args.lr_d,
            seed=args.seed,
            device=args.device,
        )
        config.validate()
        generator = Architecture.load(args.graph)
        discriminator = Architecture.load(args.discriminator)
        # The images are both what D sees as real and the shape G must produce.
        images = dataset_from_args(args, task="reconstruction")
        trainer = GanTrainer(generator, discriminator, images, config, **record_options(args))
        metrics = _open_metrics(args.metrics_out)
    except BuilderError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    _follow_to_the_end(trainer, metrics, None if args.quiet else Progress(sys.stderr))
    if args.samples_out and trainer.latest_samples() is not None:
        np.save(args.samples_out, trainer.latest_samples())
    print(json.dumps(trainer.summary()), flush=True)
    return _exit_code(trainer)


def record_options(args: argparse.Namespace) -> dict[str, Any]:
    """Trainer keywords that record the run in the store (none with --no-record)."""
    if getattr(args, "no_record", False):
        return {}
    from builder.runs import RunStore

    options = {"n_samples": args.n_samples, "noise": args.noise, "task": args.task}
    extra = {
        "source_of_run": "cli",
        "dataset_options": {k: v for k, v in options.items() if v is not None},
        "val_fraction": args.val_fraction,
    }
    if args.data:
        extra["data_path"] = str(Path(args.data).resolve())
    return {
        "store": RunStore(home=args.home),
        "project": args.project,
        "note": args.note,
        "extra": extra,
    }


def _exit_code(trainer) -> int:
    """0 finished, 130 stopped (Ctrl+C), 1 failed or never ended (with the reason on stderr)."""
    if trainer.state == "failed":
        print(f"error: {trainer.message}", file=sys.stderr)
        return 1
    if trainer.state == "stopped":
        return 130
    if trainer.state != "finished":  # the lifecycle makes this unreachable; never exit 0 on it
        print(f"error: the run ended in state {trainer.state!r}", file=sys.stderr)
        return 1
    if getattr(trainer, "record_error", None):
        print(
            f"warning: the run store could not record this run: {trainer.record_error}",
            file=sys.stderr,
        )
    return 0


def _open_metrics(path: str | None) -> TextIO | None:
    if not path:
        return None
    try:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        return open(path, "w", encoding="utf-8")
    except OSError as err:
        raise BuilderError(
            f"cannot write metrics: {err.strerror or err}",
            file=path,
            hint="Choose a folder you can write to.",
        ) from err


def _follow_to_the_end(trainer, metrics, progress) -> None:
    """Run the trainer in its thread and relay its events until it ends (Ctrl+C stops it)."""
    try:
        trainer.start()
        while not trainer.join(POLL_SECONDS):
            _drain(trainer, metrics, progress)
    except KeyboardInterrupt:
        trainer.stop()
        trainer.join()
    finally:
        _drain(trainer, metrics, progress)
        if progress is not None:
            progress.close()
        if metrics is not None:
            metrics.close()


def _drain(trainer, metrics, progress) -> None:
    cursor = getattr(trainer, "_cli_cursor", 0)
    events, trainer._cli_cursor = trainer.events_since(cursor)
    for event in events:
        if metrics is not None:
            metrics.write(json.dumps(event, default=str) + "\n")
        if progress is not None:
            progress.show(event)
    if metrics is not None:
        metrics.flush()


def _save(arch, trainer, config, args) -> str:
    from builder.export import write_bundle

    # The dataset object and its options let train.py rebuild exactly the same split.
    options = {"n_samples": args.n_samples, "noise": args.noise, "task": args.task}
    write_bundle(
        arch,
        args.save,
        config=config,
        dataset_name=args.dataset,
        data_path=args.data,
        model=trainer.model,
        dataset=trainer.dataset,
        dataset_options={k: v for k, v in options.items() if v is not None},
    )
    return str(args.save)


class Progress:
    """A one-line progress bar (epoch, step, loss, ETA) on a terminal; epoch lines otherwise."""

    def __init__(self, stream: TextIO):
        self.stream = stream
        self.tty = stream.isatty()
        self.epochs = 1
        self.steps_per_epoch = 1
        self.started = time.perf_counter()
        self.last_loss: float | None = None
        self.epoch_train_loss: float | None = None
        self.dirty = False

    def show(self, event: dict[str, Any]) -> None:
        kind = event.get("kind")
        if kind == "status":
            self._status(event)
        elif kind == "step":
            self.last_loss = event.get("loss")
            if self.tty:
                self._bar(event["epoch"], event.get("epoch_step", 0))
        elif kind == "epoch" and "loss_d" in event:
            self._gan_epoch_line(event)
        elif kind == "epoch" and event.get("split") == "train":
            self.epoch_train_loss = event.get("loss")
        elif kind == "epoch" and event.get("split") == "val":
            self._epoch_line(event)

    def _status(self, event: dict[str, Any]) -> None:
        if event.get("state") == "running" and "steps_per_epoch" in event:
            self.epochs = event["epochs"]
            self.steps_per_epoch = event["steps_per_epoch"]
            self.started = time.perf_counter()
            self._line(
                f"training on {event.get('device')}: {self.epochs} epochs of {self.steps_per_epoch} steps"
            )
        elif event.get("message"):
            self._line(event["message"])

    def _bar(self, epoch: int, step: int) -> None:
        done = (epoch - 1) * self.steps_per_epoch + step
        total = self.epochs * self.steps_per_epoch
        fraction = min(done / max(total, 1), 1.0)
        filled = int(fraction * BAR_WIDTH)
        elapsed = time.perf_counter() - self.started
        eta = elapsed / fraction - elapsed if fraction > 0 else 0.0
        loss = f"{self.last_loss:.4f}" if self.last_loss is not None else "-"
        text = (
            f"\r[{'#' * filled}{'.' * (BAR_WIDTH - filled)}] epoch {epoch}/{self.epochs} "
            f"step {step}/{self.steps_per_epoch} loss {loss} ETA {_clock(eta)}"
        )
        self.stream.write(text)
        self.stream.flush()
        self.dirty = True

    def _epoch_line(self, event: dict[str, Any]) -> None:
        acc = f" val_acc {event['accuracy']:.4f}" if "accuracy" in event else ""
        loss = self.epoch_train_loss
        train = f" train_loss {loss:.4f}" if loss is not None else ""
        self._line(
            f"epoch {event['epoch']}/{self.epochs}{train} val_loss {event['loss']:.4f}{acc} ETA {self._eta(event['epoch'])}"
        )

    def _gan_epoch_line(self, event: dict[str, Any]) -> None:
        self._line(
            f"epoch {event['epoch']}/{self.epochs} loss_d {event['loss_d']:.4f} "
            f"loss_g {event['loss_g']:.4f} D(x) {event['d_real']:.2f} "
            f"D(G(z)) {event['d_fake']:.2f} diversity {event['diversity']:.2f} "
            f"ETA {self._eta(event['epoch'])}"
        )

    def _eta(self, epochs_done: int) -> str:
        elapsed = time.perf_counter() - self.started
        fraction = epochs_done / max(self.epochs, 1)
        return _clock(elapsed / fraction - elapsed if fraction > 0 else 0.0)

    def _line(self, text: str) -> None:
        if self.dirty:
            self.stream.write("\r\033[K" if self.tty else "\n")
            self.dirty = False
        self.stream.write(text + "\n")
        self.stream.flush()

    def close(self) -> None:
        if self.dirty:
            self.stream.write("\n")
            self.stream.flush()
            self.dirty = False


def _clock(seconds: float) -> str:
    seconds = max(0, int(seconds))
    return f"{seconds // 60}:{seconds % 60:02d}"
