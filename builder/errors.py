"""The one exception type every user-facing failure uses (see DESIGN.md, Errors)."""

from __future__ import annotations


class BuilderError(Exception):
    """A problem the user can fix: names where it is, what is wrong, and how to fix it.

    `node`, `edge`, `field` and `file` say where; `hint` says what to do. The UI
    shows it on the node, the CLI prints `str(err)` and exits 1.
    """

    def __init__(
        self,
        message: str,
        *,
        node: str | None = None,
        edge: tuple[str, str] | None = None,
        field: str | None = None,
        file: str | None = None,
        hint: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.node = node
        self.edge = edge
        self.field = field
        self.file = file
        self.hint = hint

    @property
    def where(self) -> str | None:
        """The place the error names, as shown before the message."""
        if self.node is not None:
            return self.node if self.field is None else f"{self.node}.{self.field}"
        if self.edge is not None:
            return f"edge {self.edge[0]} -> {self.edge[1]}"
        if self.file is not None:
            return self.file if self.field is None else f"{self.file} ({self.field})"
        return self.field

    def __str__(self) -> str:
        text = self.message if self.where is None else f"{self.where}: {self.message}"
        return sentences(text, self.hint)


class BuilderWarning:
    """A likely mistake that does not stop the graph from building."""

    def __init__(self, message: str, *, node: str | None = None, hint: str | None = None):
        self.message = message
        self.node = node
        self.hint = hint

    def __str__(self) -> str:
        text = self.message if self.node is None else f"{self.node}: {self.message}"
        return sentences(text, self.hint)

    def __repr__(self) -> str:
        return f"BuilderWarning({str(self)!r})"


class BuilderErrors(BuilderError):
    """Several problems found in one pass (e.g. every bad node of a graph file).

    It is a BuilderError, so callers that catch one still work; `errors` holds each
    problem, `str()` puts one per line, and `node`/`hint` are the first problem's.
    """

    def __init__(self, errors: list[BuilderError]) -> None:
        first = errors[0]
        super().__init__(
            f"{len(errors)} problems",
            node=first.node,
            edge=first.edge,
            field=first.field,
            file=first.file,
        )
        self.errors = list(errors)

    def __str__(self) -> str:
        lines = [f"{len(self.errors)} problems:"]
        lines += [f"- {error}" for error in self.errors]
        if self.file is not None and self.errors[0].file is None:
            lines[0] = f"{self.file}: {lines[0]}"
        return "\n".join(lines)


def raise_all(errors: list[BuilderError]) -> None:
    """Raise nothing, the one error, or a BuilderErrors holding them all."""
    if len(errors) == 1:
        raise errors[0]
    if errors:
        raise BuilderErrors(errors)


def sentences(*parts: object) -> str:
    """Parts joined as sentences: exactly one full stop between them, however each ends
    (no ". ." or ".." when a message already ends with one); empty parts are skipped."""
    texts = [str(p).strip() for p in parts if p is not None and str(p).strip()]
    if not texts:
        return ""
    text = ""
    for part in texts[:-1]:
        part = part.rstrip(" .")
        if part:
            # A question or exclamation already ends its sentence.
            text += part + (" " if part.endswith(("?", "!")) else ". ")
    return text + texts[-1]
