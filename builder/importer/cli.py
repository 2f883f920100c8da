"""`python -m builder import "FILE.py:Expr" --input-shape 1,28,28 -o graph.json`."""

from __future__ import annotations

import argparse
import json


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "target",
        help="FILE.py:ClassName, FILE.py:ClassName(literal, ...), a function call or a built module",
    )
    parser.add_argument(
        "--input-shape",
        action="append",
        required=True,
        type=parse_shape,
        help="one sample's shape without the batch, e.g. 1,28,28; once per forward input",
    )
    parser.add_argument(
        "--dtype",
        action="append",
        choices=("float32", "int64"),
        help="dtype of each forward input in order (default float32; int64 for token ids)",
    )
    parser.add_argument("-o", "--out", required=True, help="graph JSON file to write")


def parse_shape(text: str) -> tuple[int, ...]:
    """ "1,28,28" -> (1, 28, 28); argparse turns the ValueError into a usage message."""
    try:
        shape = tuple(int(part) for part in text.replace("x", ",").split(",") if part.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a shape like 1,28,28") from None
    if not shape or any(d < 1 for d in shape):
        raise argparse.ArgumentTypeError(f"{text!r} must be positive sizes like 1,28,28")
    return shape


def run(args: argparse.Namespace) -> int:
    """Import, write the graph, print one JSON line; a different graph is refused (exit 1)."""
    from . import MismatchError, import_file

    try:
        result = import_file(args.target, args.input_shape, args.dtype)
    except MismatchError as err:
        print(json.dumps(summary(err.result, None)))
        raise
    result.arch.save(args.out)
    print(json.dumps(summary(result, args.out)))
    return 0


def summary(result, out: str | None) -> dict:
    """The CLI's last line: nodes, params, output path, matched, max_diff, init_notes."""
    comparison = result.comparison
    return {
        "nodes": len(result.arch),
        "params": comparison.params,
        "original_params": comparison.original_params,
        "output": out,
        "matched": comparison.matched,
        "max_diff": comparison.max_diff,
        "init_notes": result.init_notes,  # inits the graph could not carry (torch's default kept)
    }
