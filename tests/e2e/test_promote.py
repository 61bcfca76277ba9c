"""`invoke promote --from=dev --to=prod` for real: ArgoCD's controllers as local processes
(as in test_gitops.py) sync dev and prod from a scratch copy of the repository; the
promotion goes through a branch that the test merges like a pull request.

In order on one install: a healthy dev promoted to prod (Synced/Healthy), a promotion whose
prod pods never get Ready (reverted in git, the revert synced), bad input, and a promotion
refused for missing evidence. The module's teardown stops ArgoCD (`cluster.down`) and
brings the cluster back up for the modules after this one.
"""

from __future__ import annotations

import json
import re
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import sh
import yaml

from opskit.core import tools
from tests.e2e.project import BIN, Project, make_project

pytestmark = [
    pytest.mark.skipif(
        tools.which("argocd") is None or tools.which("kustomize") is None,
        reason="needs ArgoCD and kustomize: `invoke tools.install --only=gitops`",
    ),
]
PROD = "k8s/overlays/prod"


def _say(message: str) -> None:
    print(f"[e2e] {message}", file=sys.stderr, flush=True)


def run(project: Project, *args: str, ok=(0,)) -> tuple[int, str, str]:
    done = project.invoke(*args, ok=ok)
    return done.exit_code, done.stdout.decode(), done.stderr.decode()


@pytest.fixture(scope="module")
def gitops(kwok_cluster, tmp_path_factory) -> Iterator[Project]:
    """The scratch copy with dev and prod Secrets for the e2e key, ArgoCD installed, the
    root applied and dev Synced/Healthy."""
    base = tmp_path_factory.mktemp("promote")
    project = make_project(base / "source", kwok_cluster.name)
    run(project, "secrets.init", "--overlay", "prod", "--force")  # values for the e2e key
    project.commit_all("test: prod secrets for the e2e key")
    project.git("config", "receive.denyCurrentBranch", "updateInstead")  # clones push here
    started = time.monotonic()
    run(project, "argocd.install")
    _say(f"argocd.install took {time.monotonic() - started:.1f}s")
    run(project, "argocd.bootstrap")
    run(project, "argocd.wait", "--overlay=dev", "--timeout=300")
    yield project
    run(project, "cluster.down")  # ArgoCD's processes go with it
    kwok_cluster.up(report=_say)  # for the e2e modules after this one


def app_status(project: Project, name: str) -> dict:
    _, out, _ = run(project, "argocd.status", "--json")
    return next(row for row in json.loads(out) if row["name"] == name)


def release_dev(project: Project, note: str) -> str:
    (project.path / "app" / "RELEASE_NOTE").write_text(note)
    project.commit_all(f"feat: {note.strip()}")
    run(project, "release", "--overlay=dev", "--watch", "--timeout=120")
    return project.git("rev-parse", "HEAD")


def pins(text: str) -> dict[str, str]:
    return {e["name"]: str(e["newTag"]) for e in yaml.safe_load(text)["images"]}


def branches(project: Project) -> set[str]:
    out = project.git("for-each-ref", "--format=%(refname:short)", "refs/heads/promote/")
    return set(out.split())


def promote_and_merge(origin: Project, clone: Project, *args: str) -> tuple[int, str, str, float]:
    """`invoke promote ... --push --watch` in the clone; the branch it pushes is merged in
    `origin` (the pull request) as soon as it appears. Returns code, stdout, stderr, seconds."""
    before = branches(origin)
    started = time.monotonic()
    command = sh.Command(str(BIN / "invoke"))(
        "promote",
        "--from=dev",
        "--to=prod",
        "--push",
        "--watch",
        *args,
        _cwd=clone.path,
        _env=clone.env,
        _bg=True,
        _ok_code=[0, 1],
        _return_cmd=True,
        _tty_out=False,
    )
    while command.is_alive() and not branches(origin) - before:
        time.sleep(0.2)
    new = sorted(branches(origin) - before)
    if new:
        origin.git("merge", "--ff-only", "-q", new[0])
        _say(f"merged {new[0]} {time.monotonic() - started:.1f}s after promote started")
    command.wait()
    seconds = time.monotonic() - started
    return command.exit_code, command.stdout.decode(), command.stderr.decode(), seconds


def clone_of(origin: Project, target) -> Project:
    sh.git("clone", "-q", str(origin.path), str(target))
    return Project(target, origin.env)


def test_healthy_dev_is_promoted_to_prod_which_becomes_synced_and_healthy(gitops, tmp_path):
    proven = release_dev(gitops, "a change to promote\n")
    secrets_before = gitops.git("rev-parse", f"HEAD:{PROD}/secrets")
    clone = clone_of(gitops, tmp_path / "clone")
    code, out, err, seconds = promote_and_merge(gitops, clone, "--timeout=120")
    _say(f"promote -> gitops-lab-prod Synced/Healthy in {seconds:.1f}s (merge, invoke included)")
    print(err, file=sys.stderr)
    assert code == 0, err
    head = gitops.git("rev-parse", "HEAD")
    assert re.search(rf"gitops-lab-prod Synced\+Healthy at {head[:12]} after", err), err
    promotion = gitops.git("log", "-1", "--format=%H", "--grep=chore(promote): ")
    subject = gitops.git("log", "-1", "--format=%s", promotion)
    assert subject == f"chore(promote): dev@{proven[:12]} -> prod"
    trailers = gitops.git("log", "-1", "--format=%(trailers:only,unfold)", promotion)
    dev_pins = pins(gitops.git("show", f"{proven}:k8s/overlays/dev/kustomization.yaml"))
    assert f"Promoted-From: dev@{proven}" in trailers
    assert "Evidence: argocd: ArgoCD gitops-lab-dev Synced/Healthy" in trailers
    assert re.search(r"Evidence-Time: \d{4}-\d\d-\d\dT", trailers), trailers
    assert f"Image: api=localhost:5000/gitops-lab/api:{dev_pins['api']}" in trailers
    assert pins((gitops.path / PROD / "kustomization.yaml").read_text()) == dev_pins
    changed = gitops.git("diff-tree", "--no-commit-id", "--name-only", "-r", promotion)
    assert changed.split() == [f"{PROD}/kustomization.yaml"]
    assert gitops.git("rev-parse", f"HEAD:{PROD}/secrets") == secrets_before  # own recipients
    assert "Deployment/api: changed" in out and f"api:{dev_pins['api']}" in out
    assert re.search(r"open the pull request: gh pr create --base main --head promote/dev-", err)
    assert "https://api.bitbucket.org/2.0/repositories/" in err
    body = re.search(r"pull-request body \(Markdown\): (\S+)", err).group(1)
    assert "### Manifest diff" in Path(body).read_text()
    row = app_status(gitops, "gitops-lab-prod")
    assert (row["revision"], row["sync"], row["health"]) == (head, "Synced", "Healthy")
    _, table, _ = run(gitops, "promote", "--history", "--to=prod")
    print(table, file=sys.stderr)
    assert promotion[:12] in table and f"dev@{proven[:12]}" in table
    assert "argocd: ArgoCD gitops-lab-dev Synced/Healthy" in table


def test_promotion_whose_prod_pods_never_get_ready_is_reverted_and_the_revert_synced(
    gitops, tmp_path, never_ready
):
    good = app_status(gitops, "gitops-lab-prod")["revision"]
    proven = release_dev(gitops, "another change to promote\n")
    # prod: OutOfSync (manual sync), still Healthy at `good`
    never_ready(gitops, "prod", "feat(prod): a setting whose pods never become Ready")
    clone = clone_of(gitops, tmp_path / "clone")
    code, _, err, seconds = promote_and_merge(gitops, clone, "--timeout=40")
    print(err, file=sys.stderr)
    _say(f"failed promotion -> reverted and synced in {seconds:.1f}s")
    assert code == 1
    last = err.strip().splitlines()[-1]
    revert = gitops.git("rev-parse", "HEAD")
    assert re.fullmatch(
        rf"opskit: error: promotion of dev@{proven[:12]} to prod failed \(gitops-lab-prod not "
        rf"Synced\+Healthy at \w{{12}} after 40s: Deployment gitops-lab-prod/api \w+.*\); "
        rf"rolled back in git: {revert[:12]} is Synced and Healthy",
        last,
    ), last
    assert gitops.git("log", "-1", "--format=%s") == (
        f"chore(promote): revert dev@{proven[:12]} -> prod"
    )
    assert gitops.git("diff", good, revert, "--", PROD) == ""  # prod's last good config again
    row = app_status(gitops, "gitops-lab-prod")
    assert (row["revision"], row["sync"], row["health"]) == (revert, "Synced", "Healthy")
    _, table, _ = run(gitops, "promote", "--history", "--to=prod")
    print(table, file=sys.stderr)
    assert revert[:12] in table  # the reverted promotion names its revert


def test_bad_input_is_one_line_exit_1_and_commits_nothing(gitops):
    hold = gitops.path / PROD / "promotion.yaml"
    hold.write_text("promotion:\n  hold: release freeze until the audit\n  by: alice\n")
    gitops.commit_all("chore: hold prod")
    before, known = gitops.git("rev-parse", "HEAD"), branches(gitops)
    cases = [
        (("--to=nope",), "unknown overlay 'nope'"),
        (("--from=dev", "--to=dev"), "cannot promote dev to itself"),
        (("--to=prod",), "prod is held by alice: release freeze until the audit"),
    ]
    for args, expected in cases:
        _, _, err = run(gitops, "promote", *args, ok=(1,))
        assert len(err.strip().splitlines()) == 1 and expected in err, err
    hold.unlink()
    gitops.commit_all("chore: release prod's hold")
    (gitops.path / "app" / "UNCOMMITTED").write_text("work in progress\n")
    _, _, err = run(gitops, "promote", ok=(1,))
    (gitops.path / "app" / "UNCOMMITTED").unlink()
    assert len(err.strip().splitlines()) == 1 and "refuses a dirty working tree" in err, err
    # the soak is judged on evidence: dev Synced/Healthy at the commit that released the hold
    run(gitops, "argocd.wait", "--overlay=dev", "--timeout=300")
    _, _, err = run(gitops, "promote", "--soak=1d", ok=(1,))
    assert len(err.strip().splitlines()) == 1 and "less than the soak of 86400s" in err, err
    assert gitops.git("rev-list", f"{before}..HEAD", "--format=%s", "--no-commit-header") == (
        "chore: release prod's hold"
    )
    assert branches(gitops) == known and gitops.git("status", "--porcelain") == ""


def test_promotion_without_evidence_is_refused(gitops, never_ready):
    head = never_ready(gitops, "dev", "feat: a dev change whose pods never become Ready")
    started = time.monotonic()
    while time.monotonic() - started < 90:
        row = app_status(gitops, "gitops-lab-dev")
        if row["revision"] == head and row["health"] != "Healthy":
            break
        time.sleep(1)
    assert (row["revision"], row["sync"]) == (head, "Synced")
    known = branches(gitops)
    _, _, err = run(gitops, "promote", ok=(1,))
    print(err, file=sys.stderr)
    assert len(err.strip().splitlines()) == 1
    assert re.fullmatch(
        rf"opskit: error: no evidence for dev: gitops-lab-dev is Synced/{row['health']} at "
        rf"{head[:12]}, no revision ArgoCD reports Healthy; wait until it is .*",
        err.strip(),
    ), err
    assert gitops.git("rev-parse", "HEAD") == head and branches(gitops) == known
