"""`invoke release --overlay=dev` in a temporary clone, the way a user (or CI) runs it."""

from __future__ import annotations

import pytest
import sh
import yaml

from opskit.core import config
from tests.e2e.project import BIN, ROOT, Project, make_project

KUSTOMIZATION = "k8s/overlays/dev/kustomization.yaml"


@pytest.fixture(scope="module")
def source(tmp_path_factory) -> Project:
    """A scratch copy of the work tree (committed); each test's origin is a bare clone of it."""
    cluster = config.load(ROOT / "opskit.yaml").cluster
    base = tmp_path_factory.mktemp("release")
    return make_project(base / "source", cluster.name)


@pytest.fixture
def origin(source, tmp_path) -> str:
    """A fresh bare origin per test: a release pushed by one test is not the next one's start."""
    sh.git("clone", "-q", "--bare", str(source.path), str(tmp_path / "origin.git"))
    return str(tmp_path / "origin.git")


@pytest.fixture
def clone(source, origin, tmp_path) -> Project:
    sh.git("clone", "-q", origin, str(tmp_path / "clone"))
    return Project(tmp_path / "clone", {**source.env, "GIT_PAGER": "cat"})  # sh runs git on a tty


def invoke(project: Project, *args: str, ok: tuple[int, ...] = (0,)) -> tuple[int, str]:
    """`invoke <args>` in the project like a user: (exit code, stderr)."""
    command = sh.Command(str(BIN / "invoke"))
    run = command(*args, _cwd=project.path, _env=project.env, _ok_code=list(ok), _return_cmd=True)
    return run.exit_code, run.stderr.decode()


def pinned(project: Project, revision: str) -> str:
    data = yaml.safe_load(project.git("show", f"{revision}:{KUSTOMIZATION}"))
    return next(i["newTag"] for i in data["images"] if i["name"] == "api")


def test_release_makes_one_commit_pinning_the_commit_it_ran_on(clone):
    head = clone.git("rev-parse", "HEAD")
    count = int(clone.git("rev-list", "--count", "HEAD"))
    _, err = invoke(clone, "release", "--overlay=dev")
    assert int(clone.git("rev-list", "--count", "HEAD")) == count + 1
    assert clone.git("rev-parse", "HEAD~1") == head
    assert clone.git("log", "-1", "--format=%s") == f"chore(release): deploy api {head[:12]} to dev"
    assert clone.git("diff-tree", "--no-commit-id", "--name-only", "-r", "HEAD") == KUSTOMIZATION
    assert pinned(clone, "HEAD") == head[:12]
    assert clone.git("status", "--porcelain") == ""
    assert "push: git push origin HEAD:main" in err
    assert clone.git("rev-parse", "origin/main") == head  # nothing pushed without --push


def test_release_refuses_a_dirty_tree(clone):
    head = clone.git("rev-parse", "HEAD")
    (clone.path / "notes.txt").write_text("work in progress\n")
    _, err = invoke(clone, "release", "--overlay=dev", ok=(1,))
    assert err.splitlines() == [
        "opskit: error: release dev refuses a dirty working tree (notes.txt); commit or stash "
        "your changes first: a release commit holds only the tag pin"
    ]
    assert clone.git("rev-parse", "HEAD") == head
    assert clone.git("status", "--porcelain") == "?? notes.txt"


def test_release_push_updates_the_branch_argocd_follows(clone, origin):
    head = clone.git("rev-parse", "HEAD")
    invoke(clone, "release", "--overlay=dev", "--push")
    remote = str(sh.git("--git-dir", origin, "rev-parse", "main")).strip()
    assert remote == clone.git("rev-parse", "HEAD") != head
    assert pinned(clone, "origin/main") == head[:12]


def test_dry_run_prints_the_commit_and_changes_nothing(clone):
    head = clone.git("rev-parse", "HEAD")
    _, err = invoke(clone, "release", "--overlay=dev", "--push", "--dry-run")
    assert f"[dry-run] pin api to localhost:5000/gitops-lab/api:{head[:12]}" in err
    assert "[dry-run] git push origin HEAD:main" in err
    assert clone.git("rev-parse", "HEAD") == head
    assert clone.git("status", "--porcelain") == ""


def test_a_second_release_with_nothing_new_is_a_no_op_that_says_so(clone, origin):
    head = clone.git("rev-parse", "HEAD")
    invoke(clone, "release", "--overlay=dev", "--push")
    released = clone.git("rev-parse", "HEAD")
    _, err = invoke(clone, "release", "--overlay=dev", "--push")
    assert "nothing new to release: dev already pins" in err and f"(commit {head[:12]})" in err
    assert clone.git("rev-parse", "HEAD") == released
    assert str(sh.git("--git-dir", origin, "rev-parse", "main")).strip() == released
