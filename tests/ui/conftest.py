"""Shared fixtures for the AppTest UI tests."""

from __future__ import annotations

import pytest


@pytest.fixture
def home(tmp_path, monkeypatch):
    """LAYERCRAFT_HOME in a fresh folder, so autosaves and runs start empty."""
    monkeypatch.setenv("LAYERCRAFT_HOME", str(tmp_path))
    return tmp_path
