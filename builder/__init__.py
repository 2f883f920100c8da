"""LayerCraft's UI-free core: graph, shapes, code generation, training, export."""

from .errors import BuilderError, BuilderWarning

__all__ = ["BuilderError", "BuilderWarning"]
