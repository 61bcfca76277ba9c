"""`promote`: real git in temporary repositories (git runs here), the real kustomization
edit; ArgoCD's answers scripted at the kubectl boundary."""

import json
from datetime import UTC, datetime, timedelta

import pytest
import yaml

from opskit.core import args
from opskit.core.errors import OpsError
from opskit.gitops import (
    promote,
    promotion_evidence,
    promotion_history,
    pull_request,
    wait,
    watch,
)
from opskit.gitops.promotion_evidence import Evidence
from opskit.kube.kubectl import Kube
from opskit.manifests import kustomize
from tests import fakes

KUBE = Kube("/state/kubeconfig", "kwok-gitops-lab")
DEV_PIN = "k8s/overlays/dev/kustomization.yaml"
PROD_PIN = "k8s/overlays/prod/kustomization.yaml"
PARTS = ("secrets", "kustomization.yaml")


@pytest.fixture
def repo(git_project):
    """The real opskit.yaml, k8s/argocd and both overlays' kustomizations and secrets; dev
    released at a commit; a bare remote."""
    overlays = [f"k8s/overlays/{name}/{part}" for name in ("dev", "prod") for part in PARTS]
    cfg, git = git_project("k8s/argocd", "k8s/platform", *overlays, remote=True)
    kustomize.set_images(cfg, "dev", {"api": "aaaaaaaaaaaa", "telemetry": "bbbbbbbbbbbb"})
    git("commit", "-qam", "chore(release): deploy api aaaaaaaaaaaa to dev")
    git("push", "-q", "origin", "main")
    return cfg, git


def evidence(git, time="2026-01-01T00:00:00Z"):
    return Evidence(
        git("rev-parse", "HEAD"), "argocd", "ArgoCD gitops-lab-dev Synced/Healthy", time
    )


def pins(path):
    return {e["name"]: str(e["newTag"]) for e in yaml.safe_load(path.read_text())["images"]}


def test_a_protected_target_gets_a_branch_with_the_evidence_in_trailers(repo):
    cfg, git = repo
    ev = evidence(git)
    before = git("rev-parse", "HEAD")
    src, dst = promote.overlays(cfg, "dev", "prod")
    result = promote.promote(cfg, src, dst, ev)
    branch = f"promote/dev-{ev.revision[:12]}-to-prod"
    assert (result.branch, result.base, result.pushed) == (branch, before, False)
    assert git("rev-parse", "HEAD") == before and git("status", "--porcelain") == ""
    assert git("symbolic-ref", "--short", "HEAD") == "main"  # back where it was
    assert git("rev-parse", branch) == result.commit and git("rev-parse", f"{branch}~1") == before
    assert (
        git("log", "-1", "--format=%s", branch) == f"chore(promote): dev@{ev.revision[:12]} -> prod"
    )
    assert git("log", "-1", "--format=%(trailers:only,unfold)", branch).splitlines() == [
        f"Promoted-From: dev@{ev.revision}",
        "Evidence: argocd: ArgoCD gitops-lab-dev Synced/Healthy",
        "Evidence-Time: 2026-01-01T00:00:00Z",
        "Image: api=localhost:5000/gitops-lab/api:aaaaaaaaaaaa",
        "Image: telemetry=localhost:5000/gitops-lab/telemetry:bbbbbbbbbbbb",
    ]
    assert git("diff-tree", "--no-commit-id", "--name-only", "-r", branch) == PROD_PIN
    git("checkout", "-q", branch)
    assert pins(cfg.root / PROD_PIN) == {"api": "aaaaaaaaaaaa", "telemetry": "bbbbbbbbbbbb"}
    assert result.push_command() == f"git push origin {branch}:{branch}"


def test_push_pushes_the_branch_only(repo, tmp_path):
    cfg, git = repo
    src, dst = promote.overlays(cfg, "dev", "prod")
    result = promote.promote(cfg, src, dst, evidence(git), push=True)
    remote = tmp_path / "remote.git"
    assert git("rev-parse", result.branch, cwd=remote) == result.commit
    assert git("rev-parse", "main", cwd=remote) == result.base


def test_an_unprotected_target_is_committed_on_the_current_branch(repo, tmp_path):
    cfg, git = repo
    object.__setattr__(cfg.overlay("prod"), "protected", False)
    src, dst = promote.overlays(cfg, "dev", "prod")
    result = promote.promote(cfg, src, dst, evidence(git), push=True)
    assert result.branch == "" and git("rev-parse", "HEAD") == result.commit
    assert result.push_command() == "git push origin HEAD:main"
    assert git("rev-parse", "main", cwd=tmp_path / "remote.git") == result.commit


def test_promoting_what_the_target_pins_already_commits_nothing(repo):
    cfg, git = repo
    src, dst = promote.overlays(cfg, "dev", "prod")
    first = promote.promote(cfg, src, dst, evidence(git))
    git("merge", "-q", "--ff-only", first.branch)
    again = promote.promote(cfg, src, dst, evidence(git))
    assert (again.commit, again.images, again.branch) == ("", (), "")
    assert git("rev-parse", "HEAD") == first.commit
    assert git("branch", "--list", "promote/*").split() == [first.branch]


def test_dry_run_changes_nothing(repo, capsys):
    cfg, git = repo
    before = (git("rev-parse", "HEAD"), (cfg.root / PROD_PIN).read_text())
    src, dst = promote.overlays(cfg, "dev", "prod")
    result = promote.promote(cfg, src, dst, evidence(git), push=True, dry_run=True)
    assert result.commit == "" and result.images == ("api", "telemetry")
    assert (git("rev-parse", "HEAD"), (cfg.root / PROD_PIN).read_text()) == before
    assert git("branch", "--list", "promote/*") == ""
    err = capsys.readouterr().err
    assert f"git -C {cfg.root} switch -q -c {result.branch}" in err
    assert f"git push origin {result.branch}:{result.branch}" in err


def test_the_secrets_are_not_touched(repo):
    cfg, git = repo
    before = git("rev-parse", "HEAD:k8s/overlays/prod/secrets")
    src, dst = promote.overlays(cfg, "dev", "prod")
    result = promote.promote(cfg, src, dst, evidence(git))
    assert git("rev-parse", f"{result.branch}:k8s/overlays/prod/secrets") == before


@pytest.mark.parametrize(
    ("source", "target", "message"),
    [
        ("dev", "dev", "cannot promote dev to itself"),
        ("dev", "nope", "unknown overlay 'nope'"),
        ("nope", "prod", "unknown overlay 'nope'"),
    ],
)
def test_bad_overlays_are_refused(repo, source, target, message):
    cfg, _ = repo
    with pytest.raises(OpsError, match=message):
        promote.overlays(cfg, source, target)


def test_a_hold_names_who_and_why(repo):
    cfg, git = repo
    hold = cfg.root / "k8s/overlays/prod" / promote.HOLD_FILE
    hold.write_text("promotion:\n  hold: freeze for the audit\n  by: alice\n")
    with pytest.raises(OpsError) as info:
        promote.require_no_hold(cfg, cfg.overlay("prod"))
    assert str(info.value) == (
        "prod is held by alice: freeze for the audit; promote when they remove "
        "k8s/overlays/prod/promotion.yaml (or its `hold:`)"
    )
    hold.write_text("promotion:\n  hold: waiting for the DBA\n")
    git("add", ".")
    git("-c", "user.name=Bob", "-c", "user.email=bob@example.com", "commit", "-qm", "hold")
    with pytest.raises(OpsError, match=r"held by Bob <bob@example.com>: waiting for the DBA"):
        promote.require_no_hold(cfg, cfg.overlay("prod"))
    hold.write_text("promotion:\n  hold: ''\n")
    promote.require_no_hold(cfg, cfg.overlay("prod"))  # an empty hold holds nothing


def test_the_source_must_pin_the_app_at_the_revision(repo):
    cfg, git = repo
    with pytest.raises(OpsError, match=r"k8s/overlays/dev/kustomization\.yaml does not exist"):
        promote.source_tags(cfg, cfg.overlay("dev"), git("hash-object", "-t", "tree", "/dev/null"))


# --- evidence ---------------------------------------------------------------------------


def application(revision, sync="Synced", health="Healthy", history=()):
    status = {
        "sync": {"status": sync, "revisions": [revision, revision]},
        "health": {"status": health},
        "history": list(history),
    }
    return {"metadata": {"name": "gitops-lab-dev"}, "status": status}


def deployed(revision, at):
    return {"revisions": [revision, revision], "deployedAt": at, "id": 1}


def kubectl_answering(obj):
    def kubectl(argv, stdin):
        if argv[5:7] == ("get", "crd"):
            return 0, "crd", ""
        return 0, json.dumps(obj), ""

    return kubectl


def test_evidence_is_the_synced_and_healthy_revision_and_when_argocd_deployed_it(repo):
    cfg, git = repo
    head = git("rev-parse", "HEAD")
    obj = application(head, history=[deployed(head, "2026-12-01T10:00:00Z")])
    with fakes.recorder({"kubectl": kubectl_answering(obj)}):
        ev = promotion_evidence.from_argocd(cfg, KUBE, cfg.overlay("dev"))
    assert ev == Evidence(
        head, "argocd", "ArgoCD gitops-lab-dev Synced/Healthy", "2026-12-01T10:00:00Z"
    )


def test_an_out_of_sync_but_healthy_app_proves_its_last_synced_revision(repo):
    cfg, git = repo
    synced, head = git("rev-parse", "HEAD~1"), git("rev-parse", "HEAD")
    obj = application(head, "OutOfSync", history=[deployed(synced, "2026-12-01T10:00:00Z")])
    with fakes.recorder({"kubectl": kubectl_answering(obj)}):
        ev = promotion_evidence.from_argocd(cfg, KUBE, cfg.overlay("dev"))
    assert (ev.revision, ev.detail) == (synced, "ArgoCD gitops-lab-dev last synced, Healthy")


@pytest.mark.parametrize(
    ("sync", "health"),
    [("Synced", "Progressing"), ("Synced", "Degraded"), ("OutOfSync", "Missing")],
)
def test_no_healthy_revision_is_no_evidence(repo, sync, health):
    cfg, git = repo
    head = git("rev-parse", "HEAD")
    obj = application(head, sync, health, history=[deployed(head, "2026-12-01T10:00:00Z")])
    with fakes.recorder({"kubectl": kubectl_answering(obj)}), pytest.raises(OpsError) as info:
        promotion_evidence.from_argocd(cfg, KUBE, cfg.overlay("dev"))
    assert str(info.value).startswith(
        f"no evidence for dev: gitops-lab-dev is {sync}/{health} at {head[:12]}, no revision "
        "ArgoCD reports Healthy; wait until it is (`invoke argocd.wait --overlay=dev`)"
    )


def test_a_proven_revision_missing_from_the_clone_says_fetch(repo):
    cfg, _ = repo
    obj = application("f" * 40)
    with (
        fakes.recorder({"kubectl": kubectl_answering(obj)}),
        pytest.raises(OpsError, match="git fetch origin"),
    ):
        promotion_evidence.from_argocd(cfg, KUBE, cfg.overlay("dev"))


def test_soak_counts_from_the_evidence_time():
    now = datetime.now(UTC)
    old = Evidence("a" * 40, "argocd", "x", (now - timedelta(hours=3)).isoformat())
    promotion_evidence.require_soak(old, 2 * 3600, "dev")
    with pytest.raises(
        OpsError, match=r"healthy since .* \(10800s\), less than the soak of 86400s"
    ):
        promotion_evidence.require_soak(old, 86400, "dev")
    with pytest.raises(OpsError, match="for an unknown time"):
        promotion_evidence.require_soak(Evidence("a" * 40, "argocd", "x", ""), 60, "dev")
    promotion_evidence.require_soak(Evidence("a" * 40, "argocd", "x", ""), 0, "dev")


@pytest.mark.parametrize(
    ("value", "seconds"),
    [("0", 0), ("90", 90), ("90s", 90), ("15m", 900), ("2h", 7200), ("1.5d", 129600)],
)
def test_durations(value, seconds):
    assert args.duration(value, "--soak") == seconds


@pytest.mark.parametrize("value", ["abc", "-1h", "2w", "31d", ""])
def test_bad_durations_are_one_line(value):
    with pytest.raises(OpsError, match=r"--soak: .* is not allowed; use a duration such as"):
        args.duration(value, "--soak")


def _reports(
    tmp_path, commit, context="kwok-gitops-lab", smoke_ok=True, smoke_end="2026-12-01T10:05:00Z"
):
    deploy = tmp_path / "deploy.json"
    smoke = tmp_path / "smoke.json"
    deploy.write_text(
        json.dumps(
            {
                "kind": "deploy",
                "overlay": "dev",
                "status": "succeeded",
                "context": context,
                "commit": commit,
                "finished_at": "2026-12-01T10:00:00Z",
                "dry_run": False,
            }
        )
    )
    smoke.write_text(
        json.dumps(
            {
                "kind": "smoke",
                "overlay": "dev",
                "status": "succeeded",
                "finished_at": smoke_end,
                "checks": [{"name": "test_api_answers", "ok": smoke_ok, "seconds": 0.1}],
            }
        )
    )
    return deploy, smoke


def test_a_passing_deploy_and_smoke_report_are_evidence(repo, tmp_path):
    cfg, git = repo
    head = git("rev-parse", "HEAD")
    deploy, smoke = _reports(tmp_path, head)
    ev = promotion_evidence.from_reports(cfg, cfg.overlay("dev"), deploy, smoke)
    assert (ev.revision, ev.source, ev.time) == (head, "reports", "2026-12-01T10:05:00Z")
    assert ev.detail == "deploy report deploy.json (kwok-gitops-lab) + smoke report smoke.json"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            {"context": "someone-elses"},
            "deployed to context 'someone-elses', which overlay dev does not allow",
        ),
        ({"smoke_ok": False}, r"the smoke checks did not pass \(test_api_answers\)"),
        ({"smoke_end": "2026-12-01T09:00:00Z"}, "the smoke run ended before the deploy did"),
    ],
)
def test_reports_that_prove_nothing_are_refused(repo, tmp_path, change, message):
    cfg, git = repo
    deploy, smoke = _reports(tmp_path, git("rev-parse", "HEAD"), **change)
    with pytest.raises(OpsError, match=message):
        promotion_evidence.from_reports(cfg, cfg.overlay("dev"), deploy, smoke)


# --- watch: the merge, the sync of a manual Application, last good ------------------------


def test_release_watch_takes_an_out_of_sync_but_healthy_apps_last_synced_revision(repo):
    cfg, git = repo
    synced, head = git("rev-parse", "HEAD~1"), git("rev-parse", "HEAD")
    obj = application(head, "OutOfSync", history=[deployed(synced, "2026-12-01T10:00:00Z")])
    with fakes.recorder({"kubectl": kubectl_answering(obj)}):
        watching = watch.prepare(cfg, KUBE, cfg.overlay("prod"), 30)
    assert watching.last_good == synced
    assert watching.sync is not None  # prod is not synced by ArgoCD itself
    with fakes.recorder({"kubectl": kubectl_answering(obj)}):
        assert watch.prepare(cfg, KUBE, cfg.overlay("dev"), 30).sync is None


def test_wait_requests_a_sync_of_an_out_of_sync_manual_application(monkeypatch):
    monkeypatch.setattr(wait, "POLL_SECONDS", 0)
    revision = "c" * 40
    answers = iter([application(revision, "OutOfSync"), application(revision, "OutOfSync")])
    synced = []

    def kubectl(argv, stdin):
        obj = next(answers, application(revision))
        return 0, json.dumps(obj), ""

    lines = []
    with fakes.recorder({"kubectl": kubectl}):
        state = wait.wait(
            KUBE,
            "argocd",
            "gitops-lab-dev",
            revision,
            30,
            lines.append,
            sync=lambda: synced.append(1),
        )
    assert state.sync == "Synced" and synced == [1]  # once: not again within REFRESH_EVERY
    assert f"gitops-lab-dev: OutOfSync at {revision[:12]}; requesting a sync" in lines


def test_wait_merged_follows_the_pull_request_into_main(repo, tmp_path, monkeypatch):
    cfg, git = repo
    monkeypatch.setattr(promote, "MERGE_POLL_SECONDS", 0)
    src, dst = promote.overlays(cfg, "dev", "prod")
    result = promote.promote(cfg, src, dst, evidence(git), push=True)
    with pytest.raises(
        OpsError,
        match=rf"{result.branch} was not merged into origin/main within 0.2s: nothing was deployed",
    ):
        promote.wait_merged(cfg, result, 0.2, report=lambda _l: None)
    remote = tmp_path / "remote.git"
    git("update-ref", "refs/heads/main", result.commit, cwd=remote)  # the pull request merged
    merged = promote.wait_merged(cfg, result, 5, report=lambda _l: None)
    assert merged == result.commit == git("rev-parse", "HEAD")
    assert promote.change(cfg, result) == watch.Change(
        "promote",
        f"dev@{result.evidence.revision[:12]} -> prod",
        f"promotion of dev@{result.evidence.revision[:12]} to prod",
        ("git", "push", "origin", "HEAD:main"),
    )


def test_watch_of_a_protected_overlay_runs_on_the_followed_branch(repo):
    cfg, git = repo
    promote.require_followed_branch(cfg)
    git("switch", "-q", "-c", "topic")
    with pytest.raises(OpsError, match=r"runs on main \(the branch ArgoCD follows\), not on topic"):
        promote.require_followed_branch(cfg)


def test_the_pull_request_body_and_bitbucket_payload_stay_out_of_the_tree(repo):
    cfg, git = repo
    src, dst = promote.overlays(cfg, "dev", "prod")
    result = promote.promote(cfg, src, dst, evidence(git))
    body = pull_request.write_body(cfg, result, "### Manifest diff\n")
    assert body.parent == cfg.root / ".git" / "opskit" and git("status", "--porcelain") == ""
    assert body.read_text().endswith("### Manifest diff\n")
    payload = json.loads(body.with_suffix(".bitbucket.json").read_text())
    assert payload["title"] == result.subject
    assert payload["source"] == {"branch": {"name": result.branch}}
    assert payload["destination"] == {"branch": {"name": "main"}}
    assert payload["description"] == body.read_text()


BITBUCKET_URLS = [
    "git@bitbucket.org:acme/gitops-lab.git",
    "ssh://git@bitbucket.org/acme/gitops-lab.git",
    "ssh://git@altssh.bitbucket.org:443/acme/gitops-lab",
    "https://bitbucket.org/acme/gitops-lab.git",
    "https://jane@bitbucket.org/acme/gitops-lab",
]
GITHUB_URLS = [
    "git@github.com:acme/gitops-lab.git",
    "ssh://git@ssh.github.com:443/acme/gitops-lab.git",
    "https://github.com/acme/gitops-lab.git",
    "https://github.com/acme/gitops-lab/",
]


@pytest.mark.parametrize("url", BITBUCKET_URLS)
def test_a_bitbucket_remote_gets_a_curl_to_the_rest_api_with_the_token_from_the_environment(
    repo, url
):
    cfg, git = repo
    git("remote", "set-url", "origin", url)
    src, dst = promote.overlays(cfg, "dev", "prod")
    result = promote.promote(cfg, src, dst, evidence(git))
    body = cfg.root / ".git" / "opskit" / "pr.md"
    remote = pull_request.remote_of(cfg.root)
    assert remote == pull_request.Remote("bitbucket", "acme", "gitops-lab")
    assert pull_request.command(remote, result, "main", body) == (
        'curl -sSf -X POST -H "Authorization: Bearer $BITBUCKET_TOKEN" '
        f"-H 'Content-Type: application/json' --data @{body.with_suffix('.bitbucket.json')} "
        "https://api.bitbucket.org/2.0/repositories/acme/gitops-lab/pullrequests"
    )


@pytest.mark.parametrize("url", GITHUB_URLS)
def test_a_github_remote_gets_gh_pr_create_for_that_repository(repo, url):
    cfg, git = repo
    git("remote", "set-url", "origin", url)
    src, dst = promote.overlays(cfg, "dev", "prod")
    result = promote.promote(cfg, src, dst, evidence(git))
    body = cfg.root / ".git" / "opskit" / "pr.md"
    remote = pull_request.remote_of(cfg.root)
    assert pull_request.command(remote, result, "main", body) == (
        f"gh pr create --repo acme/gitops-lab --base main --head {result.branch} "
        f"--title '{result.subject}' --body-file {body}"
    )


def test_the_bitbucket_command_runs_in_a_shell_with_the_token_it_never_holds(tmp_path):
    """The printed command as bash runs it: the header carries the token from the
    environment (curl is replaced by one that prints its argv)."""
    import subprocess

    fake = tmp_path / "bin" / "curl"
    fake.parent.mkdir()
    fake.write_text('#!/bin/sh\nfor a in "$@"; do echo "$a"; done\n')
    fake.chmod(0o755)
    promotion = promote.Promotion(
        "dev", "prod", Evidence("a" * 40, "argocd", "ok", ""), {}, "m", "b", branch="x"
    )
    remote = pull_request.parse_remote("git@bitbucket.org:acme/gitops-lab.git")
    line = pull_request.command(remote, promotion, "main", tmp_path / "pr.md")
    assert "s3cr3t" not in line
    env = {"PATH": f"{fake.parent}:/usr/bin:/bin", "BITBUCKET_TOKEN": "s3cr3t"}
    argv = subprocess.run(
        ["bash", "-c", line], env=env, capture_output=True, text=True, check=True
    ).stdout.splitlines()
    assert argv[:5] == ["-sSf", "-X", "POST", "-H", "Authorization: Bearer s3cr3t"]


@pytest.mark.parametrize(
    "url",
    [
        "https://gitlab.com/acme/gitops-lab.git",
        "/srv/git/gitops-lab.git",
        "git@bitbucket.org:acme/team/gitops-lab.git",
        "",
    ],
)
def test_a_remote_that_is_not_github_or_bitbucket_is_one_line(url):
    with pytest.raises(OpsError) as info:
        pull_request.parse_remote(url)
    assert len(str(info.value).splitlines()) == 1
    assert str(info.value).startswith(
        f"remote origin is {url or 'not set'}: not a GitHub or Bitbucket repository"
    )


def test_credentials_in_a_remote_url_are_not_repeated():
    with pytest.raises(OpsError) as info:
        pull_request.parse_remote("https://jane:hunter2@gitlab.com/acme/gitops-lab.git")
    assert "hunter2" not in str(info.value) and "jane" not in str(info.value)


# --- history ------------------------------------------------------------------------------


def test_history_lists_promotions_with_their_evidence_and_reverts_from_git_alone(repo):
    cfg, git = repo
    object.__setattr__(cfg.overlay("prod"), "protected", False)
    src, dst = promote.overlays(cfg, "dev", "prod")
    first = promote.promote(cfg, src, dst, evidence(git))
    sha = watch.revert(
        cfg.root, first.commit, "", first.subject.removeprefix(promote.PREFIX), "why", "promote"
    )
    entries = promotion_history.history(cfg.root, "prod")
    assert [(e.commit, e.reverted_by) for e in entries] == [(first.commit, sha)]
    assert entries[0].first("Evidence") == "argocd: ArgoCD gitops-lab-dev Synced/Healthy"
    assert promotion_history.history(cfg.root, "dev") == []
    table = promotion_history.table(entries).splitlines()
    assert table[0].split() == [
        "DATE",
        "COMMIT",
        "FROM",
        "EVIDENCE",
        "EVIDENCE-TIME",
        "IMAGES",
        "REVERTED",
    ]
    assert f"dev@{first.evidence.revision[:12]}" in table[1] and sha[:12] in table[1]
    assert "api:aaaaaaaaaaaa telemetry:bbbbbbbbbbbb" in table[1]


# --- the task: bad input is one line, exit 1, nothing committed ---------------------------


def _task(cfg, **flags):
    from invoke import Context, Exit

    from opskit.tasks.promote import promote as task

    context = Context()
    context.config._opskit_config = cfg
    with pytest.raises(Exit) as info:
        task.body(context, **flags)
    return info.value.code


@pytest.mark.parametrize(
    ("flags", "setup", "message"),
    [
        ({"to": "nope"}, None, "unknown overlay 'nope'"),
        ({"from_": "prod", "to": "prod"}, None, "cannot promote prod to itself"),
        (
            {},
            "dirty",
            "promote dev -> prod refuses a dirty working tree (notes.txt); commit or "
            "stash your changes first: a promotion holds only the tag pin",
        ),
        ({}, "hold", "prod is held by carol: waiting for the pen test"),
        ({"soak": "forever"}, None, "--soak: 'forever' is not allowed"),
        ({"deploy_report": "r.json"}, None, "--deploy-report and --smoke-report go together"),
    ],
)
def test_the_task_refuses_bad_input_in_one_line_and_commits_nothing(
    repo, capsys, flags, setup, message
):
    cfg, git = repo
    if setup == "dirty":
        (cfg.root / "notes.txt").write_text("wip\n")
    if setup == "hold":
        (cfg.root / "k8s/overlays/prod/promotion.yaml").write_text(
            "promotion: {hold: waiting for the pen test, by: carol}\n"
        )
    before = git("rev-parse", "HEAD")
    assert _task(cfg, **flags) == 1
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and message in err, err
    assert git("rev-parse", "HEAD") == before and git("branch", "--list", "promote/*") == ""


def test_a_protected_promotion_with_a_remote_of_another_host_is_one_line_and_commits_nothing(
    repo, tmp_path, capsys
):
    cfg, git = repo
    git("remote", "set-url", "origin", "https://gitlab.com/acme/gitops-lab.git")
    before = git("rev-parse", "HEAD")
    deploy, smoke = _reports(tmp_path, before)
    assert _task(cfg, deploy_report=str(deploy), smoke_report=str(smoke)) == 1
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1, err
    assert err.startswith(
        "opskit: error: remote origin is https://gitlab.com/acme/gitops-lab.git: not a GitHub "
        "or Bitbucket repository, so there is no pull-request command to print; point it at "
    ), err
    assert git("rev-parse", "HEAD") == before and git("branch", "--list", "promote/*") == ""


def test_a_missing_report_is_one_line(repo, tmp_path):
    cfg, _ = repo
    with pytest.raises(OpsError, match=r"nope\.json"):
        promotion_evidence.from_reports(
            cfg, cfg.overlay("dev"), tmp_path / "nope.json", tmp_path / "s.json"
        )


def test_a_failed_commit_leaves_no_branch_and_the_checkout_where_it_was(repo):
    cfg, git = repo
    git("config", "core.hooksPath", str(cfg.root / "hooks"))
    hook = cfg.root / "hooks" / "pre-commit"
    hook.parent.mkdir()
    hook.write_text("#!/bin/sh\necho 'refused by a hook' >&2\nexit 1\n")
    hook.chmod(0o755)
    git("add", "hooks")
    git("commit", "-q", "--no-verify", "-m", "a hook")
    before = git("rev-parse", "HEAD")
    src, dst = promote.overlays(cfg, "dev", "prod")
    with pytest.raises(OpsError):
        promote.promote(cfg, src, dst, evidence(git))
    assert git("branch", "--list", "promote/*") == "" and git("rev-parse", "HEAD") == before
    assert git("symbolic-ref", "--short", "HEAD") == "main" and git("status", "--porcelain") == ""
