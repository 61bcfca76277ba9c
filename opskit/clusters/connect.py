"""The one way a task reaches a cluster: the target, its kubeconfig, the allowed contexts.

Every cluster-touching task (deploy, rollback, status, argocd.*, monitoring.*, ...) calls
`connect` before it runs a command against a cluster, so none can skip the allow-list of
`overlays.<name>.contexts` or pick a kubeconfig of its own.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from opskit.core.errors import OpsError
from opskit.kube.kubectl import Kube, check_kubeconfig

if TYPE_CHECKING:
    from opskit.clusters.base import Cluster
    from opskit.core.config import Config, Overlay


@dataclass(frozen=True)
class Connection:
    """kubectl bound to the target, and the suite's own cluster behind it (None for a
    cluster from the user's kubeconfig, which the suite did not start)."""

    kube: Kube
    cluster: Cluster | None

    @property
    def context(self) -> str:
        return self.kube.context

    @property
    def runs_containers(self) -> bool:
        # a cluster the suite did not start is a real one: it runs containers
        return self.cluster.runs_containers if self.cluster is not None else True

    @property
    def components(self) -> tuple[Path, ...]:
        """Kustomize components the overlays get on this cluster (Cluster.components)."""
        return self.cluster.components() if self.cluster is not None else ()


def connect(
    cfg: Config,
    overlay: Overlay | str | None = None,
    context: str | None = None,
    *,
    report=lambda _msg: None,
) -> Connection:
    """The configured cluster (or `context`), refused unless `overlay` allows its context.

    Without an overlay (platform tasks: argocd.install, monitoring.*) the context must be
    one that some overlay allows. Nothing is started and nothing is read from the cluster.
    """
    from opskit.clusters import providers

    if isinstance(overlay, str):
        overlay = cfg.overlay(overlay)
    configured = providers.current(cfg, report=report)
    if context is None or context == configured.context:
        target = Connection(configured.kube(), configured)
    else:
        target = _by_context(cfg, context)
    _allowed(cfg, overlay, target.context)
    check_kubeconfig(Path(target.kube.kubeconfig))  # else kubectl's multi-line complaint
    return target


def owner_of(cfg: Config, context: str) -> Cluster | None:
    """The suite's own cluster whose context this is (it has a kubeconfig in the state
    folder), or None."""
    from opskit.clusters.base import state_dir_of
    from opskit.clusters.providers import provider_classes

    if not (state_dir_of(context) / "kubeconfig").is_file():
        return None
    # providers with a prefix first: minikube's empty prefix matches any name
    ordered = sorted(provider_classes().values(), key=lambda cls: cls.context_prefix == "")
    for cls in ordered:
        name = cls.name_in(context)
        if name is not None:
            return cls(cfg, name)
    return None


def _by_context(cfg: Config, context: str) -> Connection:
    own = owner_of(cfg, context)
    if own is not None:
        return Connection(own.kube(), own)
    first = os.environ.get("KUBECONFIG", "").split(os.pathsep)[0]
    return Connection(Kube(Path(first) if first else Path.home() / ".kube/config", context), None)


def _allowed(cfg: Config, overlay: Overlay | None, context: str) -> None:
    if overlay is not None:
        if context in overlay.contexts:
            return
        raise OpsError(
            f"kube context {context!r} is not allowed for overlay {overlay.name} "
            f"(allowed: {', '.join(overlay.contexts)})",
            f"add it to overlays.{overlay.name}.contexts in opskit.yaml, or pass --context",
        )
    allowed = sorted({c for ov in cfg.overlays.values() for c in ov.contexts})
    if context not in allowed:
        raise OpsError(
            f"kube context {context!r} is not allowed by any overlay "
            f"(allowed: {', '.join(allowed)})",
            "add it to overlays.<name>.contexts in opskit.yaml, or pass --context",
        )
