"""`invoke promote --from=dev --to=prod` on the real node: ArgoCD as pods syncs dev and prod,
whose workloads are real containers (the api stays on a simulated node: its image cannot be
built here). The promotion goes through a branch that the test merges like a pull request;
the clone's remote is a Bitbucket repository, so the pull-request command is Bitbucket's.

Prod as a user brings it up here: the ServiceMonitor API prod requires
(`missing_api: fail`, `invoke monitoring.install`), its first `invoke deploy` (the broker's
TLS Secret is made at deploy, not kept in git), then ArgoCD syncs it by hand at each
promotion. In order on one install: a healthy dev promoted to prod (Synced/Healthy with real
pods, the time printed), a promotion whose prod pods never get Ready (reverted in git, the
revert synced) and a promotion refused for missing evidence; the checks are those of the
simulated cluster's module (tests/e2e/promotion.py).
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator

import pytest

from tests.e2e.project import Project, commit_overlay_patch, make_project
from tests.e2e.promotion import (
    BITBUCKET,
    app_status,
    check_promoted,
    check_refused_without_evidence,
    check_reverted,
    clone_of,
    dev_unhealthy_at,
    pins,
    promote_and_merge,
    release_dev,
    run,
)
from tests.e2e_node.conftest import _say, leave_no_overlay_behind

pytestmark = [
    pytest.mark.tools("argocd", "kustomize", "ksops", "buildah"),
    pytest.mark.timeout(900),
]
PROD_NS = "gitops-lab-prod"
REAL = {"postgres", "redis", "mosquitto", "telemetry"}
PULL_REQUEST = (
    re.escape('curl -sSf -X POST -H "Authorization: Bearer $BITBUCKET_TOKEN" ')
    + re.escape("-H 'Content-Type: application/json' --data @")
    + r"\S+\.bitbucket\.json "
    + re.escape("https://api.bitbucket.org/2.0/repositories/gitops-lab/gitops-lab/pullrequests")
)


def ship_images(project: Project) -> None:
    """The images of HEAD where the node has them (the api's cannot be built here)."""
    run(project, "image.build", "--image=telemetry")
    run(project, "image.load", "--image=telemetry")


def never_ready(project: Project, overlay: str, subject: str) -> str:
    """Commit a readiness probe of the overlay's telemetry that asks a closed port: its real
    pods run but never become Ready. Returns the commit."""
    op = {
        "op": "replace",
        "path": "/spec/template/spec/containers/0/readinessProbe/httpGet/port",
        "value": 1,
    }
    return commit_overlay_patch(project, overlay, "telemetry", [op], subject)


@pytest.fixture(scope="module")
def gitops(real_cluster, tmp_path_factory) -> Iterator[Project]:
    """A scratch copy with dev and prod Secrets for the e2e key; monitoring and ArgoCD
    installed; dev and prod deployed once; the root applied (ArgoCD takes over). Whatever
    an earlier module left in the overlays' namespaces goes first."""
    leave_no_overlay_behind(real_cluster.kube())
    project = make_project(tmp_path_factory.mktemp("promote") / "source", real_cluster.name)
    run(project, "secrets.init", "--overlay", "prod", "--force")  # values for the e2e key
    project.commit_all("test: prod secrets for the e2e key")
    project.git("config", "receive.denyCurrentBranch", "updateInstead")  # clones push here
    for task in ("monitoring.install", "argocd.install"):
        started = time.monotonic()
        run(project, task)
        _say(f"{task} took {time.monotonic() - started:.1f}s")
    for overlay in ("dev", "prod"):
        started = time.monotonic()
        run(project, "deploy", f"--overlay={overlay}")
        _say(f"deploy --overlay={overlay} took {time.monotonic() - started:.1f}s")
    run(project, "argocd.bootstrap")
    yield project
    leave_no_overlay_behind(real_cluster.kube(), "argocd")


def prod_pods(kube) -> list[dict]:
    return kube.json("get", "pods", "-n", PROD_NS)["items"]


def names_of(pod: dict) -> str:
    return pod["metadata"]["labels"].get("app.kubernetes.io/name", "")


def test_healthy_dev_is_promoted_to_prod_which_becomes_synced_and_healthy_with_real_pods(
    gitops, tmp_path, kube, real_cluster
):
    started = time.monotonic()
    proven = release_dev(gitops, "a change to promote\n", before_release=ship_images)
    _say(f"dev released (images built and loaded) in {time.monotonic() - started:.1f}s")
    clone = clone_of(gitops, tmp_path / "clone", url=BITBUCKET)
    code, out, err, seconds = promote_and_merge(gitops, clone, "--timeout=300")
    print(err)
    _say(f"promote --watch -> gitops-lab-prod Synced/Healthy in {seconds:.1f}s (merge included)")
    check_promoted(gitops, proven, code, out, err, PULL_REQUEST)
    assert "BITBUCKET_TOKEN: a Bitbucket access token" in err
    node = real_cluster.real_node().name
    real = [
        p
        for p in prod_pods(kube)
        if p["spec"].get("nodeName") == node and "deletionTimestamp" not in p["metadata"]
    ]
    names = {names_of(p) for p in real}
    assert names >= REAL, names
    assert all(c["ready"] for p in real for c in p["status"]["containerStatuses"])
    tag = pins(gitops.git("show", f"{proven}:k8s/overlays/dev/kustomization.yaml"))["telemetry"]
    images = {p["spec"]["containers"][0]["image"] for p in real if "telemetry" in names_of(p)}
    assert images == {f"localhost:5000/gitops-lab/telemetry:{tag}"}, images


def test_promotion_whose_prod_pods_never_get_ready_is_reverted_and_the_revert_synced(
    gitops, tmp_path
):
    good = app_status(gitops, "gitops-lab-prod")["revision"]
    proven = release_dev(gitops, "another change to promote\n", before_release=ship_images)
    # prod: OutOfSync (synced by hand), still Healthy at `good`
    never_ready(gitops, "prod", "feat(prod): a readiness probe that never passes")
    clone = clone_of(gitops, tmp_path / "clone", url=BITBUCKET)
    code, _, err, seconds = promote_and_merge(gitops, clone, "--timeout=90")
    print(err)
    _say(f"failed promotion -> reverted and the revert Synced/Healthy in {seconds:.1f}s")
    check_reverted(gitops, proven, good, code, err, 90, "telemetry")


def test_promotion_without_evidence_is_refused(gitops):
    head = never_ready(gitops, "dev", "feat: a dev change whose pods never become Ready")
    # ArgoCD's pods read git every 2-3 min; `argocd.wait` has it read the commit now, as a
    # user would after a push, and fails: the telemetry pod never gets Ready
    _, _, err = run(gitops, "argocd.wait", "--overlay=dev", "--timeout=45", ok=(1,))
    assert f"gitops-lab-dev not Synced+Healthy at {head[:12]}" in err.strip().splitlines()[-1]
    row = dev_unhealthy_at(gitops, head, within=60)
    check_refused_without_evidence(gitops, head, row["health"])
