"""Where an exported node came from in the user's file, and the name it was assigned to."""

from __future__ import annotations

import ast
import re
from pathlib import Path

FRAME = re.compile(r'File "(?P<file>[^"]+)", line (?P<line>\d+), in \S+\n\s*(?P<code>[^\n]*)')


def user_frame(node, source: Path | None) -> tuple[int, str] | None:
    """(line number, code) of the innermost frame in the user's file, or None."""
    trace = node.meta.get("stack_trace") or ""
    frames = [
        (int(m["line"]), m["code"].strip())
        for m in FRAME.finditer(trace)
        if source is not None and _same_file(m["file"], source)
    ]
    return frames[-1] if frames else None


def _same_file(name: str, source: Path) -> bool:
    try:
        return Path(name).resolve() == source.resolve()
    except OSError:
        return False


def describe(node, source: Path | None) -> str:
    """`model.py:23 \\`x = x * 0.5\\``, or the exported node's name when the line is unknown."""
    frame = user_frame(node, source)
    if frame is None or source is None:
        return f"node {node.name}"
    line, code = frame
    return f"{source.name}:{line} `{code[:70]}`"


def assigned_name(code: str) -> str | None:
    """The single name a line assigns to (`h2 = ...` -> "h2"), else None."""
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return None
    if len(tree.body) != 1:
        return None
    statement = tree.body[0]
    if isinstance(statement, ast.Assign) and len(statement.targets) == 1:
        target = statement.targets[0]
        return target.id if isinstance(target, ast.Name) else None
    if isinstance(statement, ast.AnnAssign | ast.AugAssign) and isinstance(
        statement.target, ast.Name
    ):
        return statement.target.id
    return None
