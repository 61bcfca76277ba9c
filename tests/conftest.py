"""Shared fixtures: the repository root and a fresh command-layer state per test."""

from pathlib import Path

import pytest

from opskit import shell

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def _clean_shell_state():
    """Secrets, echo and dry-run never leak from one test into another."""
    saved = set(shell._state.secrets)
    with shell.settings(echo=False, dry_run=False):
        yield
    shell._state.secrets.clear()
    shell._state.secrets.update(saved)


@pytest.fixture
def root() -> Path:
    return ROOT
