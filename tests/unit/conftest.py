"""Fixtures shared by the unit tests of the secret flows."""

import shutil
from pathlib import Path

import pytest

from opskit.core import config, shell

ROOT = Path(__file__).resolve().parents[2]

needs_sops = pytest.mark.tools("sops", "age-keygen", "git")  # tests/toolgate.py


@pytest.fixture
def secrets_project(tmp_path, monkeypatch):
    """A project root in tmp_path (a git repository) with an isolated user key location."""
    home = tmp_path / "home"
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    monkeypatch.setenv("SOPS_AGE_KEY_FILE", str(home / ".config/sops/age/keys.txt"))
    monkeypatch.delenv("SOPS_AGE_KEY", raising=False)
    repo = tmp_path / "repo"
    repo.mkdir()
    shutil.copy(ROOT / "opskit.yaml", repo / "opskit.yaml")
    shell.run(["git", "init", "-q", str(repo)])
    return config.load(repo / "opskit.yaml")


@pytest.fixture
def restore_task_help():
    """invoke pops each task's help dict while parsing; put it back for later tests."""
    import tasks

    def walk(collection):
        yield from collection.tasks.values()
        for sub in collection.collections.values():
            yield from walk(sub)

    saved = [(task, dict(task.help)) for task in walk(tasks.ns)]
    yield
    for task, help_ in saved:
        task.help.clear()
        task.help.update(help_)


@pytest.fixture
def refuse_processes(monkeypatch):
    """Any process start fails the test: subprocess's Popen and the one plumbum bound at
    import (opskit.core.shell's processes), so nothing slips past by the other name."""
    import importlib
    import subprocess

    # `plumbum.machines.local` as an attribute is the `local` machine; this is the module
    plumbum_local = importlib.import_module("plumbum.machines.local")

    def refuse(*args, **_kwargs):
        raise AssertionError(f"a process was started: {args[:1]}")

    monkeypatch.setattr(subprocess, "Popen", refuse)
    monkeypatch.setattr(plumbum_local, "Popen", refuse)
