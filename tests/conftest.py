"""Shared fixtures: the repository root and a fresh command-layer state per test."""

import signal
from pathlib import Path

import pytest

from opskit.core import shell

ROOT = Path(__file__).resolve().parents[1]

pytest_plugins = ["tests.toolgate"]  # @pytest.mark.tools(...): skip here, error under CI

# The tests send Ctrl-C (SIGINT) to the suite's processes, as a terminal does. A runner that
# starts them as a background job hands them SIGINT ignored, which every child would inherit:
# give the test process Python's own handler, so children start with the default again.
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)


def mark_folder(items: list[pytest.Item], folder: str, *marks: pytest.MarkDecorator) -> None:
    """Adds `marks` to every collected test below tests/<folder>/: a folder's conftest hook
    sees every item of the session, not only its own folder's."""
    below = ROOT / "tests" / folder
    for item in items:
        if below in item.path.parents:
            for mark in marks:
                item.add_marker(mark)


@pytest.fixture(autouse=True)
def _clean_shell_state():
    """Registered secrets and echo never leak from one test into another."""
    saved = set(shell._display.secrets)
    with shell.echoing(False):
        yield
    shell._display.secrets.clear()
    shell._display.secrets.update(saved)


@pytest.fixture
def root() -> Path:
    return ROOT
