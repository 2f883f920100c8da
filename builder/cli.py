"""python -m builder validate | export | train | runs (see DESIGN.md, Command line)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from .errors import BuilderError
from .graph import Architecture
from .settings_check import check_settings
from .shapes import analyse, format_shape


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

    from .runs.cli import add_parser as add_runs_parser

    add_runs_parser(commands)
    importer = commands.add_parser("import", help="import a PyTorch model from a .py file")
    importer.set_defaults(run=_run_import)
    if _command_of(sys.argv[1:] if argv is None else argv) == "import":
        from .importer.cli import add_arguments

        add_arguments(importer)

    train = commands.add_parser("train", help="train a graph on a dataset")
    train.set_defaults(run=_run_train_unavailable)
    # Train's flags come from train_cli, which imports torch and the trainer; only pay for
    # that (and only depend on it) when the command is train, so validate stays light.
    if _command_of(sys.argv[1:] if argv is None else argv) == "train":
        _add_train_arguments(train)

    compress = commands.add_parser(
        "compress", help="prune, quantize or distill a trained model into a new bundle"
    )
    compress.set_defaults(run=_run_train_unavailable)
    if _command_of(sys.argv[1:] if argv is None else argv) == "compress":
        _add_compress_arguments(compress)
    search = commands.add_parser("search", help="search a graph's search space with Optuna")
    search.set_defaults(run=_run_train_unavailable)
    if _command_of(sys.argv[1:] if argv is None else argv) == "search":
        _add_search_arguments(search)
    return parser


def _command_of(argv: list[str]) -> str | None:
    return next((a for a in argv if not a.startswith("-")), None)


def _add_train_arguments(train: argparse.ArgumentParser) -> None:
    try:
        from . import train_cli
    except ImportError:
        return  # _run_train_unavailable explains
    train.add_argument("graph", help="graph JSON file")
    train_cli.add_arguments(train)
    train.set_defaults(run=train_cli.run)


def _add_compress_arguments(compress: argparse.ArgumentParser) -> None:
    try:
        from .compress import cli as compress_cli
    except ImportError:
        return  # _run_train_unavailable explains
    compress_cli.add_arguments(compress)
    compress.set_defaults(run=compress_cli.run)


def _run_import(args: argparse.Namespace) -> int:
    from .importer.cli import run

    return run(args)


def _add_search_arguments(search: argparse.ArgumentParser) -> None:
    try:
        import optuna  # noqa: F401

        from .search import cli as search_cli
    except ImportError:
        return  # _run_train_unavailable explains
    search_cli.add_arguments(search)
    search.set_defaults(run=search_cli.run)


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

    return load_weights(compile_model(arch), weights)


def _read_json(path: str) -> dict:
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise BuilderError(f"cannot read the file ({exc.strerror})", file=path) from None
    except ValueError as exc:
        raise BuilderError(f"not valid JSON ({exc})", file=path) from None
    return check_settings(data, file=path)
