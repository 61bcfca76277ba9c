"""The kwok cluster is a real control plane: nodes, rollouts, server-side validation,
and the never-ready failure injection."""

import json

import pytest

from opskit.clusters import kwok
from opskit.clusters.kwok import NEVER_READY_LABEL, never_ready_patch
from opskit.core.errors import CommandFailed

DEPLOYMENT = """
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {name}
spec:
  replicas: 2
  progressDeadlineSeconds: {deadline}
  selector:
    matchLabels: {{app: {name}}}
  template:
    metadata:
      labels: {{app: {name}}}
    spec:
      containers:
      - name: web
        image: registry.invalid/web:1.0
        readinessProbe:
          httpGet: {{path: /healthz, port: 8080}}
"""


def _apply(kube, namespace, manifest, **kwargs):
    return kube.run("apply", "-n", namespace, "-f", "-", stdin=manifest, **kwargs)


def _ready(kube, namespace, pod_selector):
    pods = kube.json("get", "pods", "-n", namespace, "-l", pod_selector)["items"]
    return [
        next(c["status"] for c in p["status"].get("conditions", []) if c["type"] == "Ready")
        for p in pods
    ]


def test_node_is_ready(kube, kwok_cluster):
    nodes = kube.json("get", "nodes")["items"]
    assert len(nodes) >= 1
    ready = [c for c in nodes[0]["status"]["conditions"] if c["type"] == "Ready"]
    assert ready[0]["status"] == "True"
    assert kwok_cluster.context == f"kwok-{kwok_cluster.name}"
    assert kwok_cluster.kubeconfig.name == "kubeconfig"


def test_node_offers_ephemeral_storage_so_pods_bounding_it_schedule(kube):
    node = kube.json("get", "nodes")["items"][0]
    assert node["status"]["allocatable"]["ephemeral-storage"] == kwok.NODE_EPHEMERAL_STORAGE


def test_control_plane_reports_the_pinned_version(kube, kwok_cluster):
    version = json.loads(kube.run("version", "-o", "json").stdout)["serverVersion"]
    assert version["gitVersion"] == f"v{kwok_cluster.cfg.kubernetes.version}"


def test_deployment_rolls_out(kube, namespace):
    _apply(kube, namespace, DEPLOYMENT.format(name="web", deadline=60))
    kube.run("rollout", "status", "deployment/web", "-n", namespace, "--timeout=60s", timeout=90)
    assert _ready(kube, namespace, "app=web") == ["True", "True"]


def test_apiserver_rejects_invalid_object(kube, namespace):
    mismatched = DEPLOYMENT.format(name="bad", deadline=60).replace(
        "labels: {app: bad}", "labels: {app: other}"
    )
    with pytest.raises(CommandFailed) as err:
        _apply(kube, namespace, mismatched)
    assert "is invalid" in err.value.stderr_tail
    assert "`selector` does not match template `labels`" in err.value.stderr_tail
    assert kube.run("get", "deployments", "-n", namespace, "-o", "name").stdout == ""


def test_apiserver_rejects_unknown_fields_server_side(kube, namespace):
    typo = DEPLOYMENT.format(name="typo", deadline=60).replace("replicas: 2", "replica: 2")
    with pytest.raises(CommandFailed) as err:
        _apply(kube, namespace, typo)
    assert 'unknown field "spec.replica"' in err.value.stderr_tail


def test_never_ready_label_keeps_pods_unready_and_rollout_fails(kube, namespace):
    _apply(kube, namespace, DEPLOYMENT.format(name="stuck", deadline=5))
    kube.run("rollout", "status", "deployment/stuck", "-n", namespace, "--timeout=60s")
    kube.run("patch", "deployment", "stuck", "-n", namespace, "--patch", never_ready_patch())
    with pytest.raises(CommandFailed) as err:
        kube.run(
            "rollout", "status", "deployment/stuck", "-n", namespace, "--timeout=60s", timeout=90
        )
    assert "exceeded its progress deadline" in err.value.stderr_tail
    stuck = _ready(kube, namespace, f"app=stuck,{NEVER_READY_LABEL}")
    assert stuck and set(stuck) == {"False"}
    pods = kube.json("get", "pods", "-n", namespace, "-l", NEVER_READY_LABEL)["items"]
    assert {p["status"]["phase"] for p in pods} == {"Running"}
    assert "True" in _ready(kube, namespace, f"app=stuck,!{NEVER_READY_LABEL}")


STATEFULSET = """
apiVersion: apps/v1
kind: StatefulSet
metadata:
  name: db
spec:
  serviceName: db
  replicas: 1
  selector:
    matchLabels: {app: db}
  template:
    metadata:
      labels: {app: db}
    spec:
      containers:
      - name: db
        image: registry.invalid/db:1.0
  volumeClaimTemplates:
  - metadata:
      name: data
    spec:
      accessModes: [ReadWriteOnce]
      resources:
        requests: {storage: 1Gi}
"""


def test_statefulset_gets_a_volume_from_the_default_storage_class(kube, namespace):
    _apply(kube, namespace, STATEFULSET)
    kube.run("rollout", "status", "statefulset/db", "-n", namespace, "--timeout=60s", timeout=90)
    claim = kube.json("get", "pvc", "data-db-0", "-n", namespace)
    assert claim["status"]["phase"] == "Bound"
    assert claim["spec"]["storageClassName"] == "standard"
