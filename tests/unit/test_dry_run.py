"""--dry-run is one mechanism: the task's flag, passed down. Under it no mutating command
reaches the process layer, and no file changes anywhere (the project, the state folder, the
user's key folder). The process layer is guarded, not faked: read-only commands run for real.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from invoke import Context

from opskit.core import shell
from opskit.secrets import generate
from opskit.tasks import certs as certs_tasks
from opskit.tasks import clean as clean_tasks
from opskit.tasks import release as release_tasks
from opskit.tasks import secrets as secrets_tasks
from tests.unit.conftest import needs_sops

pytestmark = needs_sops
PROBE_CACHE = "tool-versions.json"  # filled by any read-only task too (doctor): not a change


@pytest.fixture
def c(secrets_project):
    context = Context()
    context.config._opskit_config = secrets_project
    return context


def _files(*folders: Path) -> dict[str, tuple[int, int]]:
    return {
        str(p): (p.stat().st_mtime_ns, p.stat().st_size)
        for folder in folders
        for p in folder.rglob("*")
        if p.is_file() and p.name != PROBE_CACHE
    }


def _commit(root: Path) -> None:
    env = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t"}
    env |= {"GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@t"}
    shell.run(["git", "-C", str(root), "add", "-A"])
    shell.run(["git", "-C", str(root), "commit", "-qm", "init"], env=env)


def _prepared(cfg) -> None:
    """Keys, Secrets, CA and a commit, made for real (what the dry runs would change)."""
    import shutil

    shutil.copytree(Path(__file__).resolve().parents[2] / "k8s", cfg.root / "k8s")
    generate.init(cfg, cfg.overlay("dev"))
    _commit(cfg.root)


CASES = {
    "secrets.init --force": lambda c: secrets_tasks.init(
        c, overlay="dev", force=True, dry_run=True
    ),
    "secrets.rotate": lambda c: secrets_tasks.rotate(c, overlay="dev", dry_run=True),
    "certs.init": lambda c: certs_tasks.init(c, dry_run=True),
    "certs.issue --force": lambda c: certs_tasks.issue(c, overlay="dev", force=True, dry_run=True),
    "release --push": lambda c: release_tasks.release(c, overlay="dev", push=True, dry_run=True),
    "clean": lambda c: clean_tasks.clean(c, dry_run=True),
}


@pytest.mark.parametrize("task", sorted(CASES))
def test_dry_run_starts_no_mutating_command_and_writes_nothing(
    task, c, secrets_project, capsys, monkeypatch
):
    cfg = secrets_project
    _prepared(cfg)
    (cfg.root / ".nox").mkdir()  # something for clean to (not) remove
    home = Path(os.environ["HOME"])
    before = _files(cfg.root, home)
    capsys.readouterr()
    real = shell._run_chain

    def guarded(chain):
        started = [s.display() for s in chain if s.mutates]
        assert not started, f"dry run started a mutating command: {started}"
        return real(chain)

    monkeypatch.setattr(shell, "_run_chain", guarded)
    CASES[task](c)
    assert _files(cfg.root, home) == before
    err = capsys.readouterr().err
    assert "[dry-run]" in err or "would" in err or "nothing" in err
    assert "rotated k8s" not in err and "wrote k8s" not in err and "committed" not in err


def test_the_same_task_without_dry_run_does_change_files(c, secrets_project):
    """The guard above can fail: the real rotate changes the files."""
    cfg = secrets_project
    _prepared(cfg)
    before = _files(cfg.root / "k8s")
    secrets_tasks.rotate(c, overlay="dev")
    assert _files(cfg.root / "k8s") != before
