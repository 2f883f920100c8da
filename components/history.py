"""Undo / redo over graph JSON snapshots (plain data, so it survives anything)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from builder.graph import Architecture

MAX_STEPS = 100


@dataclass
class History:
    """Snapshots before (undo) and after (redo) the current graph."""

    past: list[dict[str, Any]] = field(default_factory=list)
    future: list[dict[str, Any]] = field(default_factory=list)
    # id(snapshot) -> (snapshot, its JSON text): each step is serialised once, not per save.
    _texts: dict[int, tuple[dict[str, Any], str]] = field(
        default_factory=dict, repr=False, compare=False
    )

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

    def to_json_text(self, kept: int) -> str:
        """{"past": [...], "future": [...]}, the last `kept` steps of each, as JSON text.

        The autosave writes this after every edit; dumping every snapshot each time took
        ~65 ms for 50 steps of a 200-node graph, so each one's text is made once and kept.
        """
        texts: dict[int, tuple[dict[str, Any], str]] = {}

        def text_of(step: dict[str, Any]) -> str:
            hit = self._texts.get(id(step))
            if hit is None or hit[0] is not step:  # an id can be reused once a step is gone
                hit = (step, json.dumps(step))
            texts[id(step)] = hit
            return hit[1]

        past = ",".join(text_of(step) for step in self.past[-kept:])
        future = ",".join(text_of(step) for step in self.future[-kept:])
        self._texts = texts  # only the steps still kept
        return f'{{"past": [{past}], "future": [{future}]}}'
