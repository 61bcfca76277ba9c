"""The platform as pods on the real node, for real: prometheus-operator and Prometheus scrape
the overlay's telemetry ServiceMonitor through the overlay's NetworkPolicies, Traefik serves
the overlay's telemetry Ingress with the mkcert certificate on host port 8443 and the
scripts/ curl wrappers call it with --cacert (a wrong CA is refused), and a crash-looping
Prometheus fails the install in one line that a rerun, once the cause is gone, converges."""

from __future__ import annotations

import json
import os
import subprocess
import time

import pytest

from opskit.clusters.connect import Connection
from opskit.core import config, paths
from opskit.images import localbuild
from opskit.manifests import kustomize
from opskit.platform import ingress, monitoring
from opskit.secrets import certs
from tests.e2e_node.conftest import _say, leave_no_overlay_behind

pytestmark = pytest.mark.timeout(900)  # builds images, starts the platform: minutes, not 60 s
NAMESPACE = "gitops-lab-dev"  # the dev overlay's: its objects apply as they render
TELEMETRY_HOST = "telemetry.dev.gitops-lab.localhost"
FROM_OVERLAY = {
    ("Service", "telemetry"),
    ("Service", "postgres"),
    ("ServiceMonitor", "telemetry"),
    ("Ingress", "telemetry"),
}
NAME = "app.kubernetes.io/name"
DB = "postgresql://app:not-a-secret-e2e@postgres:5432/items"


@pytest.fixture(scope="module")
def cfg():
    return config.load()


@pytest.fixture(scope="module")
def target(real_cluster) -> Connection:
    return Connection(real_cluster.kube(), real_cluster)


@pytest.fixture(scope="module")
def timings() -> dict[str, float]:
    return {}


@pytest.fixture(scope="module")
def installed(cfg, target, timings) -> Connection:
    started = time.monotonic()
    monitoring.install(cfg, target, report=_say)
    timings["monitoring.install"] = time.monotonic() - started
    started = time.monotonic()
    ingress.install(cfg, target, report=_say)
    timings["ingress.install"] = time.monotonic() - started
    _say(f"timings: {timings}")
    return target


def _labels(objects: list[dict], kind: str, name: str) -> dict:
    obj = next(o for o in objects if o["kind"] == kind and o["metadata"]["name"] == name)
    return obj["spec"]["template"]["metadata"]["labels"]


def _deployment(name: str, labels: dict, container: dict, uid: int) -> dict:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": NAMESPACE},
        "spec": {
            "selector": {"matchLabels": {NAME: labels[NAME]}},
            "template": {
                "metadata": {"labels": labels},
                "spec": {
                    "terminationGracePeriodSeconds": 0,
                    "securityContext": {"runAsNonRoot": True, "runAsUser": uid,
                                        "runAsGroup": uid, "fsGroup": uid},
                    "containers": [{"imagePullPolicy": "IfNotPresent", "name": name, **container}],
                },
            },
        },
    }  # fmt: skip


@pytest.fixture(scope="module")
def telemetry(cfg, real_cluster, kube, installed) -> str:
    """The dev overlay's telemetry Service, ServiceMonitor, Ingress and every NetworkPolicy,
    as rendered; telemetry (its image built here) on a PostgreSQL stand-in; the TLS Secret
    from mkcert, as deploy makes it. The overlays' namespaces are emptied first: the
    target counted below must be this module's alone, whatever an earlier module left."""
    leave_no_overlay_behind(kube)
    overlay = cfg.overlay("dev")
    objects = kustomize.load_documents(shell_render(overlay.path))
    chosen = [
        o
        for o in objects
        if (o["kind"], o["metadata"]["name"]) in FROM_OVERLAY or o["kind"] == "NetworkPolicy"
    ]
    image = localbuild.build_project_image(
        localbuild.ProjectImage("telemetry", paths.root() / "services" / "telemetry"),
        "localhost/gitops-lab/telemetry:e2e-platform",
        "e2e-platform",
    )
    postgres = localbuild.build_standin("postgres")
    for built in (image, postgres):
        real_cluster.load_image(built)
    pg_env = [
        {"name": "POSTGRES_USER", "value": "app"},
        {"name": "POSTGRES_PASSWORD", "value": "not-a-secret-e2e"},
        {"name": "POSTGRES_DB", "value": "items"},
        {"name": "PGDATA", "value": "/tmp/pgdata"},
    ]
    workloads = [
        _deployment(
            "postgres",
            _labels(objects, "StatefulSet", "postgres"),
            {"image": postgres, "env": pg_env,
             "ports": [{"name": "postgres", "containerPort": 5432}]},
            999,
        ),
        _deployment(
            "telemetry",
            _labels(objects, "Deployment", "telemetry"),
            {"image": image, "args": ["serve"],
             "env": [{"name": "DATABASE_URL", "value": DB},
                     {"name": "MQTT_HOST", "value": "mqtt"},
                     {"name": "MQTT_PASSWORD", "value": "not-a-secret-e2e"}],
             "ports": [{"name": "http", "containerPort": 8080}]},
            10001,
        ),
    ]  # fmt: skip
    kube.run("create", "namespace", NAMESPACE, check=False)
    certs.init_ca(cfg)  # as `./bootstrap.sh deploy` does (trusted by the wrappers only)
    secret = certs.tls_secret(cfg, overlay)
    kube.run("apply", "-f", "-", stdin=secret, mutates=True, timeout=60)
    body = json.dumps({"apiVersion": "v1", "kind": "List", "items": [*chosen, *workloads]})
    kube.run("apply", "-n", NAMESPACE, "-f", "-", stdin=body, mutates=True, timeout=60)
    for name in ("postgres", "telemetry"):
        kube.run("rollout", "status", f"deployment/{name}", "-n", NAMESPACE, "--timeout=180s",
                 timeout=200)  # fmt: skip
    yield f"https://{TELEMETRY_HOST}:{ingress.HTTPS_PORT}"
    kube.run("delete", "namespace", NAMESPACE, "--wait=false", check=False)


def shell_render(path) -> str:
    from opskit.core import shell

    return shell.run_step(kustomize.render_step(path)).stdout


def _until(what: str, probe, seconds: float = 90.0):
    deadline = time.monotonic() + seconds
    while True:
        found = probe()
        if found or time.monotonic() > deadline:
            return found
        time.sleep(2)


def test_prometheus_scrapes_the_overlays_telemetry_servicemonitor(cfg, kube, telemetry, timings):
    started = time.monotonic()
    up = _until(
        "telemetry up",
        lambda: [
            t for t in monitoring.targets(kube, "monitoring")
            if "telemetry" in t.job and t.ok
        ],
    )  # fmt: skip
    timings["telemetry target up"] = time.monotonic() - started
    _say(f"timings: {timings}")
    assert up, monitoring.targets(kube, "monitoring")
    assert up[0].url.endswith(":8080/metrics")
    samples = monitoring.query(kube, "monitoring", 'up{namespace="gitops-lab-dev"}')
    assert {(s["metric"]["service"], s["value"][1]) for s in samples} == {("telemetry", "1")}, (
        samples
    )
    # a replaced pod's series stays until Prometheus's discovery drops its target: the
    # running pod must be among those up, whatever else is
    selector = "app.kubernetes.io/name=telemetry"
    pods = kube.json("get", "pods", "-n", NAMESPACE, "-l", selector, timeout=30)["items"]
    running = {
        f"{p['status']['podIP']}:8080"
        for p in pods
        if p["status"].get("podIP") and "deletionTimestamp" not in p["metadata"]
    }
    instances = {s["metric"]["instance"] for s in samples}
    _say(f"up in {NAMESPACE}: {sorted(instances)}; telemetry pods: {sorted(running)}")
    assert running & instances, (running, instances)
    received = monitoring.query(kube, "monitoring", "telemetry_messages_received_total")
    assert received and received[0]["metric"]["job"] == "telemetry"


def _memory() -> str:
    """Resident memory of the platform's processes (containers are this host's processes)."""
    names = ("prometheus", "operator", "prometheus-config-reloader", "traefik", "telemetry")
    ps = subprocess.run(["ps", "-C", ",".join(names), "-o", "rss=,comm="], capture_output=True,
                        text=True, check=False)  # fmt: skip
    return ", ".join(
        f"{c} {int(r) // 1024} MiB" for r, c in (ln.split() for ln in ps.stdout.splitlines())
    )


def test_monitoring_status_shows_the_targets_and_their_health(cfg, kube, telemetry):
    _say(f"memory: {_memory()}")
    checks = monitoring.status(cfg, kube, [cfg.overlay("dev")])
    lines = [c.line() for c in checks]
    assert lines[0].startswith("ok       deployment/prometheus-operator: 1/1 ready")
    assert lines[1].startswith("ok       statefulset/prometheus-k8s: 1/1 ready")
    assert "ok       ServiceMonitor in gitops-lab-dev: telemetry" in lines
    targets = [line for line in lines if line.startswith("ok       target telemetry http://")]
    assert len(targets) == 1 and targets[0].endswith(":8080/metrics: up"), lines


def _script(name: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(paths.root() / "scripts" / name)],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_the_curl_wrappers_reach_telemetry_through_the_ingress_with_the_mkcert_ca(telemetry):
    answer = _until(
        "telemetry through Traefik",
        lambda: (
            (r := _script("telemetry-devices.sh", TELEMETRY_URL=telemetry)).returncode == 0 and r
        ),
    )
    assert answer, _script("telemetry-devices.sh", TELEMETRY_URL=telemetry).stderr
    assert json.loads(answer.stdout) == {"devices": []}
    ready = _script("telemetry-ready.sh", TELEMETRY_URL=telemetry)
    # served through TLS by telemetry itself: its database answers, no broker in this test
    assert ready.returncode == 1 and '"database":true' in ready.stderr.replace(" ", "")


def test_a_wrong_ca_is_refused(telemetry, tmp_path):
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-subj", "/CN=not the project CA", "-keyout", str(tmp_path / "rootCA-key.pem"),
         "-out", str(tmp_path / "rootCA.pem")],
        check=True, capture_output=True,
    )  # fmt: skip
    refused = _script("telemetry-devices.sh", TELEMETRY_URL=telemetry, CAROOT=str(tmp_path))
    assert refused.returncode == 1
    assert "curl exit 60" in refused.stderr  # the peer's certificate is not trusted


def test_ingress_status_lists_the_telemetry_ingress_with_its_secret(kube, telemetry):
    lines = [c.line() for c in ingress.status(kube)]
    assert lines[0] == f"ok       deployment/traefik in kube-system: https://{ingress.ADDRESS}"
    assert f"ok       Ingress {NAMESPACE}/telemetry: {TELEMETRY_HOST}" in lines


def test_a_crash_looping_prometheus_fails_in_one_line_and_a_rerun_converges(cfg, target, kube):
    from opskit.core.errors import OpsError

    bad = [{"op": "add", "path": "/spec/additionalArgs", "value": [{"name": "no-such-flag"}]}]
    kube.run("patch", "prometheus", "k8s", "-n", "monitoring", "--type=json",
             f"-p={json.dumps(bad)}", "--field-manager=e2e-fault", mutates=True)  # fmt: skip
    args = "jsonpath={.spec.template.spec.containers[?(@.name=='prometheus')].args}"
    assert _until(
        "the operator passes the flag on",
        lambda: "no-such-flag" in kube.run("get", "statefulset", "prometheus-k8s", "-n",
                                           "monitoring", "-o", args).stdout,
    )  # fmt: skip
    with pytest.raises(OpsError) as err:
        monitoring.install(cfg, target, report=_say)
    message = err.value.message
    _say(f"the install said: {err.value}")
    assert message.startswith(
        "pod monitoring/prometheus-k8s-0 CrashLoopBackOff (container prometheus"
    )
    assert "its last log line: " in message and "no-such-flag" in message
    assert "\n" not in str(err.value)
    fixed = [{"op": "remove", "path": "/spec/additionalArgs"}]
    kube.run("patch", "prometheus", "k8s", "-n", "monitoring", "--type=json",
             f"-p={json.dumps(fixed)}", mutates=True)  # fmt: skip
    started = time.monotonic()
    monitoring.install(cfg, target, report=_say)
    _say(f"rerun converged in {time.monotonic() - started:.1f}s")
    checks = monitoring.status(cfg, kube, [])
    assert all(c.ok for c in checks[:2]), [c.line() for c in checks]
