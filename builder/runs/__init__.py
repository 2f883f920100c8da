"""The run store (SQLite + safetensors under $LAYERCRAFT_HOME) and what records into it."""

from builder.runs.recorder import RunRecorder
from builder.runs.store import KINDS, STATUSES, TERMINAL, RunRecord, RunStore, default_home

__all__ = ["KINDS", "STATUSES", "TERMINAL", "RunRecord", "RunRecorder", "RunStore", "default_home"]
