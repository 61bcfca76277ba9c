"""clusters.connect: the one way in. Target, kubeconfig, allow-list; no process started."""

import os
from dataclasses import replace
from pathlib import Path

import pytest

from opskit import clusters
from opskit.clusters.k3d import K3dCluster
from opskit.clusters.kwok import KwokCluster
from opskit.clusters.minikube import MinikubeCluster
from opskit.core import config, paths
from opskit.core.errors import OpsError

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def cfg(tmp_path, monkeypatch):
    monkeypatch.setattr(paths, "root", lambda: tmp_path)
    monkeypatch.delenv("OPSKIT_STATE_DIR", raising=False)
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "user-kubeconfig"))
    cfg = config.load(ROOT / "opskit.yaml")
    return replace(cfg, cluster=replace(cfg.cluster, provider="kwok"))


@pytest.fixture
def no_process(refuse_processes):
    """Any process start fails the test (conftest's refuse_processes)."""


def _started(cfg, cls, name):
    """A cluster `cluster.up` made: its kubeconfig in the state folder."""
    cluster = cls(cfg, name)
    cluster.kubeconfig.parent.mkdir(parents=True)
    cluster.kubeconfig.write_text("apiVersion: v1\nkind: Config\n")
    return cluster


def test_default_is_the_configured_cluster_with_its_own_kubeconfig(cfg, no_process):
    target = clusters.connect(cfg, "dev")
    assert target.context == "kwok-gitops-lab"
    assert (
        Path(target.kube.kubeconfig) == paths.root() / ".opskit/clusters/kwok-gitops-lab/kubeconfig"
    )
    assert isinstance(target.cluster, KwokCluster) and not target.runs_containers


def test_context_outside_the_overlay_allow_list_is_refused_in_one_line(cfg, no_process):
    with pytest.raises(OpsError) as caught:
        clusters.connect(cfg, "prod", "kind-elsewhere")
    text = str(caught.value)
    assert "\n" not in text
    assert text == (
        "kube context 'kind-elsewhere' is not allowed for overlay prod (allowed: "
        "kwok-gitops-lab, k3d-gitops-lab, gitops-lab); add it to overlays.prod.contexts in "
        "opskit.yaml, or pass --context"
    )


def test_platform_tasks_without_overlay_need_a_context_some_overlay_allows(cfg, no_process):
    with pytest.raises(OpsError) as caught:
        clusters.connect(cfg, None, "kind-elsewhere")
    assert str(caught.value) == (
        "kube context 'kind-elsewhere' is not allowed by any overlay (allowed: gitops-lab, "
        "k3d-gitops-lab, kwok-gitops-lab); add it to overlays.<name>.contexts in opskit.yaml, "
        "or pass --context"
    )
    assert clusters.connect(cfg, None, "k3d-gitops-lab").context == "k3d-gitops-lab"


def test_configured_cluster_must_be_allowed_too(cfg, no_process):
    dev = replace(cfg.overlays["dev"], contexts=("k3d-gitops-lab",))
    narrowed = replace(cfg, overlays={**cfg.overlays, "dev": dev})
    with pytest.raises(OpsError, match="'kwok-gitops-lab' is not allowed for overlay dev"):
        clusters.connect(narrowed, "dev")


@pytest.mark.parametrize(
    ("cls", "context", "containers"),
    [
        (KwokCluster, "kwok-other", False),
        (K3dCluster, "k3d-other", True),
        (MinikubeCluster, "other", True),
    ],
)
def test_a_context_of_a_cluster_the_suite_started_uses_that_cluster(cfg, cls, context, containers):
    own = _started(cfg, cls, "other")
    allowed = replace(cfg.overlays["dev"], contexts=(context,))
    cfg = replace(cfg, overlays={**cfg.overlays, "dev": allowed})
    target = clusters.connect(cfg, "dev", context)
    assert type(target.cluster) is cls and target.cluster.name == "other"
    assert target.cluster.cfg is cfg  # what it builds and loads images with
    assert Path(target.kube.kubeconfig) == own.kubeconfig
    assert target.runs_containers is containers


def test_a_prefixed_provider_claims_its_context_whatever_order_providers_are_listed_in(
    cfg, monkeypatch
):
    """minikube's prefix is empty (its context is the bare name): it must not claim
    `kwok-other`, a context of the kwok cluster named other."""
    from opskit.clusters import providers

    listed = providers.provider_classes()
    monkeypatch.setattr(providers, "provider_classes", lambda: dict(reversed(listed.items())))
    _started(cfg, KwokCluster, "other")
    own = clusters.owner_of(cfg, "kwok-other")
    assert type(own) is KwokCluster and own.name == "other"


def test_a_foreign_context_uses_the_users_kubeconfig_and_has_no_cluster_to_load_into(cfg):
    allowed = replace(cfg.overlays["dev"], contexts=("kwok-not-ours",))
    cfg = replace(cfg, overlays={**cfg.overlays, "dev": allowed})
    target = clusters.connect(cfg, "dev", "kwok-not-ours")  # looks like kwok, was not started here
    assert target.cluster is None and target.runs_containers
    assert Path(target.kube.kubeconfig) == paths.root() / "user-kubeconfig"


@pytest.mark.parametrize(
    ("kubeconfig", "used"),
    [
        (None, "home/.kube/config"),  # kubectl's default
        ("", "home/.kube/config"),
        ("first:second", "first"),  # kubectl merges them; the first is the one it writes
    ],
    ids=["unset", "empty", "a list"],
)
def test_a_foreign_context_follows_kubectls_kubeconfig_rules(
    cfg, tmp_path, monkeypatch, kubeconfig, used
):
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    if kubeconfig is None:
        monkeypatch.delenv("KUBECONFIG")
    else:
        paths_ = [str(tmp_path / p) for p in kubeconfig.split(":")] if kubeconfig else [""]
        monkeypatch.setenv("KUBECONFIG", os.pathsep.join(paths_))
    target = clusters.connect(cfg, None, "gitops-lab")  # allowed; no cluster of ours named so
    assert target.cluster is None
    assert Path(target.kube.kubeconfig) == tmp_path / used


def test_provider_names_are_defined_once():
    assert set(clusters.provider_classes()) == set(config.PROVIDERS) - {"auto"}
    prefixes = {cls.context_prefix for cls in clusters.provider_classes().values()}
    assert prefixes == {"kwok-", "k3d-", ""}
