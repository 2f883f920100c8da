"""Collecting everything an import cannot map, so the user sees every problem in one pass."""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import BuilderError


class Unsupported(Exception):
    """Raised by a mapper: this module or op has no LayerCraft equivalent (yet)."""

    def __init__(self, message: str, hint: str | None = None):
        super().__init__(message)
        self.hint = hint


@dataclass(frozen=True)
class Problem:
    where: str  # "model.py:23 `x = x * 0.5`" or a node name
    message: str
    hint: str | None = None

    def __str__(self) -> str:
        text = f"{self.where}: {self.message}"
        return f"{text.rstrip('.')}. {self.hint}" if self.hint else text


def problems_error(problems: list[Problem], what: str, file: str | None = None) -> BuilderError:
    """One BuilderError listing each problem on its own line."""
    unique = _merge_repeats(list(dict.fromkeys(problems)))
    lines = "\n".join(f"  - {p}" for p in unique)
    return BuilderError(
        f"cannot import {what}: {len(unique)} part(s) have no LayerCraft equivalent:\n{lines}",
        file=file,
        hint="Rewrite those parts with supported layers, or build them on the canvas.",
    )


def _merge_repeats(problems: list[Problem], shown: int = 3) -> list[Problem]:
    """The same problem in ten places is one line naming a few of them."""
    groups: dict[tuple, list[Problem]] = {}
    for problem in problems:
        groups.setdefault((problem.message, problem.hint), []).append(problem)
    merged = []
    for (message, hint), members in groups.items():
        wheres = [p.where for p in members[:shown]]
        if len(members) > shown:
            wheres.append(f"and {len(members) - shown} more")
        merged.append(Problem("; ".join(wheres), message, hint))
    return merged
