"""Which provider a task means: the flag, else opskit.yaml, `auto` resolved (remembered from
`cluster.up`, else chosen by whether a Docker engine answers), and the cluster it names."""

from __future__ import annotations

from typing import TYPE_CHECKING

from opskit.clusters.base import Cluster, docker_answers, state_dir_of
from opskit.core.config import PROVIDERS
from opskit.core.errors import OpsError

if TYPE_CHECKING:
    from opskit.core.config import Config


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
    from opskit.core import tools

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
    cfg: Config,
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


def get(cfg: Config, provider: str | None = None, name: str | None = None, report=print) -> Cluster:
    """The cluster of `provider` (default: opskit.yaml cluster.provider) named `name`."""
    resolved = resolve_provider(cfg, provider, name, report=report)
    return provider_classes()[resolved](cfg, name or cfg.cluster.name)


def _quiet(_message: str) -> None:
    pass


def current(cfg: Config, report=lambda _msg: None) -> Cluster:
    """The cluster that tasks act on: opskit.yaml's provider and name (`auto` resolved to
    the cluster `cluster.up` created)."""
    return get(cfg, report=report)
