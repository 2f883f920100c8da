"""The Import panel under AppTest: off unless the server is local-only, and a real import."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit import config
from streamlit.testing.v1 import AppTest

APP = Path(__file__).resolve().parents[2] / "app.py"
CODE = """
import torch.nn.functional as F
from torch import nn


class TinyNet(nn.Module):
    def __init__(self, hidden=16):
        super().__init__()
        self.fc1 = nn.Linear(4, hidden)
        self.fc2 = nn.Linear(hidden, 3)

    def forward(self, x):
        return self.fc2(F.relu(self.fc1(x)))
"""


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("LAYERCRAFT_HOME", str(tmp_path))
    monkeypatch.delenv("LAYERCRAFT_ALLOW_CODE_IMPORT", raising=False)
    return tmp_path


@pytest.fixture
def address():
    """Set server.address for one test, then put back what was there."""
    before = config.get_option("server.address")
    yield lambda value: config.set_option("server.address", value)
    config.set_option("server.address", before)


def start() -> AppTest:
    return AppTest.from_file(str(APP), default_timeout=120).run()


def import_button(at: AppTest):
    return next((b for b in at.sidebar.button if b.key == "import_run"), None)


def test_import_is_off_when_the_server_listens_on_every_interface(home, address):
    address("0.0.0.0")
    at = start()
    assert not at.exception
    assert import_button(at) is None
    assert any("Import is off" in info.value for info in at.sidebar.info)
    assert any("0.0.0.0" in info.value for info in at.sidebar.info)


def test_import_is_on_when_the_environment_allows_it(home, address, monkeypatch):
    address("0.0.0.0")
    monkeypatch.setenv("LAYERCRAFT_ALLOW_CODE_IMPORT", "1")
    at = start()
    assert import_button(at) is not None


def test_pasted_code_opens_as_the_graph_on_localhost(home, address):
    address("127.0.0.1")
    at = start()
    at.sidebar.text_area(key="import_code").input(CODE)
    at.sidebar.text_input(key="import_expr").input("TinyNet(hidden=8)")
    at.sidebar.text_input(key="import_shapes").input("4")
    import_button(at).click()
    at.run()

    assert not at.exception
    arch = at.session_state["arch"]
    assert arch.name == "TinyNet"
    assert [arch.type_of(n) for n in arch.topological_order()] == [
        "Input",
        "Linear",
        "ReLU",
        "Linear",
    ]
    assert arch.params_of("fc1")["out_features"] == 8
    assert any("Imported" in s.value for s in at.success)


def test_a_bad_expression_is_a_message_not_a_traceback(home, address):
    address("localhost")
    at = start()
    at.sidebar.text_area(key="import_code").input(CODE)
    at.sidebar.text_input(key="import_expr").input("__import__('os').system('true')")
    at.sidebar.text_input(key="import_shapes").input("4")
    import_button(at).click()
    at.run()

    assert not at.exception
    assert any("Import failed" in e.value and "class" in e.value for e in at.error)
