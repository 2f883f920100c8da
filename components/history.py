"""Undo / redo over graph JSON snapshots (plain data, so it survives anything)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from builder.graph import Architecture

MAX_STEPS = 100


@dataclass
class History:
    """Snapshots before (undo) and after (redo) the current graph."""

    past: list[dict[str, Any]] = field(default_factory=list)
    future: list[dict[str, Any]] = field(default_factory=list)

    def record(self, before: Architecture) -> None:
        """Remember the graph as it was before an edit; a new edit clears redo."""
        self.past.append(before.to_json())
        del self.past[:-MAX_STEPS]
        self.future.clear()

    def undo(self, current: Architecture) -> Architecture | None:
        if not self.past:
            return None
        self.future.append(current.to_json())
        return Architecture.from_json(self.past.pop())

    def redo(self, current: Architecture) -> Architecture | None:
        if not self.future:
            return None
        self.past.append(current.to_json())
        return Architecture.from_json(self.future.pop())

    @property
    def can_undo(self) -> bool:
        return bool(self.past)

    @property
    def can_redo(self) -> bool:
        return bool(self.future)
