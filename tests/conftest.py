"""Shared fixtures: the repository root and a fresh command-layer state per test."""

from pathlib import Path

import pytest

from opskit import shell

ROOT = Path(__file__).resolve().parents[1]


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
