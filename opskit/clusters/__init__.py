"""Local clusters: one module per provider behind one interface (`base.Cluster`).

`get(cfg, provider, name)` builds a provider's cluster; `auto` picks k3d or minikube when
a Docker engine answers, else the embedded kwok cluster. `connect(cfg, overlay, context)`
is the one way every other task (deploy, rollback, argocd, monitoring, status, ...) reaches
a cluster: it picks the target, its kubeconfig, and enforces the overlay's allowed contexts.
"""

from __future__ import annotations

from typing import Any

from opskit.clusters.base import Cluster, Status, docker_answers, state_dir_of
from opskit.clusters.connect import Connection, connect, owner_of
from opskit.config import PROVIDERS
from opskit.errors import OpsError

__all__ = [
    "PROVIDERS",
    "Cluster",
    "Connection",
    "Status",
    "choose",
    "connect",
    "current",
    "get",
    "owner_of",
    "provider_classes",
    "resolve_provider",
    "state_dir_of",
]


def provider_classes() -> dict[str, type[Cluster]]:
    """Every provider, by name (the names opskit.yaml's cluster.provider takes, less auto)."""
    from opskit.clusters.k3d import K3dCluster
    from opskit.clusters.kwok import KwokCluster
    from opskit.clusters.minikube import MinikubeCluster

    classes = {"kwok": KwokCluster, "k3d": K3dCluster, "minikube": MinikubeCluster}
    return classes


def choose(report=print) -> str:
    """The `auto` provider: k3d (else minikube) when Docker answers and it is installed,
    else kwok. Says which it chose and why."""
    from opskit import tools

    if docker_answers():
        for provider in ("k3d", "minikube"):
            if tools.which(provider):
                report(f"provider auto -> {provider} (a Docker engine answers)")
                return provider
        report("provider auto -> kwok (Docker answers, but neither k3d nor minikube is installed)")
        return "kwok"
    report("provider auto -> kwok (no Docker engine answers `docker info`)")
    return "kwok"


def _remembered(name: str) -> str | None:
    """The provider `cluster.up` chose for `auto` last time, if that cluster still exists."""
    for provider, cls in provider_classes().items():
        if (state_dir_of(cls.context_for(name)) / "kubeconfig").is_file():
            return provider
    return None


def resolve_provider(
    cfg: Any,
    provider: str | None = None,
    name: str | None = None,
    announce: bool = True,
    report=print,
) -> str:
    """kwok, k3d or minikube: the flag, else opskit.yaml; `auto` resolves to the cluster
    `cluster.up` created, else to what `choose` finds (said aloud unless announce=False)."""
    provider = provider or cfg.cluster.provider
    if provider not in PROVIDERS:
        raise OpsError(
            f"unknown cluster provider {provider!r}", f"use one of: {', '.join(PROVIDERS)}"
        )
    if provider != "auto":
        return provider
    return _remembered(name or cfg.cluster.name) or choose(report if announce else _quiet)


def get(cfg: Any, provider: str | None = None, name: str | None = None, report=print) -> Cluster:
    """The cluster of `provider` (default: opskit.yaml cluster.provider) named `name`."""
    resolved = resolve_provider(cfg, provider, name, report=report)
    return provider_classes()[resolved](cfg, name or cfg.cluster.name)


def _quiet(_message: str) -> None:
    pass


def current(cfg: Any, report=lambda _msg: None) -> Cluster:
    """The cluster that tasks act on: opskit.yaml's provider and name (`auto` resolved to
    the cluster `cluster.up` created)."""
    return get(cfg, report=report)
