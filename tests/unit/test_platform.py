"""The platform on the real node: manifests rendered with the real kustomize, upstream images
substituted by name only (exact images and args), images' recipes, and the one-line failure
of a crash-looping pod (kubectl's cluster calls faked: no cluster here)."""

import copy
import json

import pytest

from opskit.core import config
from opskit.core.errors import OpsError
from opskit.kube.kubectl import Kube
from opskit.platform import images, ingress, monitoring, pods
from tests import fakes

KUBE = Kube("/state/kubeconfig", "kwok-gitops-lab")
LOCAL = {
    images.PROMETHEUS.upstream: "localhost/gitops-lab/prometheus:3.13.1-aaaaaaaaaa",
    images.OPERATOR.upstream: "localhost/gitops-lab/prometheus-operator:0.93.1-bbbbbbbbbb",
    images.RELOADER.upstream: "localhost/gitops-lab/prometheus-config-reloader:0.93.1-cccccccccc",
}
TRAEFIK = "localhost/gitops-lab/traefik:3.6.12-dddddddddd"


@pytest.fixture
def cfg(root):
    return config.load(root / "opskit.yaml")


def _one(objects, kind, name):
    (found,) = [o for o in objects if o["kind"] == kind and o["metadata"]["name"] == name]
    return found


def test_operator_runs_the_image_built_here_with_upstreams_args(cfg):
    objects = monitoring.render(cfg, LOCAL)
    deployment = _one(objects, "Deployment", "prometheus-operator")
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    assert deployment["metadata"]["namespace"] == "monitoring"
    assert container["image"] == LOCAL[images.OPERATOR.upstream]
    assert container["imagePullPolicy"] == "IfNotPresent"
    assert container["args"] == [
        "--kubelet-service=kube-system/kubelet",
        f"--prometheus-config-reloader={LOCAL[images.RELOADER.upstream]}",
        "--watch-referenced-objects-in-all-namespaces=true",
        "--disable-unmanaged-prometheus-configuration=true",
        "--kubelet-endpoints=true",
        "--kubelet-endpointslice=false",
    ]


def test_prometheus_selects_every_servicemonitor_and_runs_the_pinned_release(cfg):
    prometheus = _one(monitoring.render(cfg, LOCAL), "Prometheus", "k8s")
    spec = prometheus["spec"]
    assert spec["image"] == LOCAL[images.PROMETHEUS.upstream]
    assert spec["version"] == monitoring.prometheus_version(cfg) == "v3.13.1"
    assert spec["serviceMonitorSelector"] == spec["serviceMonitorNamespaceSelector"] == {}
    assert spec["serviceAccountName"] == "prometheus"
    # the overlays' NetworkPolicies admit Prometheus by this label, in this namespace
    assert prometheus["metadata"]["namespace"] == cfg.require_monitoring().namespace


def test_no_upstream_image_is_left_to_pull(cfg):
    objects = monitoring.render(cfg, LOCAL)
    text = json.dumps(objects)
    assert "quay.io" not in text
    bindings = [o for o in objects if o["kind"] == "ClusterRoleBinding"]
    assert {s["namespace"] for b in bindings for s in b["subjects"]} == {"monitoring"}


def test_an_upstream_image_without_a_local_one_is_refused(cfg):
    partial = {k: v for k, v in LOCAL.items() if k != images.RELOADER.upstream}
    with pytest.raises(OpsError) as err:
        monitoring.render(cfg, partial)
    assert err.value.message == (
        "image quay.io/prometheus-operator/prometheus-config-reloader:v0.93.1 is not built "
        "here and no registry can serve it"
    )


def test_traefik_serves_https_on_the_host_port_as_k3d_labels_it(cfg):
    objects = ingress.render(cfg, TRAEFIK)
    deployment = _one(objects, "Deployment", "traefik")
    pod = deployment["spec"]["template"]
    (container,) = pod["spec"]["containers"]
    assert deployment["metadata"]["namespace"] == "kube-system"
    assert pod["metadata"]["labels"]["app.kubernetes.io/name"] == "traefik"
    assert container["image"] == TRAEFIK
    assert container["args"] == [
        "--entryPoints.websecure.address=:8443",
        "--entryPoints.websecure.http.tls=true",
        "--entryPoints.traefik.address=:9000",
        "--ping=true",
        "--ping.entryPoint=traefik",
        "--providers.kubernetesingress=true",
        "--providers.kubernetesingress.ingressendpoint.ip=127.0.0.1",
        "--global.checkNewVersion=false",
        "--global.sendAnonymousUsage=false",
        "--log.level=INFO",
    ]
    websecure = next(p for p in container["ports"] if p["name"] == "websecure")
    assert websecure["hostPort"] == ingress.HTTPS_PORT == cfg.cluster.k3d.https_port
    rules = _one(objects, "ClusterRole", "traefik")["rules"]
    assert {"resources": ["nodes"], "verbs": ["get", "list", "watch"]}.items() <= next(
        r for r in rules if r["resources"] == ["nodes"]
    ).items()  # without it Traefik 3.6's provider never syncs: every host gets its default cert
    assert _one(objects, "IngressClass", "traefik")["spec"]["controller"] == (
        "traefik.io/ingress-controller"
    )


def test_an_image_is_its_binary_at_the_upstream_path_as_nobody(tmp_path):
    binary = tmp_path / "prometheus"
    binary.write_bytes(b"\x7fELF one")
    assert images.PROMETHEUS.containerfile() == (
        "FROM scratch\n"
        "COPY prometheus /bin/prometheus\n"
        "USER 65534\n"
        'ENTRYPOINT ["/bin/prometheus"]\n'
    )
    first = images.PROMETHEUS.name("v3.13.1", binary)
    assert first.startswith("localhost/gitops-lab/prometheus:3.13.1-") and len(first) == 49
    binary.write_bytes(b"\x7fELF two")
    assert images.PROMETHEUS.name("v3.13.1", binary) != first  # a new binary, a new tag


def test_the_prometheus_pin_is_the_proxys_name_of_the_release():
    from opskit.toolchain.build import prometheus_release, select

    assert prometheus_release("v0.313.1") == "3.13.1"
    assert prometheus_release("v0.300.0") == "3.0.0"
    (tool,) = [t for t in select(("monitoring",)) if t.name == "prometheus"]
    assert tool.release("v0.313.1") == "3.13.1"
    assert "-X github.com/prometheus/common/version.Version=3.13.1" in tool.argv("v0.313.1", "o")[6]


def _crashing_pod(name="prometheus-operator-5d9c7-abcde"):
    return {
        "metadata": {"name": name},
        "status": {
            "containerStatuses": [
                {
                    "name": "prometheus-operator",
                    "restartCount": 3,
                    "state": {"waiting": {"reason": "CrashLoopBackOff", "message": "back-off"}},
                    "lastState": {"terminated": {"exitCode": 1}},
                }
            ]
        },
    }


# what cobra prints after a command's error: its usage, whose flags may say "error" too
USAGE = (
    "Usage:\n  operator [flags]\n\nFlags:\n"
    '      --loglevel string   One of: debug|info|warn|error (default "info")\n'
)


def test_a_crash_looping_pod_fails_in_one_line_with_its_last_log_line():
    def kubectl(argv, _stdin):
        if "pods" in argv:
            return 0, json.dumps({"items": [_crashing_pod()]}), ""
        if "logs" in argv:
            said = 'level=info msg=starting\nlevel=error msg="unknown flag: --bogus"\n'
            return 0, said + USAGE, ""
        return 0, "{}", ""

    with fakes.recorder({"kubectl": kubectl}) as calls, pytest.raises(OpsError) as err:
        pods.wait_ready(KUBE, "monitoring", ["deployment/prometheus-operator"], "x=y", print)
    assert err.value.message == (
        "pod monitoring/prometheus-operator-5d9c7-abcde CrashLoopBackOff (container "
        "prometheus-operator, 3 restarts, exit code 1); its last log line: "
        'level=error msg="unknown flag: --bogus"'
    )
    assert "\n" not in str(err.value)
    logs = [c for c in calls if "logs" in c]
    assert logs[0][5:] == (
        "logs",
        "-n",
        "monitoring",
        "prometheus-operator-5d9c7-abcde",
        "-c",
        "prometheus-operator",
        "--previous",
        "--tail=40",
    )


def test_a_rerun_replaces_the_crash_looping_pods_first():
    healthy = {"metadata": {"name": "ok"}, "status": {"containerStatuses": [{"name": "c"}]}}

    def kubectl(argv, _stdin):
        if "get" in argv:
            return 0, json.dumps({"items": [_crashing_pod("bad-0"), healthy]}), ""
        return 0, "", ""

    with fakes.recorder({"kubectl": kubectl}) as calls:
        replaced = pods.replace_broken(KUBE, "monitoring", "x=y", lambda _line: None)
    assert replaced == ["bad-0"]
    assert calls[-1][5:] == ("delete", "pod", "bad-0", "-n", "monitoring", "--wait=false")


@pytest.mark.parametrize(
    ("status", "ready"),
    [
        ({"observedGeneration": 2, "replicas": 1, "readyReplicas": 1, "updatedReplicas": 1}, True),
        ({"observedGeneration": 1, "replicas": 1, "readyReplicas": 1, "updatedReplicas": 1}, False),
        ({"observedGeneration": 2, "replicas": 2, "readyReplicas": 1, "updatedReplicas": 1}, False),
    ],
)
def test_a_workload_is_ready_when_every_replica_runs_the_current_spec(status, ready):
    obj = {"kind": "Deployment", "metadata": {"generation": 2}, "spec": {"replicas": 1}}
    assert pods.workload_ready({**obj, "status": status}) is ready


def test_a_statefulset_pod_of_an_older_revision_is_stale_not_a_failure():
    sts = {
        "kind": "StatefulSet",
        "metadata": {"name": "prometheus-k8s"},
        "status": {"updateRevision": "prometheus-k8s-new"},
    }

    def pod(name, revision):
        return {"metadata": {"name": name, "labels": {"controller-revision-hash": revision}}}

    assert pods.stale(pod("prometheus-k8s-0", "prometheus-k8s-old"), [sts])
    assert not pods.stale(pod("prometheus-k8s-0", "prometheus-k8s-new"), [sts])
    assert not pods.stale(pod("prometheus-operator-1", "x"), [sts])


def test_a_pod_without_a_readiness_probe_counts_as_ready_only_after_it_ran_a_few_seconds():
    """prometheus-operator has no readiness probe: its Deployment is ready the moment the
    container runs, before a bad flag crashes it. The wait holds until it ran YOUNG seconds,
    then sees the crash loop (no "ready" said for a pod about to crash)."""
    from datetime import UTC, datetime, timedelta

    from opskit.kube import young

    operator = {
        "kind": "Deployment",
        "metadata": {"name": "prometheus-operator", "generation": 1},
        "spec": {"replicas": 1},
        "status": {"observedGeneration": 1, "readyReplicas": 1, "updatedReplicas": 1,
                   "replicas": 1},
    }  # fmt: skip
    now = datetime.now(UTC)
    started = (now - timedelta(seconds=1)).isoformat().replace("+00:00", "Z")
    running = {
        "metadata": {"name": "prometheus-operator-5d9c7-abcde"},
        "spec": {"containers": [{"name": "prometheus-operator"}]},
        "status": {
            "containerStatuses": [
                {"name": "prometheus-operator", "restartCount": 0, "ready": True,
                 "state": {"running": {"startedAt": started}}}
            ]
        },
    }  # fmt: skip
    assert young.young(running, now)
    assert not young.young(running, now + timedelta(seconds=young.YOUNG))
    probed = copy.deepcopy(running)
    probed["spec"]["containers"][0]["readinessProbe"] = {"httpGet": {"path": "/", "port": 1}}
    assert not young.young(probed, now)
    reads = iter([running, _crashing_pod()])

    def kubectl(argv, _stdin):
        if "pods" in argv:
            return 0, json.dumps({"items": [next(reads)]}), ""
        if "logs" in argv:
            return 0, 'level=error msg="unknown flag: --bogus"\n', ""
        return 0, json.dumps(operator), ""

    with fakes.recorder({"kubectl": kubectl}), pytest.raises(OpsError) as err:
        pods.wait_ready(KUBE, "monitoring", ["deployment/prometheus-operator"], "x=y", print,
                        sleep=lambda _s: None)  # fmt: skip
    assert "CrashLoopBackOff" in err.value.message
