"""A fresh embedded cluster with a real node (kubelet, containerd, runc) for the session,
torn down afterwards; `nox -s e2e-node` runs it where this machine can run containers.

Fixtures:
  real_cluster  the cluster (opskit.clusters.kwok.KwokCluster), its real node Ready
  kube          opskit.kube.Kube bound to it
  base_image    the Debian base built here (mmdebstrap + buildah), loaded into the node
  namespace     a fresh namespace per test, deleted afterwards
"""

from __future__ import annotations

import os
import sys
import uuid
from collections.abc import Iterator

import pytest

from opskit.clusters import node_host
from opskit.clusters.kwok import KwokCluster
from opskit.core import config
from opskit.images import debian
from opskit.kube.kubectl import Kube
from tests.conftest import mark_folder

CLUSTER = os.environ.get("OPSKIT_E2E_NODE_CLUSTER", "gitops-lab-node")


def _say(message: str) -> None:
    print(f"[e2e-node] {message}", file=sys.stderr, flush=True)


NODE_TIMEOUT = 1200  # s per test: a fixture's first build of the images and a deploy included


def pytest_collection_modifyitems(items):
    mark_folder(items, "e2e_node", pytest.mark.cluster, pytest.mark.timeout(NODE_TIMEOUT))


@pytest.fixture(scope="session")
def host_before() -> dict:
    """The host before any real node of this session started: kernel settings, nftables
    tables, kube-router's ipsets."""
    return {
        "sysctls": node_host.read_sysctls(),
        "tables": node_host.nft_tables(),
        "ipsets": node_host.our_ipsets(),
    }


@pytest.fixture(scope="session")
def real_cluster(host_before) -> Iterator[KwokCluster]:
    os.environ["OPSKIT_KWOK_NODE"] = "real"  # a machine that cannot is an error, not a skip
    cluster = KwokCluster(config.load(), CLUSTER)
    cluster.down(report=_say)
    cluster.up(report=_say)
    yield cluster
    cluster.down(report=_say)


@pytest.fixture(scope="session")
def kube(real_cluster: KwokCluster) -> Kube:
    return real_cluster.kube()


@pytest.fixture(scope="session")
def base_image(real_cluster: KwokCluster) -> str:
    image = debian.ensure_base(report=_say)
    real_cluster.load_image(image)
    return image


@pytest.fixture
def namespace(kube: Kube) -> Iterator[str]:
    name = f"node-{uuid.uuid4().hex[:8]}"
    kube.run("create", "namespace", name)
    yield name
    kube.run("delete", "namespace", name, "--wait=false", check=False)


def leave_no_overlay_behind(kube: Kube, *extra: str) -> None:
    """Between modules on the session's one cluster: the overlays' namespaces (and `extra`)
    go, so the next module's deploy does not meet this one's workloads or ArgoCD syncing them.
    Applications first, while ArgoCD's controller still runs their finalizers."""
    from opskit.core import config

    cfg = config.load()
    kube.run("delete", "applications.argoproj.io", "--all", "-A", "--ignore-not-found",
             "--wait=true", "--timeout=120s", check=False, timeout=180)  # fmt: skip
    for name in (*extra, *(cfg.overlay(o).namespace for o in ("dev", "prod"))):
        kube.run("delete", "namespace", name, "--ignore-not-found", "--wait=true",
                 "--timeout=180s", check=False, timeout=240)  # fmt: skip
