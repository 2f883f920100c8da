"""python -m builder validate | export | train (see DESIGN.md, Command line)."""

from __future__ import annotations

import argparse
import sys

from .errors import BuilderError
from .graph import Architecture
from .shapes import analyse, format_shape


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m builder", description="LayerCraft command line."
    )
    commands = parser.add_subparsers(dest="command", required=True)

    validate = commands.add_parser("validate", help="shapes, parameters and problems of a graph")
    validate.add_argument("graph", help="graph JSON file")
    validate.set_defaults(run=run_validate)

    export = commands.add_parser(
        "export", help="write model.py, graph.json (and train.py, weights, ONNX)"
    )
    export.add_argument("graph", help="graph JSON file")
    export.add_argument("-o", "--out", required=True, help="output folder")
    export.set_defaults(run=run_export)

    try:
        from . import train_cli
    except ImportError:
        train_cli = None
    if train_cli is not None:
        train = commands.add_parser("train", help="train a graph on a dataset")
        train.add_argument("graph", help="graph JSON file")
        train_cli.add_arguments(train)
        train.set_defaults(run=train_cli.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.run(args)
    except BuilderError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


def run_validate(args: argparse.Namespace) -> int:
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
    from .export import write_bundle

    arch = Architecture.load(args.graph)
    for path in write_bundle(arch, args.out):
        print(path)
    return 0
