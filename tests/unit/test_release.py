"""`release`: real git in temporary repositories (git runs here), the real kustomization edit."""

import shutil

import pytest

from opskit import config, release, shell
from opskit.errors import OpsError


@pytest.fixture
def repo(tmp_path, root):
    """A project with the real opskit.yaml and dev overlay kustomization, one commit, a remote."""
    work = tmp_path / "work"
    overlay = work / "k8s" / "overlays" / "dev"
    overlay.mkdir(parents=True)
    shutil.copy(root / "opskit.yaml", work / "opskit.yaml")
    shutil.copy(root / "k8s" / "overlays" / "dev" / "kustomization.yaml", overlay)

    def git(*args, cwd=work):
        return shell.run(["git", "-C", str(cwd), *args]).stdout.strip()

    git("init", "-q", "-b", "main")
    git("config", "user.email", "t@example.com")
    git("config", "user.name", "t")
    git("add", ".")
    git("commit", "-q", "-m", "init")
    git("init", "-q", "--bare", str(tmp_path / "remote.git"), cwd=tmp_path)
    git("remote", "add", "origin", str(tmp_path / "remote.git"))
    return config.load(work / "opskit.yaml"), git


def test_release_commits_only_the_kustomization_pinned_to_head(repo):
    cfg, git = repo
    head = git("rev-parse", "HEAD")
    result = release.release(cfg, "dev")
    tag = head[:12]
    assert (result.tag, result.commit, result.changed, result.pushed) == (tag, head, True, False)
    assert git("log", "-1", "--format=%s") == f"chore(release): deploy api {tag} to dev"
    assert git("rev-parse", "HEAD~1") == head
    assert (
        git("diff-tree", "--no-commit-id", "--name-only", "-r", "HEAD")
        == "k8s/overlays/dev/kustomization.yaml"
    )
    assert release.pinned_tag(result.kustomization, "api") == tag
    assert f'newTag: "{tag}"' in result.kustomization.read_text()
    assert git("status", "--porcelain") == ""
    assert result.push_command() == "git push origin HEAD:main"


def test_release_refuses_a_dirty_tree_and_changes_nothing(repo):
    cfg, git = repo
    (cfg.root / "notes.txt").write_text("wip\n")
    before = (cfg.root / "k8s/overlays/dev/kustomization.yaml").read_text()
    with pytest.raises(
        OpsError,
        match=r"release dev refuses a dirty working tree \(notes.txt\); "
        r"commit or stash",
    ):
        release.release(cfg, "dev")
    assert git("rev-list", "--count", "HEAD") == "1"
    assert (cfg.root / "k8s/overlays/dev/kustomization.yaml").read_text() == before


def test_release_again_pins_the_new_head(repo):
    cfg, git = repo
    first = release.release(cfg, "dev")
    second = release.release(cfg, "dev")
    assert second.commit == git("rev-parse", "HEAD~1") != first.commit
    assert release.pinned_tag(second.kustomization, "api") == second.commit[:12]
    assert git("rev-list", "--count", "HEAD") == "3"


def test_push_only_with_push(repo, tmp_path):
    cfg, git = repo
    release.release(cfg, "dev")
    assert git("branch", "-r") == ""
    release.release(cfg, "dev", push=True)
    assert git("rev-parse", "HEAD") == git("rev-parse", "main", cwd=tmp_path / "remote.git")


def test_dry_run_prints_pin_commit_and_push_and_changes_nothing(repo, capsys):
    cfg, git = repo
    before = (cfg.root / "k8s/overlays/dev/kustomization.yaml").read_text()
    result = release.release(cfg, "dev", push=True, dry_run=True)
    err = capsys.readouterr().err
    assert f"[dry-run] pin api to localhost:5000/gitops-lab/api:{result.tag}" in err
    assert "[dry-run] git -C" in err and "commit --quiet -m 'chore(release): deploy api" in err
    assert "[dry-run] git push origin HEAD:main" in err
    assert (cfg.root / "k8s/overlays/dev/kustomization.yaml").read_text() == before
    assert git("rev-list", "--count", "HEAD") == "1" and git("branch", "-r") == ""


def test_unknown_overlay_names_the_known_ones(repo):
    cfg, _ = repo
    with pytest.raises(OpsError, match="unknown overlay 'qa'; use one of: dev, prod"):
        release.release(cfg, "qa")
