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
def git_project(tmp_path, root):
    """make(*paths, remote=False) -> (cfg, git): tmp_path/work, a git repository with the real
    opskit.yaml and `paths` (files or folders) copied from the project, committed as "init";
    with `remote`, a bare tmp_path/remote.git as its origin. git(*argv, cwd=work) runs git."""
    work = tmp_path / "work"

    def git(*argv, cwd=work):
        return shell.run(["git", "-C", str(cwd), *argv]).stdout.strip()

    def make(*paths, remote=False):
        for path in ("opskit.yaml", *paths):
            source, target = root / path, work / path
            target.parent.mkdir(parents=True, exist_ok=True)
            if source.is_dir():
                shutil.copytree(source, target)
            else:
                shutil.copy(source, target)
        git("init", "-q", "-b", "main")
        git("config", "user.email", "t@example.com")
        git("config", "user.name", "t")
        git("add", ".")
        git("commit", "-q", "-m", "init")
        if remote:
            git("init", "-q", "--bare", str(tmp_path / "remote.git"), cwd=tmp_path)
            git("remote", "add", "origin", str(tmp_path / "remote.git"))
        return config.load(work / "opskit.yaml"), git

    return make


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


@pytest.fixture
def buildah(monkeypatch):
    """A buildah store at the shell boundary: `images --quiet X` answers from `store`,
    `bud -t X` adds X; every other command is recorded (with its env) and succeeds."""
    store: set[str] = set()
    calls: list[tuple[list[str], dict]] = []

    def run(argv, **kwargs):
        argv = list(argv)
        calls.append((argv, kwargs))
        if argv[:3] == ["buildah", "images", "--quiet"]:
            return shell.Result(0, "0123abcd\n" if argv[3] in store else "", "")
        if argv[:2] == ["buildah", "bud"]:
            store.add(argv[argv.index("-t") + 1])
            context = Path(argv[-1])
            if (context / "Containerfile").is_file():
                kwargs["containerfile"] = (context / "Containerfile").read_text()
        return shell.Result(0, "", "")

    monkeypatch.setattr(shell, "run", run)
    return store, calls


def builds(calls) -> list[list[str]]:
    """The commands that build something (not buildah's store queries)."""
    return [argv for argv, _ in calls if argv[0] != "buildah" or argv[1] == "bud"]
