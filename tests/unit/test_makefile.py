"""The Makefile: thin aliases, each one line calling an invoke task or nox session (real make)."""

from __future__ import annotations

import shlex
from pathlib import Path

import pytest
import sh

from opskit.lint import ci

ROOT = Path(__file__).resolve().parents[2]
MAKE = sh.Command("make").bake("-C", str(ROOT), "--no-print-directory")
TARGETS = [
    "help",
    "setup",
    "lint",
    "test",
    "e2e",
    "build",
    "push",
    "deploy",
    "dev",
    "rollback",
    "smoke",
    "release",
    "cluster-up",
    "cluster-down",
    "doctor",
    "bench",
    "clean",
]
ALIASES = [t for t in TARGETS if t not in ("help", "setup")]


def recipe(*args: str) -> list[str]:
    """The command lines `make -n` would run."""
    return MAKE("-n", *args).splitlines()


def test_make_help_lists_every_target_with_a_description():
    lines = MAKE("help").splitlines()
    assert [line.split()[0] for line in lines] == TARGETS
    assert all(len(line.split()) > 2 for line in lines)


def test_help_is_the_default_goal():
    assert MAKE() == MAKE("help")


@pytest.mark.parametrize("target", ALIASES)
def test_each_target_is_one_line_calling_invoke_or_nox(target: str):
    lines = recipe(target)
    assert len(lines) == 1, lines
    argv = shlex.split(lines[0])
    assert argv[0] in (".venv/bin/invoke", ".venv/bin/nox")


def test_setup_runs_the_shared_bootstrap():
    assert recipe("setup") == ["./bootstrap.sh setup"]


@pytest.mark.parametrize("target", ["deploy", "dev", "rollback", "release"])
def test_overlay_defaults_to_dev_and_can_be_overridden(target: str):
    assert recipe(target)[0].endswith(f"invoke {target} --overlay=dev")
    assert recipe(target, "OVERLAY=prod")[0].endswith(f"invoke {target} --overlay=prod")


def test_overlay_reaches_nox_sessions_through_the_environment():
    probe = "print-overlay: ; @echo $$OVERLAY"
    assert MAKE("--eval", probe, "print-overlay").strip() == "dev"
    assert MAKE("--eval", probe, "print-overlay", "OVERLAY=prod").strip() == "prod"


def test_every_task_and_session_the_makefile_calls_exists():
    calls = set()
    for target in ALIASES:
        argv = shlex.split(recipe(target)[0])
        calls.add(ci.parse_call(f"make {target}", [Path(argv[0]).name, *argv[1:]]))
    assert ci.missing_targets(ROOT, calls) == []
