"""Importing in a child process: the user's code runs there, under a time limit, not in the app."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from ..errors import BuilderError
from ..graph import Architecture
from .target import parse_expression

PROJECT_ROOT = Path(__file__).resolve().parents[2]
TIMEOUT_S = 120
MAX_SOURCE_BYTES = 1_000_000


def import_source(
    source: str,
    expr: str,
    shapes: list[tuple[int, ...]],
    dtypes: list[str] | None = None,
    timeout: float = TIMEOUT_S,
) -> tuple[Architecture, dict]:
    """Import `expr` from the given module source in `python -m builder import` (a subprocess).

    Returns the graph and the command's JSON summary; a BuilderError on any failure.
    """
    if len(source.encode("utf-8")) > MAX_SOURCE_BYTES:
        raise BuilderError("the code is larger than 1 MB", field="code")
    parse_expression(expr)  # refuse a bad expression before starting anything
    with tempfile.TemporaryDirectory(prefix="layercraft-import-") as folder:
        model = Path(folder) / "model.py"
        model.write_text(source, encoding="utf-8")
        out = Path(folder) / "graph.json"
        command = [sys.executable, "-m", "builder", "import", f"{model}:{expr.strip()}"]
        command += [a for shape in shapes for a in ("--input-shape", ",".join(map(str, shape)))]
        command += [a for dtype in dtypes or [] for a in ("--dtype", dtype)]
        command += ["-o", str(out)]
        done = _run(command, folder, timeout)
        if done.returncode != 0 or not out.exists():
            raise _child_error(done.stderr)
        summary = json.loads(done.stdout.strip().splitlines()[-1])
        arch = Architecture.load(out)
    return arch, summary


def _run(command: list[str], folder: str, timeout: float) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT)}
    try:
        return subprocess.run(
            command, cwd=folder, env=env, capture_output=True, text=True, timeout=timeout
        )
    except subprocess.TimeoutExpired:
        raise BuilderError(
            f"the import took longer than {timeout:g} s and was stopped",
            field="code",
            hint="Use smaller constructor arguments or input shapes.",
        ) from None


def _child_error(stderr: str) -> BuilderError:
    text = stderr.strip()
    start = text.find("error: ")
    if start >= 0:
        message = text[start + len("error: ") :].replace("model.py", "your code")
        return BuilderError(message.strip())
    last = text.splitlines()[-1] if text else "no output"
    return BuilderError(f"the import failed: {last[:300]}", hint="Check the code runs on its own.")
