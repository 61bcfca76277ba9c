"""Reads of a cluster through one interface: the in-process API client when the kubeconfig
allows it (opskit.kube.api), else kubectl, with the same answer either way.

This module is the speed layer's one seam: no other module of opskit imports
opskit.kube.api (tests/unit/test_layers.py holds that), so the rest of the code asks for
what it reads, never how. Writes always go through kubectl (opskit.kube.kubectl).
"""

from __future__ import annotations

import json

from opskit.kube import api
from opskit.kube.kubectl import UNREACHABLE_HINT, Kube


def api_versions(kube: Kube) -> set[str]:
    """The API group/versions the cluster serves; also proves it is reachable."""
    if (versions := api.attempt(kube, api.Client.api_versions)) is not None:
        return versions
    return set(kube.run("api-versions", timeout=30, hint=UNREACHABLE_HINT).stdout.split())


def listed(kube: Kube, api_version: str, kinds: dict[str, str], namespace: str) -> list[dict]:
    """Every object of `kinds` ({Kind: kubectl's plural}, one group-version) in the
    namespace, each with its apiVersion and kind."""

    def in_process(client: api.Client) -> list[dict]:
        calls = [(api_version, kind, namespace) for kind in kinds]
        return [item for items in client.each(client.list, calls) for item in items]

    if (items := api.attempt(kube, in_process)) is not None:
        return items
    return kube.json("get", ",".join(kinds.values()), "-n", namespace, timeout=30)["items"]


def live_objects(kube: Kube, stubs: list[dict]) -> list[dict]:
    """The live objects of `stubs` (apiVersion, kind, name, namespace; absent ones left
    out): one `kubectl get -f -` fed from memory when not in-process."""
    if (live := api.attempt(kube, lambda client: client.read_all(stubs))) is not None:
        return live
    payload = json.dumps({"apiVersion": "v1", "kind": "List", "items": stubs}).encode()
    result = kube.run(
        "get", "-f", "-", "--ignore-not-found", "-o", "json", stdin=payload, timeout=60
    )
    if not result.stdout.strip():
        return []
    data = json.loads(result.stdout)
    return list(data.get("items", [])) if data.get("kind") == "List" else [data]


def read_path(kube: Kube, path: str) -> dict | None:
    """The object at an API path (`/apis/<group>/<version>/namespaces/<ns>/<plural>/<name>`)
    read in-process, or None: the cluster is not reachable that way, or answered anything
    but the object (the caller then runs kubectl, whose errors are the ones users know)."""
    return api.attempt(kube, lambda client: client.ok(path))
