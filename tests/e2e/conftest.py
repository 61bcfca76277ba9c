"""A fresh kwok cluster for the whole e2e session (name gitops-lab-e2e), torn down after.

Fixtures for every e2e test:
  kwok_cluster  the cluster (.name, .context, .kubeconfig; opskit.clusters.kwok.KwokCluster)
  kube          opskit.kube.Kube bound to it (explicit kubeconfig + context on every call)
  namespace     a fresh namespace per test, deleted afterwards
  never_ready   never_ready(project, overlay, subject): commits the label below into an overlay

Pods whose template carries the label `opskit.dev/never-ready` (see
opskit.clusters.kwok.NEVER_READY_LABEL / never_ready_patch()) run but never become Ready,
so a rollout of them never completes: the way to test rollbacks.

OPSKIT_E2E_KEEP=1 keeps the cluster after the session (faster reruns while developing);
OPSKIT_E2E_CLUSTER=<name> picks another name (two runs side by side).
"""

from __future__ import annotations

import os
import sys
import uuid
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

import pytest

from opskit.clusters.kwok import NEVER_READY_LABEL, KwokCluster
from opskit.core import config
from opskit.kube.kubectl import Kube

if TYPE_CHECKING:
    from tests.e2e.project import Project

E2E_CLUSTER = os.environ.get("OPSKIT_E2E_CLUSTER", "gitops-lab-e2e")
# these tests drive kwok's simulated pods (stages, failure injection); tests/e2e_node has the
# real node's (`nox -s e2e-node`)
os.environ.setdefault("OPSKIT_KWOK_NODE", "simulated")


def _say(message: str) -> None:
    print(f"[e2e] {message}", file=sys.stderr, flush=True)


def _commit_never_ready(project: Project, overlay: str, subject: str) -> str:
    from tests.e2e.project import commit_overlay_patch

    label = "/spec/template/metadata/labels/" + NEVER_READY_LABEL.replace("/", "~1")
    op = {"op": "add", "path": label, "value": "true"}
    return commit_overlay_patch(project, overlay, "api", [op], subject)


@pytest.fixture
def never_ready() -> Callable[[Project, str, str], str]:
    """never_ready(project, overlay, subject): commits a patch to the overlay labelling the
    api's pods never-ready (kwok keeps them unready); returns the commit."""
    return _commit_never_ready


E2E_TIMEOUT = 1200  # s per test, the first one's cluster start included: a hang fails


def pytest_collection_modifyitems(items):
    for item in items:
        if "tests/e2e/" in str(item.fspath):
            item.add_marker(pytest.mark.cluster)
            item.add_marker(pytest.mark.timeout(E2E_TIMEOUT))


@pytest.fixture(scope="session")
def kwok_cluster() -> Iterator[KwokCluster]:
    cluster = KwokCluster(config.load(), E2E_CLUSTER)
    keep = os.environ.get("OPSKIT_E2E_KEEP") == "1"
    if not keep:
        cluster.down(report=_say)  # a fresh cluster, whatever an earlier run left
    cluster.up(report=_say)
    yield cluster
    if not keep:
        cluster.down(report=_say)


@pytest.fixture(scope="session")
def kube(kwok_cluster: KwokCluster) -> Kube:
    return kwok_cluster.kube()


@pytest.fixture
def namespace(kube: Kube) -> Iterator[str]:
    name = f"e2e-{uuid.uuid4().hex[:8]}"
    kube.run("create", "namespace", name)
    yield name
    kube.run("delete", "namespace", name, "--wait=false", check=False)
