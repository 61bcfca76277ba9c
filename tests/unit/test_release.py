"""`release`: real git in temporary repositories (git runs here), the real kustomization edit."""

import shutil

import pytest

from opskit.core import config
from opskit.core.errors import OpsError
from opskit.gitops import release


@pytest.fixture
def repo(git_project):
    """A project with the real opskit.yaml and dev overlay kustomization, one commit, a remote."""
    return git_project("k8s/overlays/dev/kustomization.yaml", remote=True)


def test_release_commits_only_the_kustomization_pinned_to_head(repo):
    cfg, git = repo
    head = git("rev-parse", "HEAD")
    result = release.release(cfg, "dev")
    tag = head[:12]
    assert (result.tag, result.commit, result.changed, result.pushed) == (tag, head, True, False)
    assert result.image == f"localhost:5000/gitops-lab/api:{tag}"
    assert git("log", "-1", "--format=%s") == f"chore(release): deploy api {tag} to dev"
    # Bitbucket (Atlassian KB "skip triggering a pipeline build using skip CI label") and
    # GitHub start no pipeline for it: the release ran already, main must not run it again
    assert git("log", "-1", "--format=%B").splitlines()[-1] == "[skip ci]"
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


def test_release_again_with_nothing_new_is_a_no_op(repo):
    cfg, git = repo
    first = release.release(cfg, "dev", push=True)
    second = release.release(cfg, "dev", push=True)
    assert (second.changed, second.pushed, second.commit) == (False, False, first.commit)
    assert git("rev-list", "--count", "HEAD") == "2"


def test_release_after_a_new_commit_pins_that_commit(repo):
    cfg, git = repo
    release.release(cfg, "dev")
    (cfg.root / "app.txt").write_text("new code\n")
    git("add", "app.txt")
    git("commit", "-q", "-m", "feat: new code")
    second = release.release(cfg, "dev")
    assert second.commit == git("rev-parse", "HEAD~1")
    assert release.pinned_tag(second.kustomization, "api") == second.commit[:12]
    assert git("rev-list", "--count", "HEAD") == "4"


def test_the_task_says_when_there_is_nothing_to_release(repo, capsys):
    from invoke import Context

    from opskit.tasks.release import release as task

    cfg, git = repo
    release.release(cfg, "dev")
    context = Context()
    context.config._opskit_config = cfg
    task.body(context, overlay="dev")
    assert "nothing new to release: dev already pins" in capsys.readouterr().err
    assert git("rev-list", "--count", "HEAD") == "2"


def test_a_release_to_another_registry_keeps_later_renders_working(repo, monkeypatch, root):
    """The CI release pins newName (what ArgoCD pulls); renders without the override
    still find the app container (they used to fail: no container runs image ...)."""
    from opskit.manifests import kustomize

    cfg, git = repo
    shutil.copytree(root / "k8s", cfg.root / "k8s", dirs_exist_ok=True, ignore=_dev_pin)
    git("add", ".")
    git("commit", "-q", "-m", "k8s")
    monkeypatch.setenv("OPSKIT_IMAGE", "ghcr.io/acme/gitops-lab/api")
    result = release.release(config.load(cfg.root / "opskit.yaml"), "dev")
    assert "newName: ghcr.io/acme/gitops-lab/api" in result.kustomization.read_text()
    monkeypatch.delenv("OPSKIT_IMAGE")
    local = config.load(cfg.root / "opskit.yaml")
    rendered = kustomize.render_overlay(local, "dev")
    images = {c["image"] for o in rendered for _, c in kustomize.containers(o)}
    assert f"ghcr.io/acme/gitops-lab/api:{result.tag}" in images  # what ArgoCD runs
    pinned = kustomize.render_overlay(local, "dev", tag="0123456789ab")
    images = {c["image"] for o in pinned for _, c in kustomize.containers(o)}
    assert f"{local.app.image}:0123456789ab" in images  # what a local deploy runs


def _dev_pin(folder, names):
    """copytree filter: keep the fixture's own dev kustomization (already committed)."""
    return ["kustomization.yaml"] if folder.endswith("overlays/dev") else []


def test_a_push_rejected_because_main_moved_is_rebased_and_retried(repo, tmp_path):
    cfg, git = repo
    git("push", "-q", "origin", "HEAD:main")
    other = tmp_path / "other"
    git("clone", "-q", "-b", "main", str(tmp_path / "remote.git"), str(other), cwd=tmp_path)
    (other / "README").write_text("moved on\n")
    git("add", "README", cwd=other)
    git("-c", "user.name=o", "-c", "user.email=o@example.com", "commit", "-qm", "docs", cwd=other)
    git("push", "-q", "origin", "HEAD:main", cwd=other)
    result = release.release(cfg, "dev", push=True)
    remote = tmp_path / "remote.git"
    assert result.pushed
    assert git("log", "-1", "--format=%s", "main", cwd=remote).startswith("chore(release):")
    assert git("log", "-1", "--format=%s", "main~1", cwd=remote) == "docs"


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


def test_a_release_commit_a_hook_changed_is_refused_before_the_push(repo):
    """The commit is checked after it is made: here a pre-commit hook re-pins the image."""
    cfg, git = repo
    hook = cfg.root / ".git" / "hooks" / "pre-commit"
    hook.write_text(
        "#!/bin/sh\n"
        "sed -i 's/newTag: .*/newTag: tampered/' k8s/overlays/dev/kustomization.yaml\n"
        "git add k8s/overlays/dev/kustomization.yaml\n"
    )
    hook.chmod(0o755)
    with pytest.raises(OpsError) as caught:
        release.release(cfg, "dev", push=True)
    assert str(caught.value) == (
        "release commit check failed: it changed ['k8s/overlays/dev/kustomization.yaml']; "
        "inspect it with `git show HEAD` and undo it with `git reset --soft HEAD~1`"
    )
    assert "newTag: tampered" in git("show", "HEAD:k8s/overlays/dev/kustomization.yaml")
    assert git("branch", "-r") == ""  # nothing pushed


def _other_clone_pushes(git, tmp_path, change):
    """Someone else pushes to origin/main meanwhile: `change(clone)` edits, then a commit."""
    other = tmp_path / "other"
    git("clone", "-q", "-b", "main", str(tmp_path / "remote.git"), str(other), cwd=tmp_path)
    change(other)
    git("add", "-A", cwd=other)
    git("-c", "user.name=o", "-c", "user.email=o@example.com", "commit", "-qm", "theirs", cwd=other)
    git("push", "-q", "origin", "HEAD:main", cwd=other)
    return git("rev-parse", "HEAD", cwd=other)


def test_a_push_whose_rebase_conflicts_is_aborted_and_nothing_is_pushed(repo, tmp_path, capsys):
    """origin/main pinned another tag meanwhile: the rebase conflicts, it is aborted (the
    repository left with the release commit, no rebase half-way) and nothing is pushed."""
    cfg, git = repo
    git("push", "-q", "origin", "HEAD:main")
    rel = "k8s/overlays/dev/kustomization.yaml"

    def pin_another_tag(clone):
        path = clone / rel
        path.write_text(path.read_text().replace('"000000000000"', '"111111111111"', 1))

    theirs = _other_clone_pushes(git, tmp_path, pin_another_tag)
    with pytest.raises(OpsError) as caught:
        release.release(cfg, "dev", push=True)
    assert str(caught.value) == (
        "origin/main changed the same pin meanwhile: the release is not pushed; "
        "see `git log FETCH_HEAD -- k8s/overlays`; release again on top of it"
    )
    assert "opskit: origin/main moved: rebasing the release onto it" in capsys.readouterr().err
    assert git("rev-parse", "main", cwd=tmp_path / "remote.git") == theirs
    assert git("log", "-1", "--format=%s").startswith("chore(release): deploy api")
    assert git("status", "--porcelain") == ""
    assert not (cfg.root / ".git" / "rebase-merge").exists()
    assert not (cfg.root / ".git" / "rebase-apply").exists()


def _pre_receive(tmp_path, say: str):
    """The remote refuses every push, saying `say`; each push it sees is a line of the log."""
    log = tmp_path / "pushes.log"
    hook = tmp_path / "remote.git" / "hooks" / "pre-receive"
    hook.write_text(f"#!/bin/sh\necho push >> '{log}'\necho '{say}' >&2\nexit 1\n")
    hook.chmod(0o755)
    return log


def test_a_push_refused_for_another_reason_is_not_retried(repo, tmp_path):
    cfg, git = repo
    pushes = _pre_receive(tmp_path, "policy: no pushes to main today")
    with pytest.raises(OpsError) as caught:
        release.release(cfg, "dev", push=True)
    assert str(caught.value) == (
        "`git push origin HEAD:main` failed: "
        f"error: failed to push some refs to '{tmp_path / 'remote.git'}'; "
        "push by hand: `git push origin HEAD:main`"
    )
    assert pushes.read_text() == "push\n"
    assert git("branch", "-r") == ""


def test_a_branch_that_keeps_moving_is_tried_three_times_then_the_push_fails(repo, tmp_path):
    """Every push answered as git answers one behind a moved branch ("fetch first"): each
    time fetched and rebased, three pushes in all, then the last line of the third."""
    cfg, git = repo
    git("push", "-q", "origin", "HEAD:main")
    pushes = _pre_receive(
        tmp_path,
        "Updates were rejected because the remote contains work "
        "that you do not have locally (fetch first)",
    )
    with pytest.raises(OpsError, match=r"^`git push origin HEAD:main` failed: error: failed "):
        release.release(cfg, "dev", push=True)
    assert pushes.read_text() == "push\n" * 3
    assert git("log", "-1", "--format=%s").startswith("chore(release): deploy api")


def test_a_release_is_pushed_to_the_branch_it_was_made_on(repo):
    cfg, git = repo
    git("checkout", "-q", "-b", "hotfix")
    assert release.release(cfg, "dev").push_argv == ("git", "push", "origin", "HEAD:hotfix")


def test_a_release_on_a_detached_head_is_pushed_to_the_branch_argocd_follows(repo):
    cfg, git = repo
    git("checkout", "-q", "--detach")
    assert cfg.project.revision == "main"
    assert release.release(cfg, "dev").push_argv == ("git", "push", "origin", "HEAD:main")


@pytest.mark.parametrize(
    ("count", "sample"), [(3, "a.txt, b.txt, c.txt"), (4, "a.txt, b.txt, c.txt ...")]
)
def test_a_dirty_tree_is_named_by_its_first_three_paths(repo, count, sample):
    cfg, _ = repo
    for name in "abcd"[:count]:
        (cfg.root / f"{name}.txt").write_text("wip\n")
    with pytest.raises(OpsError) as caught:
        release.release(cfg, "dev")
    assert caught.value.message == f"release dev refuses a dirty working tree ({sample})"


def test_an_overlay_without_a_kustomization_is_one_line_naming_the_file(repo):
    cfg, _ = repo
    path = cfg.overlay("dev").path / "kustomization.yaml"
    path.unlink()
    with pytest.raises(OpsError) as caught:
        release.release(cfg, "dev")
    assert str(caught.value) == f"{path}: not found; is dev a kustomize overlay?"


@pytest.mark.parametrize(
    ("subject", "files"),
    [
        ("chore(release): deploy api 0123456789ab to dev", ["README"]),  # more than a pin
        ("chore(release): deploy api 0123456789ab to dev", ["k8s/overlays/dev/hosts.yaml"]),
        ("docs: pin by hand", ["k8s/overlays/dev/kustomization.yaml"]),  # not a release
    ],
    ids=["a release commit that changes more", "another overlay file", "not a release"],
)
def test_only_a_release_commit_that_only_pins_is_skipped_as_a_source(repo, subject, files):
    cfg, git = repo
    for name in files:
        path = cfg.root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(path.read_text() + "# edit\n" if path.exists() else "new\n")
        git("add", name)
    git("commit", "-q", "-m", subject)
    assert release.release_source(cfg.root) == git("rev-parse", "HEAD")


def test_a_real_release_prints_no_dry_run_line(repo, capsys):
    cfg, _ = repo
    assert release.release(cfg, "dev").changed
    assert "[dry-run]" not in capsys.readouterr().err


def test_the_pinned_tag_is_the_named_images(tmp_path):
    kustomization = tmp_path / "kustomization.yaml"
    kustomization.write_text(
        "images:\n  - name: telemetry\n    newTag: 'aaaa'\n  - name: api\n    newTag: 1234\n"
        "  - name: bare\n"
    )
    assert release.pinned_tag(kustomization, "api") == "1234"
    assert release.pinned_tag(kustomization, "bare") is None
    assert release.pinned_tag(kustomization, "web") is None
