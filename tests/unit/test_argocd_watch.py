"""release --watch: the rollback in git with real git; ArgoCD's answers scripted (kubectl)."""

import json

import pytest

from opskit.core import shell
from opskit.core.errors import OpsError
from opskit.gitops import argocd, release, wait, watch
from opskit.kube.kubectl import Kube
from tests import fakes
from tests.unit.test_argocd import REFRESH_PATCH

KUBE = Kube("/state/kubeconfig", "kwok-gitops-lab")


@pytest.fixture
def repo(git_project):
    """A project with the real opskit.yaml, dev overlay kustomization and k8s/argocd."""
    return git_project("k8s/argocd", "k8s/platform", "k8s/overlays/dev/kustomization.yaml")


def application(revision, sync="Synced", health="Healthy", resources=()):
    status = {
        "sync": {"status": sync, "revisions": [revision, revision]},
        "health": {"status": health},
        "resources": list(resources),
    }
    return {"metadata": {"name": "gitops-lab-dev"}, "status": status}


def argocd_answers(git, bad_health="Degraded", revert_heals=True):
    """ArgoCD as the controller would answer: it reads git (HEAD) only when refreshed; the
    release goes `bad_health`, anything else is Synced and Healthy (unless not
    `revert_heals`: then the revert stays `bad_health` too)."""
    api = {
        "kind": "Deployment",
        "namespace": "gitops-lab-dev",
        "name": "api",
        "health": {"status": bad_health, "message": "deadline exceeded"},
    }
    patches = []
    seen = {"revision": git("rev-parse", "HEAD"), "released": False}

    def kubectl(argv, stdin):
        if argv[5:7] != ("get", "crd") and not (
            "gitops-lab-dev" in argv and argv[argv.index("-n") + 1] == "argocd"
        ):  # the Application is argocd/gitops-lab-dev, nothing else
            return 1, "", 'Error from server (NotFound): applications "x" not found'
        if "patch" in argv:
            patches.append(argv)
            seen["revision"] = git("rev-parse", "HEAD")
            released = git("log", "-1", "--format=%s").startswith("chore(release): deploy")
            seen["released"] = released or (seen["released"] and not revert_heals)
            return 0, "", ""
        if argv[5:7] == ("get", "crd"):
            return 0, "crd", ""
        if seen["released"]:
            return 0, json.dumps(application(seen["revision"], "Synced", bad_health, [api])), ""
        return 0, json.dumps(application(seen["revision"])), ""

    return kubectl, patches


def test_degraded_release_is_reverted_to_the_last_good_revision(repo, monkeypatch):
    cfg, git = repo
    monkeypatch.setattr(wait, "POLL_SECONDS", 0)
    good = git("rev-parse", "HEAD")
    kubectl, patches = argocd_answers(git)
    lines = []
    with fakes.recorder({"kubectl": kubectl}):
        watching = watch.prepare(cfg, KUBE, cfg.overlay("dev"), 30)
        assert watching.last_good == good
        result = release.release(cfg, "dev")
        with pytest.raises(OpsError) as info:
            watch.watch_release(watching, cfg.root, result, report=lines.append)
    revert = git("rev-parse", "HEAD")
    assert str(info.value) == (
        f"release {result.tag} to dev failed (gitops-lab-dev is Degraded: Deployment "
        f"gitops-lab-dev/api Degraded (deadline exceeded)); rolled back in git: {revert[:12]} "
        "is Synced and Healthy"
    )
    assert (
        git("log", "-1", "--format=%s") == f"chore(release): revert deploy api {result.tag} to dev"
    )
    assert git("log", "-1", "--format=%B").splitlines()[-1] == "[skip ci]"  # no re-release
    assert git("diff", good, "HEAD") == ""
    assert git("rev-list", "--count", "HEAD") == "3"
    assert len(patches) == 2  # a refresh for the release, one for the revert
    assert f"committed `chore(release): revert deploy api {result.tag} to dev` ({revert[:12]})" in (
        lines
    )


def test_healthy_release_is_left_alone(repo, monkeypatch):
    cfg, git = repo
    monkeypatch.setattr(wait, "POLL_SECONDS", 0)
    kubectl, _ = argocd_answers(git, bad_health="Healthy")
    with fakes.recorder({"kubectl": kubectl}):
        watching = watch.prepare(cfg, KUBE, cfg.overlay("dev"), 30)
        result = release.release(cfg, "dev")
        state = watch.watch_release(watching, cfg.root, result, report=lambda _l: None)
    assert state.revision == git("rev-parse", "HEAD")
    assert git("log", "-1", "--format=%s").startswith("chore(release): deploy api")


def test_without_a_last_good_revision_only_the_release_commit_is_reverted(repo):
    cfg, git = repo
    (cfg.root / "notes.txt").write_text("kept\n")
    git("add", "notes.txt")
    git("commit", "-q", "-m", "notes")
    result = release.release(cfg, "dev")
    sha = watch.revert(
        cfg.root,
        git("rev-parse", "HEAD"),
        "",
        result.message.removeprefix("chore(release): "),
        "why",
    )
    assert sha == git("rev-parse", "HEAD")
    assert (cfg.root / "notes.txt").is_file()
    assert git("diff", "HEAD~2", "HEAD") == ""
    body = git("log", "-1", "--format=%b")
    assert "why" in body and f"Rolls back {git('rev-parse', 'HEAD~1')[:12]}." in body


def _commit(cfg, git, name, text):
    (cfg.root / name).write_text(text)
    git("add", name)
    git("commit", "-q", "-m", f"add {name}")


def test_the_revert_goes_back_past_every_commit_since_the_last_good_revision(repo, monkeypatch):
    cfg, git = repo
    monkeypatch.setattr(wait, "POLL_SECONDS", 0)
    good = git("rev-parse", "HEAD")
    kubectl, _ = argocd_answers(git)
    with fakes.recorder({"kubectl": kubectl}):
        watching = watch.prepare(cfg, KUBE, cfg.overlay("dev"), 30)
        _commit(cfg, git, "notes.txt", "a change ArgoCD never ran healthy\n")
        result = release.release(cfg, "dev")
        with pytest.raises(OpsError):
            watch.watch_release(watching, cfg.root, result, report=lambda _l: None)
    assert git("diff", good, "HEAD") == ""
    assert not (cfg.root / "notes.txt").exists()
    body = git("log", "-1", "--format=%b")
    assert f"Rolls back to {good[:12]}, the last revision ArgoCD had Synced and Healthy." in body


def test_the_revert_of_a_pushed_release_is_pushed_where_the_release_went(
    repo, monkeypatch, tmp_path
):
    cfg, git = repo
    monkeypatch.setattr(wait, "POLL_SECONDS", 0)
    remote = tmp_path / "remote.git"
    git("init", "-q", "--bare", str(remote))
    git("remote", "add", "origin", str(remote))
    git("push", "-q", "origin", "HEAD:main")
    kubectl, _ = argocd_answers(git)
    lines: list[str] = []
    with fakes.recorder({"kubectl": kubectl}):
        watching = watch.prepare(cfg, KUBE, cfg.overlay("dev"), 30)
        result = release.release(cfg, "dev", push=True)
        assert result.pushed
        with pytest.raises(OpsError):
            watch.watch_release(watching, cfg.root, result, report=lines.append)
    pushed = shell.run(["git", "-C", str(remote), "rev-parse", "main"]).stdout.strip()
    assert pushed == git("rev-parse", "HEAD")
    assert git("log", "-1", "--format=%s", "HEAD").startswith("chore(release): revert ")
    assert "pushed: git push origin HEAD:main" in lines


@pytest.mark.parametrize("from_last_good", [False, True])
def test_a_revert_that_conflicts_is_aborted_and_says_how_to_do_it_by_hand(repo, from_last_good):
    """A later commit changed what the change changed: nothing is committed, the tree is as
    it was (no revert left half-way for the next git command to trip on)."""
    cfg, git = repo
    good = git("rev-parse", "HEAD")
    _commit(cfg, git, "notes.txt", "the change\n")
    change = git("rev-parse", "HEAD")
    _commit(cfg, git, "notes.txt", "a later edit of the same line\n")
    head = git("rev-parse", "HEAD")
    span = f"{good}..{change}" if from_last_good else change
    with pytest.raises(OpsError) as info:
        watch.revert(cfg.root, change, good if from_last_good else "", "add notes", "why")
    assert str(info.value) == (
        f"the release failed (why) and reverting {span} conflicts; "
        f"revert it by hand: `git revert {span}`, then push"
    )
    assert git("rev-parse", "HEAD") == head
    assert git("status", "--porcelain") == ""
    assert not (cfg.root / ".git" / "REVERT_HEAD").exists()
    assert not (cfg.root / ".git" / "sequencer").exists()


def test_the_revert_commit_is_made_even_when_a_commit_hook_refuses(repo):
    """The rollback must not wait on a local hook (a linter, a signing prompt)."""
    cfg, git = repo
    _commit(cfg, git, "notes.txt", "the change\n")
    change = git("rev-parse", "HEAD")
    hook = cfg.root / ".git" / "hooks" / "pre-commit"
    hook.write_text("#!/bin/sh\necho 'refused by a hook' >&2\nexit 1\n")
    hook.chmod(0o755)
    sha = watch.revert(cfg.root, change, "", "add notes", "why", kind="promote")
    assert sha == git("rev-parse", "HEAD") != change
    assert git("log", "-1", "--format=%B").splitlines() == [
        "chore(promote): revert add notes",
        "",
        "why",
        "",
        f"Rolls back {change[:12]}.",
        "",
        "[skip ci]",
    ]
    assert not (cfg.root / "notes.txt").exists()


def test_a_revert_that_does_not_become_healthy_either_says_so(repo, monkeypatch):
    cfg, git = repo
    monkeypatch.setattr(wait, "POLL_SECONDS", 0)
    kubectl, patches = argocd_answers(git, revert_heals=False)
    lines: list[str] = []
    with fakes.recorder({"kubectl": kubectl}):
        watching = watch.prepare(cfg, KUBE, cfg.overlay("dev"), 30)
        result = release.release(cfg, "dev")
        with pytest.raises(OpsError) as info:
            watch.watch_release(watching, cfg.root, result, report=lines.append)
    revert = git("rev-parse", "HEAD")
    why = "gitops-lab-dev is Degraded: Deployment gitops-lab-dev/api Degraded (deadline exceeded)"
    assert str(info.value) == (
        f"release {result.tag} to dev failed ({why}); the revert {revert[:12]} did not become "
        f"healthy either: {why}; inspect it with `invoke argocd.status`"
    )
    assert f"release failed: {why}" in lines
    assert git("log", "-1", "--format=%s").startswith("chore(release): revert deploy api")
    assert len(patches) == 2


def test_an_application_argocd_does_not_sync_by_itself_is_synced_by_the_watch(repo):
    """prod has no `syncPolicy.automated`: the watch asks the controller to sync it (a merge
    patch of a sync `operation` on the Application); dev syncs by itself."""
    cfg, _ = repo
    patches = []

    def kubectl(argv, _stdin):
        if "patch" in argv:
            patches.append(argv[5:])
        if argv[5:7] == ("get", "crd"):
            return 0, "crd", ""
        return 0, json.dumps(application("0" * 40)), ""

    with fakes.recorder({"kubectl": kubectl}):
        assert watch.prepare(cfg, KUBE, cfg.overlay("dev"), 30).sync is None
        prod = watch.prepare(cfg, KUBE, cfg.overlay("prod"), 30)
        assert patches == []
        prod.sync()
    assert len(patches) == 1 and patches[0][:2] == ("patch", "applications.argoproj.io")
    assert patches[0][2:5] == ("gitops-lab-prod", "-n", "argocd")
    assert json.loads(patches[0][-1])["operation"]["sync"] == {"syncStrategy": {"hook": {}}}


@pytest.mark.parametrize("kind", ["release", "promote"])
def test_a_change_watched_with_no_last_good_revision_is_reverted_alone(repo, monkeypatch, kind):
    """ArgoCD had no healthy revision before the change: the revert undoes the change only,
    in a commit of the change's kind."""
    cfg, git = repo
    monkeypatch.setattr(wait, "POLL_SECONDS", 0)
    _commit(cfg, git, "notes.txt", "kept\n")
    kubectl, _ = argocd_answers(git)
    release.release(cfg, "dev")
    released = git("rev-parse", "HEAD")
    change = watch.Change(kind, "the change", f"{kind} x to dev", None)
    watching = watch.Watch(KUBE, "argocd", "gitops-lab-dev", "", 30)
    with fakes.recorder({"kubectl": kubectl}), pytest.raises(OpsError) as info:
        watch.watch_change(watching, cfg.root, change, report=lambda _l: None)
    assert str(info.value).startswith(f"{kind} x to dev failed (")
    assert git("log", "-1", "--format=%s") == f"chore({kind}): revert the change"
    assert f"Rolls back {released[:12]}." in git("log", "-1", "--format=%b")
    assert git("diff", "HEAD~2", "HEAD") == "" and (cfg.root / "notes.txt").is_file()


def test_a_pushed_release_asks_argocd_to_read_it_at_once_in_one_quick_try(repo):
    """What a push webhook does on a git host: ArgoCD otherwise reads git every 3 minutes."""
    cfg, _ = repo
    with fakes.recorder({"kubectl": (0, "", "")}) as calls:
        asked = argocd.ask_to_read(cfg, cfg.overlay("dev"), pushed=True)
    assert asked == "gitops-lab-dev"
    assert [c[c.index("patch") :] for c in calls] == [(*REFRESH_PATCH, "--request-timeout=5s")]


def test_a_release_argocd_cannot_see_or_a_cluster_that_does_not_answer_asks_nothing(repo):
    cfg, _ = repo
    with fakes.recorder({"kubectl": (0, "", "")}) as calls:  # not pushed, no git server here
        assert argocd.ask_to_read(cfg, cfg.overlay("dev"), pushed=False) == ""
    assert calls == []
    refused = (1, "", "The connection to the server 127.0.0.1:6443 was refused")
    with fakes.recorder({"kubectl": refused}):
        assert argocd.ask_to_read(cfg, cfg.overlay("dev"), pushed=True) == ""

    def hangs(_argv, _stdin):
        raise shell._Timeout(10)  # as shell's runner ends a process past its time

    with fakes.recorder({"kubectl": hangs}):
        assert argocd.ask_to_read(cfg, cfg.overlay("dev"), pushed=True) == ""
