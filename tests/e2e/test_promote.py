"""`invoke promote --from=dev --to=prod` for real: ArgoCD's controllers as local processes
(as in test_gitops.py) sync dev and prod from a scratch copy of the repository; the
promotion goes through a branch that the test merges like a pull request.

In order on one install: a healthy dev promoted to prod (Synced/Healthy), a promotion whose
prod pods never get Ready (reverted in git, the revert synced), bad input, and a promotion
refused for missing evidence. The module's teardown stops ArgoCD (`cluster.down`) and
brings the cluster back up for the modules after this one.
"""

from __future__ import annotations

import re
import sys
import time
from collections.abc import Iterator

import pytest

from opskit.core import tools
from tests.e2e.project import Project, make_project
from tests.e2e.promotion import (
    PROD,
    app_status,
    branches,
    check_promoted,
    check_refused_without_evidence,
    check_reverted,
    clone_of,
    dev_unhealthy_at,
    promote_and_merge,
    release_dev,
    run,
)
from tests.e2e.promotion import say as _say

pytestmark = [
    pytest.mark.skipif(
        tools.which("argocd") is None or tools.which("kustomize") is None,
        reason="needs ArgoCD and kustomize: `invoke tools.install --only=gitops`",
    ),
]


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


def test_healthy_dev_is_promoted_to_prod_which_becomes_synced_and_healthy(gitops, tmp_path):
    proven = release_dev(gitops, "a change to promote\n")
    secrets_before = gitops.git("rev-parse", f"HEAD:{PROD}/secrets")
    clone = clone_of(gitops, tmp_path / "clone")
    code, out, err, seconds = promote_and_merge(gitops, clone, "--timeout=120")
    _say(f"promote -> gitops-lab-prod Synced/Healthy in {seconds:.1f}s (merge, invoke included)")
    print(err, file=sys.stderr)
    pr = "gh pr create --repo gitops-lab/gitops-lab --base main --head promote/dev-"
    check_promoted(gitops, proven, code, out, err, re.escape(pr))
    assert gitops.git("rev-parse", f"HEAD:{PROD}/secrets") == secrets_before  # own recipients


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
    check_reverted(gitops, proven, good, code, err, 40, "api")


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
    row = dev_unhealthy_at(gitops, head, within=90)
    check_refused_without_evidence(gitops, head, row["health"])
