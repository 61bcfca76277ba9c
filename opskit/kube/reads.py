"""Reads of a cluster through one interface: the in-process API client when the kubeconfig
allows it (opskit.kube.api), else kubectl, with the same answer either way."""

from __future__ import annotations

from opskit.kube import api
from opskit.kube.kubectl import UNREACHABLE_HINT, Kube


def api_versions(kube: Kube) -> set[str]:
    """The API group/versions the cluster serves; also proves it is reachable."""
    if (versions := api.attempt(kube, api.Client.api_versions)) is not None:
        return versions
    return set(kube.run("api-versions", timeout=30, hint=UNREACHABLE_HINT).stdout.split())
