"""The in-process reads (opskit.kube.api) answer what kubectl answers, on a real API server;
the seam (opskit.kube.reads) gives the same answer either way."""

from __future__ import annotations

import json
from pathlib import Path

from opskit.deploy import restore
from opskit.kube import api, reads, rollout
from opskit.kube.kubectl import Kube
from opskit.kube.ref import ObjectRef

ROOT_CA = "kube-root-ca.crt"  # what the controller manager adds to every namespace


def _kubectl_versions(kube: Kube) -> set[str]:
    return set(kube.run("api-versions").stdout.split())


def test_discovery_reads_and_lists_match_kubectl(kube: Kube, namespace: str):
    client = api.client(kube)
    assert client is not None  # the embedded cluster's kubeconfig names certificate files
    assert client.api_versions() == _kubectl_versions(kube)
    meta = {"name": "probe", "namespace": namespace}
    config = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta, "data": {"k": "v"}}
    kube.run(
        "apply",
        "--server-side",
        "--field-manager=e2e",
        "-f",
        "-",
        stdin=json.dumps(config).encode(),
    )
    absent = {**config, "metadata": {**meta, "name": "absent"}}
    namespace_stub = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}}
    stubs = [restore.stub(config), restore.stub(absent), namespace_stub]
    mine = client.read_all(stubs)
    listing = json.dumps({"kind": "List", "apiVersion": "v1", "items": stubs}).encode()
    got = kube.run("get", "-f", "-", "--ignore-not-found", "-o", "json", stdin=listing)
    theirs = restore.items(got.stdout)

    def ids(objects):
        return [
            (o["kind"], o["metadata"]["name"], o["metadata"]["resourceVersion"]) for o in objects
        ]

    assert ids(mine) == ids(theirs) and len(mine) == 2
    assert mine[0]["data"] == {"k": "v"}
    assert ids(reads.live_objects(kube, stubs)) == ids(mine)


def test_the_seam_answers_the_same_without_the_in_process_client(kube, namespace, monkeypatch):
    config = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "seam", "namespace": namespace},
        "data": {"k": "v"},
    }
    kube.run("apply", "--server-side", "--field-manager=e2e", "-f", "-", stdin=json.dumps(config))
    stubs = [restore.stub(config), restore.stub({**config, "metadata": {"name": "absent"}})]
    kinds = {"ConfigMap": "configmaps"}
    fast = (reads.api_versions(kube), reads.live_objects(kube, stubs))
    fast_list = reads.listed(kube, "v1", kinds, namespace)
    monkeypatch.setattr(api, "client", lambda _kube: None)  # as for a k3d kubeconfig
    slow = (reads.api_versions(kube), reads.live_objects(kube, stubs))
    slow_list = reads.listed(kube, "v1", kinds, namespace)
    assert fast[0] == slow[0] == _kubectl_versions(kube)
    assert [o["metadata"]["uid"] for o in fast[1]] == [o["metadata"]["uid"] for o in slow[1]]
    assert len(fast[1]) == 1

    # The controller manager publishes kube-root-ca.crt into a new namespace whenever it gets
    # to it, possibly between the two lists: compare what this test made.
    def names(listed):
        return sorted(o["metadata"]["name"] for o in listed if o["metadata"]["name"] != ROOT_CA)

    assert names(fast_list) == names(slow_list) == ["seam"]


def test_the_workload_snapshot_is_the_same_either_way(kube: Kube, namespace: str, monkeypatch):
    deployment = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "namespace": namespace},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {"containers": [{"name": "web", "image": "nginx:1"}]},
            },
        },
    }
    kube.run(
        "apply",
        "--server-side",
        "--field-manager=e2e",
        "-f",
        "-",
        stdin=json.dumps(deployment).encode(),
    )
    in_process = rollout.snapshot(kube, namespace)
    monkeypatch.setattr(api, "client", lambda _kube: None)  # as for a k3d kubeconfig
    with_kubectl = rollout.snapshot(kube, namespace)
    web = ObjectRef("Deployment", namespace, "web")
    assert list(in_process) == [web]
    assert in_process[web].generation == with_kubectl[web].generation
    assert in_process[web].images == ("nginx:1",)


def _fresh_client(kube: Kube) -> api.Client:
    return api.Client(api._target(Path(kube.kubeconfig), kube.context))


def test_discovery_is_two_requests_then_two_304s(kube: Kube, monkeypatch):
    """Aggregated discovery: /api and /apis hold every group's kinds; asked again (a CRD
    may be new), the server answers 304 to the ETags."""
    client = _fresh_client(kube)
    seen = []
    real = client.fetch

    def fetch(path, accept="application/json", etag=""):
        status, body, tag = real(path, accept, etag)
        seen.append((path, status))
        return status, body, tag

    monkeypatch.setattr(client, "fetch", fetch)
    first = client.api_versions()
    assert seen == [("/api", 200), ("/apis", 200)]
    assert client.api_versions() == first == _kubectl_versions(kube)
    assert seen[2:] == [("/api", 304), ("/apis", 304)]
    assert client.url("apps/v1", "Deployment", "ns") == "/apis/apps/v1/namespaces/ns/deployments"
    assert client.url("v1", "Namespace", "ns") == "/api/v1/namespaces"
    assert len(seen) == 4  # kinds come from the discovery already held


def test_reads_in_parallel_share_a_few_connections(kube: Kube, namespace: str):
    client = _fresh_client(kube)
    kinds = [
        "ConfigMap",
        "Secret",
        "Service",
        "ServiceAccount",
        "PersistentVolumeClaim",
        "Endpoints",
        "Event",
        "LimitRange",
        "ResourceQuota",
    ]
    stubs = [
        {"apiVersion": "v1", "kind": kind, "metadata": {"name": n, "namespace": namespace}}
        for kind in kinds
        for n in ("a", "b")
    ]
    assert client.read_all(stubs) == []  # none of them exists
    assert 1 <= len(client._idle) <= api.PARALLEL  # every connection back, none extra
