"""python -m builder validate | export | train | runs (see DESIGN.md, Command line)."""

from __future__ import annotations

import argparse
import importlib
import json
import sys
from pathlib import Path

from .errors import BuilderError
from .graph import Architecture
from .settings_check import check_settings
from .shapes import analyse, format_shape

# Commands whose flags come from modules that import torch (and Optuna for search): only pay
# for that, and only depend on it, when that is the command, so validate stays light.
# (name, help, module, packages it needs, positional argument added here or None)
HEAVY_COMMANDS = (
    ("train", "train a graph on a dataset", "train_cli", (), ("graph", "graph JSON file")),
    (
        "compress",
        "prune, quantize or distill a trained model into a new bundle",
        "compress.cli",
        (),
        None,
    ),
    ("search", "search a graph's search space with Optuna", "search.cli", ("optuna",), None),
)


def build_parser(argv: list[str] | None = None) -> argparse.ArgumentParser:
    """The command-line parser; train's flags are added only when train is the command."""
    parser = argparse.ArgumentParser(
        prog="python -m builder", description="LayerCraft command line."
    )
    commands = parser.add_subparsers(dest="command", required=True)

    validate = commands.add_parser("validate", help="shapes, parameters and problems of a graph")
    validate.add_argument("graph", help="graph JSON file")
    validate.set_defaults(run=run_validate)

    export = commands.add_parser(
        "export", help="write model.py, train.py, graph.json (+ weights, ONNX)"
    )
    export.add_argument("graph", help="graph JSON file")
    export.add_argument("-o", "--out", required=True, help="output folder")
    export.add_argument("--weights", metavar="FILE", help="trained weights (.safetensors)")
    export.add_argument(
        "--onnx",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="write model.onnx too (--no-onnx: leave it out)",
    )
    export.add_argument("--config", metavar="FILE", help="training settings as JSON, for train.py")
    export.add_argument("--dataset", help="embedded dataset train.py should use")
    export.set_defaults(run=run_export)

    command = _command_of(sys.argv[1:] if argv is None else argv)
    from .runs.cli import add_parser as add_runs_parser

    add_runs_parser(commands)
    importer = commands.add_parser("import", help="import a PyTorch model from a .py file")
    importer.set_defaults(run=_run_import)
    if command == "import":
        from .importer.cli import add_arguments

        add_arguments(importer)

    for name, help_text, module, needs, positional in HEAVY_COMMANDS:
        sub = commands.add_parser(name, help=help_text)
        sub.set_defaults(run=_run_train_unavailable)
        if command == name:
            _add_heavy_arguments(sub, module, needs, positional)
    return parser


def _command_of(argv: list[str]) -> str | None:
    return next((a for a in argv if not a.startswith("-")), None)


def _run_import(args: argparse.Namespace) -> int:
    from .importer.cli import run

    return run(args)


def _add_heavy_arguments(parser, module: str, needs: tuple[str, ...], positional) -> None:
    """The command's flags from its own module, when it and what it needs import."""
    try:
        for package in needs:
            importlib.import_module(package)
        cli = importlib.import_module(f".{module}", __package__)
    except ImportError:
        return  # _run_train_unavailable explains
    if positional is not None:
        parser.add_argument(positional[0], help=positional[1])
    cli.add_arguments(parser)
    parser.set_defaults(run=cli.run)


def _run_train_unavailable(args: argparse.Namespace) -> int:
    raise BuilderError(
        "training is not available in this installation",
        hint="Install the full requirements (pip install -r requirements.txt).",
    )


def main(argv: list[str] | None = None) -> int:
    """Run one command; a BuilderError prints as one line on stderr and exits 1."""
    args = build_parser(argv).parse_args(argv)
    try:
        return args.run(args)
    except BuilderError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


def run_validate(args: argparse.Namespace) -> int:
    """Print the per-node table, warnings and totals; exit 1 when the graph has errors."""
    arch = Architecture.load(args.graph)
    analysis = analyse(arch)
    print(summary_table(arch, analysis))
    for warning in analysis.warnings:
        print(f"warning: {warning}")
    for error in analysis.errors:
        print(f"error: {error}", file=sys.stderr)
    return 0 if analysis.ok else 1


def summary_table(arch: Architecture, analysis) -> str:
    """The model summary as aligned text: node, type, output shape, params, MACs, totals."""
    rows = [("node", "type", "output shape", "params", "MACs")]
    for node_id in arch.topological_order():
        info = analysis.nodes[node_id]
        shape = format_shape(info.output_shape) if info.error is None else "error"
        rows.append((node_id, info.type, shape, f"{info.params:,}", f"{info.macs:,}"))
    rows.append(("total", "", "", f"{analysis.total_params:,}", f"{analysis.total_macs:,}"))
    widths = [max(len(r[i]) for r in rows) for i in range(5)]
    lines = []
    for i, row in enumerate(rows):
        cells = [
            c.ljust(w) if j < 3 else c.rjust(w)
            for j, (c, w) in enumerate(zip(row, widths, strict=True))
        ]
        lines.append("  ".join(cells).rstrip())
        if i == 0 or i == len(rows) - 2:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines) + f"\n{arch.name}: {analysis.total_params:,} parameters"


def run_export(args: argparse.Namespace) -> int:
    """Write the export bundle; prints each path written and any notes."""
    from .export import write_bundle

    arch = Architecture.load(args.graph)
    options: dict = {}
    if args.weights:
        options["model"] = _model_with_weights(arch, args.weights)
    if args.onnx is not None:
        options["onnx"] = args.onnx
    if args.config:
        options["config"] = _read_json(args.config)
    if args.dataset:
        options["dataset_name"] = args.dataset
    written = write_bundle(arch, args.out, **options)
    for path in written:
        print(path)
    for note in getattr(written, "notes", []):
        print(f"note: {note}")
    return 0


def _model_with_weights(arch: Architecture, weights: str):
    from .compile import compile_model
    from .export import load_weights

    return load_weights(compile_model(arch), weights, arch=arch)


def _read_json(path: str) -> dict:
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise BuilderError(f"cannot read the file ({exc.strerror})", file=path) from None
    except ValueError as exc:
        raise BuilderError(f"not valid JSON ({exc})", file=path) from None
    return _check_config_file(check_settings(data, file=path), path)


# What a bundle's config.json holds besides the training settings, so one can be passed back.
BUNDLE_CONFIG_KEYS = {
    "data_file",
    "data_seed",
    "dataset",
    "dataset_options",
    "frozen",
    "input_dtype",
    "input_noise",
    "label_column",
    "search",
    "standardise",
    "task",
    "train_fraction",
    "val_fraction",
}


def _check_config_file(data: dict, path: str) -> dict:
    """Refuse a misspelt setting ("lrr") or an unknown dataset instead of quietly ignoring it."""
    from dataclasses import fields

    from .data.embedded import DATASETS
    from .training.config import TrainConfig

    known = {f.name for f in fields(TrainConfig)} | BUNDLE_CONFIG_KEYS
    unknown = sorted(str(k)[:40] for k in data if k not in known)
    if unknown:
        raise BuilderError(
            f"unknown training setting {unknown[0]!r}",
            file=path,
            field=unknown[0],
            hint=f"Known settings: {', '.join(sorted(known))}.",
        )
    dataset = data.get("dataset")
    if dataset is not None and dataset not in DATASETS:
        raise BuilderError(
            f"unknown dataset {str(dataset)[:40]!r}",
            file=path,
            field="dataset",
            hint=f"Choose one of: {', '.join(DATASETS)}; or null for a data file.",
        )
    return data
