"""Local clusters: one module per provider behind one interface (`base.Cluster`).

`get(cfg, provider, name)` builds a provider's cluster; `auto` picks k3d or minikube when
a Docker engine answers, else the embedded kwok cluster. `connect(cfg, overlay, context)`
is the one way every other task (deploy, rollback, argocd, monitoring, status, ...) reaches
a cluster: it picks the target, its kubeconfig, and enforces the overlay's allowed contexts.
"""

from __future__ import annotations

from opskit.clusters.base import Cluster, Status, state_dir_of
from opskit.clusters.connect import Connection, connect, owner_of
from opskit.clusters.providers import choose, current, get, provider_classes, resolve_provider
from opskit.core.config import PROVIDERS

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
