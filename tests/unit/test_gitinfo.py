"""Image tag policy against real temporary git repositories."""

import re

import pytest

from opskit.core import gitinfo, shell
from opskit.core.errors import OpsError


@pytest.fixture
def repo(tmp_path):
    def git(*args):
        return shell.run(["git", "-C", str(tmp_path), *args]).stdout.strip()

    git("init", "-q", "-b", "main")
    git("config", "user.email", "t@example.com")
    git("config", "user.name", "t")
    (tmp_path / "a.txt").write_text("one\n")
    git("add", "a.txt")
    git("commit", "-q", "-m", "init")
    return tmp_path, git


def test_clean_tree_tag_is_short_sha(repo):
    path, git = repo
    tag = gitinfo.image_tag(path, 12, allow_dirty=False, protected=False, what="deploy")
    assert tag == gitinfo.Tag(git("rev-parse", "HEAD")[:12], git("rev-parse", "HEAD"), False)


def test_dirty_tree_refused_without_flag(repo):
    path, _ = repo
    (path / "a.txt").write_text("two\n")
    with pytest.raises(OpsError, match=r"uncommitted changes \(a.txt\); commit them, or pass"):
        gitinfo.image_tag(path, 12, allow_dirty=False, protected=False, what="deploy")


def test_protected_refuses_even_with_allow_dirty(repo):
    path, _ = repo
    (path / "new.txt").write_text("x\n")
    with pytest.raises(OpsError, match="refuses a dirty working tree"):
        gitinfo.image_tag(path, 12, allow_dirty=True, protected=True, what="deploy prod")


def test_dirty_tag_is_distinct_and_tracks_content(repo):
    path, git = repo
    (path / "a.txt").write_text("two\n")
    first = gitinfo.image_tag(path, 12, allow_dirty=True, protected=False, what="deploy")
    assert re.fullmatch(r"[0-9a-f]{12}-dirty-[0-9a-f]{8}", first.value)
    assert first.value.startswith(git("rev-parse", "HEAD")[:12])
    (path / "b.txt").write_text("untracked\n")
    second = gitinfo.image_tag(path, 12, allow_dirty=True, protected=False, what="deploy")
    assert second.value != first.value and second.dirty


def test_no_commit_is_a_clear_error(tmp_path):
    shell.run(["git", "-C", str(tmp_path), "init", "-q"])
    with pytest.raises(OpsError, match="no git commit to tag images with; commit first"):
        gitinfo.head(tmp_path)
    with pytest.raises(OpsError, match="no git commit to tag images with; commit first"):
        gitinfo.image_tag(tmp_path, 12, allow_dirty=True, protected=False, what="deploy")


def test_one_git_status_gives_head_and_every_kind_of_change(repo):
    path, git = repo
    (path / "b c.txt").write_text("b\n")
    git("add", "b c.txt")
    git("commit", "-q", "-m", "two")
    (path / "a.txt").write_text("changed\n")
    git("mv", "b c.txt", "d e.txt")
    (path / "sub").mkdir()
    (path / "sub" / "new.txt").write_text("untracked\n")
    commit, changed = gitinfo.head_and_changes(path)
    assert commit == git("rev-parse", "HEAD")
    assert changed == ["a.txt", "d e.txt", "sub/new.txt"]


def test_commit_paths_commits_only_given_files(repo):
    path, git = repo
    (path / "a.txt").write_text("pinned\n")
    (path / "other.txt").write_text("left alone\n")
    gitinfo.commit_paths(path, [path / "a.txt"], "chore(release): pin")
    assert git("log", "-1", "--format=%s") == "chore(release): pin"
    assert git("show", "--name-only", "--format=", "HEAD") == "a.txt"
    assert gitinfo.dirty_paths(path) == ["other.txt"]
