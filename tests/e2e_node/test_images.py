"""Images built here run on the real node under the manifests' own security contexts: the
stand-ins for postgres, redis and mosquitto (Debian packages) and the telemetry image built
from its Dockerfile on the local Python base."""

from __future__ import annotations

import pytest

from opskit.core import paths
from opskit.images import localbuild
from tests.e2e_node.test_pods import exec_in, start

RESTRICTED = {
    "allowPrivilegeEscalation": False,
    "readOnlyRootFilesystem": True,
    "capabilities": {"drop": ["ALL"]},
}


def _pod(name: str, image: str, uid: int, volumes: dict[str, str], **container) -> dict:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "labels": {"app": name}},
        "spec": {
            "terminationGracePeriodSeconds": 0,
            "securityContext": {
                "runAsNonRoot": True, "runAsUser": uid, "runAsGroup": uid, "fsGroup": uid,
                "seccompProfile": {"type": "RuntimeDefault"},
            },
            "containers": [{
                "name": name, "image": image, "imagePullPolicy": "IfNotPresent",
                "securityContext": RESTRICTED,
                "volumeMounts": [{"name": v, "mountPath": p} for v, p in volumes.items()],
                **container,
            }],
            "volumes": [{"name": v, "emptyDir": {}} for v in volumes],
        },
    }  # fmt: skip


@pytest.fixture(scope="module")
def images(real_cluster) -> dict[str, str]:
    built = {name: localbuild.build_standin(name) for name in ("postgres", "redis", "mosquitto")}
    telemetry = localbuild.ProjectImage("telemetry", paths.root() / "services" / "telemetry")
    built["telemetry"] = localbuild.build_project_image(
        telemetry, "localhost/gitops-lab/telemetry:e2e-node", "e2e-node"
    )
    for image in built.values():
        real_cluster.load_image(image)
    return built


def test_redis_standin_answers_as_the_manifest_probes_it(kube, namespace, images):
    pod = _pod(
        "redis", images["redis"], 999, {"data": "/data"}, args=["--save", "", "--appendonly", "no"]
    )
    start(kube, namespace, pod)
    assert exec_in(kube, namespace, "redis", "redis-cli", "ping").stdout.strip() == "PONG"


def test_postgres_standin_initialises_from_the_upstream_environment(kube, namespace, images):
    env = [
        {"name": "POSTGRES_USER", "value": "app"},
        {"name": "POSTGRES_PASSWORD", "value": "not-a-secret-e2e"},
        {"name": "POSTGRES_DB", "value": "items"},
        {"name": "PGDATA", "value": "/var/lib/postgresql/data/pgdata"},
    ]
    volumes = {"data": "/var/lib/postgresql/data", "run": "/var/run/postgresql", "tmp": "/tmp"}
    start(kube, namespace, _pod("postgres", images["postgres"], 999, volumes, env=env))
    query = ["psql", "-h", "/var/run/postgresql", "-U", "app", "-d", "items", "-tAc", "SELECT 1"]
    for _ in range(30):  # the first start initialises the data folder, then restarts the server
        answer = exec_in(kube, namespace, "postgres", *query, check=False)
        if answer.returncode == 0:
            break
        exec_in(kube, namespace, "postgres", "sleep", "1")
    assert answer.stdout.strip() == "1"
    # UTF8 like upstream's: a SQL_ASCII cluster refuses a client's CREATE DATABASE in UTF8
    encoding = [*query[:-1], "SHOW server_encoding"]
    assert exec_in(kube, namespace, "postgres", *encoding).stdout.strip() == "UTF8"


def test_mosquitto_standin_runs_as_the_manifest_user(kube, namespace, images):
    volumes = {"data": "/mosquitto/data"}
    start(kube, namespace, _pod("mosquitto", images["mosquitto"], 10001, volumes))
    assert (
        exec_in(kube, namespace, "mosquitto", "sh", "-c", "test -w /mosquitto/data").returncode == 0
    )
    version = exec_in(kube, namespace, "mosquitto", "mosquitto", "-h", check=False)
    assert "mosquitto version 2.0" in version.stdout + version.stderr


def test_telemetry_image_built_from_its_dockerfile_runs(kube, namespace, images):
    pod = _pod("telemetry", images["telemetry"], 10001, {}, command=["sleep", "infinity"])
    start(kube, namespace, pod)
    assert exec_in(kube, namespace, "telemetry", "id", "-u").stdout.strip() == "10001"
    assert exec_in(kube, namespace, "telemetry", "telemetry", "--help").returncode == 0


def test_image_build_on_the_real_node_builds_telemetry_and_says_the_api_stays_simulated(
    real_cluster, kube, namespace, images
):
    from opskit.core import config
    from opskit.images import embedded
    from opskit.images.images import refs

    cfg = config.load()
    said: list[str] = []
    built = embedded.build(cfg, refs(cfg, "e2e-node2"), "e2e-node2", report=said.append)
    assert built == [f"{cfg.images['telemetry'].repository}:e2e-node2"]
    assert any("stays simulated" in line and ":e2e-node2: not built" in line for line in said)
    real_cluster.load_image(built[0])
    pod = _pod("loaded", built[0], 10001, {}, command=["sleep", "infinity"])
    start(kube, namespace, pod)
    assert exec_in(kube, namespace, "loaded", "telemetry", "--help").returncode == 0
