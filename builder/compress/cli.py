"""python -m builder compress: flags, and the run that ends with one JSON line."""

from __future__ import annotations

import argparse
import json

from builder.errors import BuilderError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "model",
        nargs="?",
        help="trained bundle folder or run id (for --distill-from it may be left out)",
    )
    parser.add_argument("--dataset", required=True, help="built-in dataset it was trained on")
    method = parser.add_mutually_exclusive_group(required=True)
    method.add_argument("--prune", type=float, metavar="S", help="prune this fraction (0..1)")
    method.add_argument("--quantize", choices=("dynamic", "static"), help="int8 quantization")
    method.add_argument("--distill-from", metavar="TEACHER", help="teacher bundle folder or run id")
    parser.add_argument("--structured", action="store_true", help="prune whole channels/units")
    parser.add_argument("--student", metavar="GRAPH.json", help="student graph for --distill-from")
    parser.add_argument("--temperature", type=float, default=4.0, help="distillation temperature")
    parser.add_argument("--alpha", type=float, default=0.7, help="weight of the teacher's part")
    parser.add_argument("--epochs", type=int, default=10, help="distillation epochs")
    parser.add_argument("--finetune-epochs", type=int, default=0, help="epochs after pruning")
    parser.add_argument(
        "--fraction",
        type=float,
        metavar="F",
        help="train (distil, fine-tune) on this share of the training split; validation "
        "keeps all of it. A teacher helps most when labels are scarce, e.g. 0.05",
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("-o", "--out", required=True, help="output folder")
    runs = parser.add_argument_group("run store", "the result is recorded as a run")
    runs.add_argument("--home", metavar="DIR", help="LayerCraft home (default $LAYERCRAFT_HOME)")
    runs.add_argument("--project", help="project id to file the run under")
    runs.add_argument("--no-record", action="store_true", help="do not record the run")


def run(args: argparse.Namespace) -> int:
    """Compress as the flags say; prints the comparison as one JSON line on stdout."""
    from builder.compress import CompressRequest, compress_model, load_trained
    from builder.compress.data import dataset_for
    from builder.graph import Architecture
    from builder.runs import RunStore

    store = RunStore(home=args.home)
    teacher = load_trained(args.distill_from, store) if args.distill_from else None
    if args.model is None and teacher is None:
        raise BuilderError("name the bundle folder or run id to compress", field="model")
    trained = load_trained(args.model, store) if args.model else teacher
    if args.distill_from and not args.student:
        raise BuilderError(
            "--distill-from needs --student GRAPH.json", field="student", hint="The graph to train."
        )
    if args.student and not args.distill_from:
        raise BuilderError("--student only goes with --distill-from", field="student")
    request = CompressRequest(
        method="prune" if args.prune is not None else "quantize" if args.quantize else "distill",
        sparsity=args.prune if args.prune is not None else 0.5,
        structured=args.structured,
        quantization=args.quantize or "dynamic",
        teacher=teacher,
        student=Architecture.load(args.student) if args.student else None,
        temperature=args.temperature,
        alpha=args.alpha,
        epochs=args.epochs,
        finetune_epochs=args.finetune_epochs,
        seed=args.seed,
        train_fraction=args.fraction,
    )
    request.validate()
    dataset = dataset_for(args.dataset, trained.settings, request.train_fraction)
    result = compress_model(
        trained, dataset, request, args.out,
        store=None if args.no_record else store, project=args.project,
    )  # fmt: skip
    print(json.dumps(result.report), flush=True)
    return 0
