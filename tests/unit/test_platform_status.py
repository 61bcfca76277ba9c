"""What `monitoring.status` and `ingress.status` read on the real node: Prometheus's API
through the API server's proxy and the Ingress controller's objects, kubectl's answers
scripted at the shell boundary (exact argv), their parsing and one-line errors real."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from opskit.core import config, shell
from opskit.core.errors import OpsError
from opskit.kube.kubectl import Kube
from opskit.platform import images, ingress, monitoring

ROOT = Path(__file__).resolve().parents[2]
KUBE = Kube("/tmp/kubeconfig", "kwok-lab")
PREFIX = ["kubectl", "--kubeconfig", "/tmp/kubeconfig", "--context", "kwok-lab"]


@pytest.fixture
def kubectl(monkeypatch):
    """kubectl answers by the arguments after the prefix; unknown commands fail the test."""
    answers: dict[tuple[str, ...], shell.Result] = {}
    calls: list[tuple[str, ...]] = []

    def run(argv, **_kwargs):
        assert list(argv[:5]) == PREFIX
        args = tuple(argv[5:])
        calls.append(args)
        if args not in answers:
            raise AssertionError(f"unexpected kubectl {args}")
        return answers[args]

    monkeypatch.setattr(shell, "run", run)
    return answers, calls


def api(path: str) -> tuple[str, ...]:
    return ("get", "--raw", f"/api/v1/namespaces/monitoring/{monitoring.API}/{path}")


def success(data: dict) -> shell.Result:
    return shell.Result(0, json.dumps({"status": "success", "data": data}), "")


def test_targets_are_sorted_with_their_health_and_error(kubectl):
    answers, _calls = kubectl
    active = [
        {"labels": {"job": "telemetry"}, "scrapeUrl": "http://10.244.0.9:8080/metrics",
         "health": "up", "lastError": ""},
        {"scrapePool": "serviceMonitor/gitops-lab-dev/api/0", "labels": {},
         "scrapeUrl": "http://10.244.0.7:4000/metrics", "health": "down",
         "lastError": "connection refused"},
    ]  # fmt: skip
    answers[api("targets?state=active")] = success({"activeTargets": active})
    found = monitoring.targets(KUBE, "monitoring")
    assert [(t.job, t.ok, t.error) for t in found] == [
        ("serviceMonitor/gitops-lab-dev/api/0", False, "connection refused"),
        ("telemetry", True, ""),
    ]


def test_a_query_is_url_encoded_and_returns_its_vector(kubectl):
    answers, calls = kubectl
    vector = [{"metric": {"job": "telemetry"}, "value": [1, "1"]}]
    answers[api("query?query=up%7Bjob%3D%22telemetry%22%7D")] = success(
        {"resultType": "vector", "result": vector}
    )
    assert monitoring.query(KUBE, "monitoring", 'up{job="telemetry"}') == vector
    assert len(calls) == 1


def test_prometheus_errors_are_one_line(kubectl):
    answers, _calls = kubectl
    answers[api("query?query=up%28")] = shell.Result(
        0, json.dumps({"status": "error", "error": "parse error: unclosed left parenthesis"}), ""
    )
    with pytest.raises(OpsError) as caught:
        monitoring.query(KUBE, "monitoring", "up(")
    assert str(caught.value) == "Prometheus answered error: parse error: unclosed left parenthesis"


def test_the_operators_crds_come_from_the_pinned_binary():
    step = monitoring.crds_step()
    assert step.argv == ("prometheus-operator", "crds")
    text = "\n---\n".join(
        f"apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\n"
        f"metadata:\n  name: {name}.monitoring.coreos.com\n"
        for name in ("prometheuses", "servicemonitors")
    )
    assert monitoring._crd_names(text) == [
        "prometheuses.monitoring.coreos.com",
        "servicemonitors.monitoring.coreos.com",
    ]


def test_the_prometheus_version_is_the_release_of_its_module_pin():
    cfg = config.load(ROOT / "opskit.yaml")
    pin = cfg.tool_pins()["prometheus"]
    assert pin.startswith("v0.3")  # the module proxy's name of a 3.x release
    assert monitoring.prometheus_version(cfg) == f"v3.{int(pin[4:6])}.{pin.split('.')[-1]}"


def deployment(ready: bool) -> dict:
    replicas = 1 if ready else 0
    return {
        "kind": "Deployment",
        "metadata": {"name": "traefik", "generation": 2},
        "spec": {"replicas": 1},
        "status": {
            "observedGeneration": 2,
            "replicas": 1,
            "updatedReplicas": 1,
            "readyReplicas": replicas,
            "availableReplicas": replicas,
        },
    }


def ingress_obj(name: str, hosts: list[str], secret: str) -> dict:
    return {
        "metadata": {"name": name, "namespace": "gitops-lab-dev"},
        "spec": {
            "rules": [{"host": h} for h in hosts],
            "tls": [{"hosts": hosts, "secretName": secret}],
        },
    }


def test_ingress_status_names_the_controller_and_each_ingress_tls(kubectl):
    answers, _calls = kubectl
    workload = ("get", ingress.WORKLOAD, "-n", ingress.NAMESPACE, "-o", "json")
    answers[workload] = shell.Result(0, json.dumps(deployment(True)), "")
    items = [
        ingress_obj("api", ["api.dev.gitops-lab.localhost"], "gitops-lab-tls"),
        ingress_obj("telemetry", ["telemetry.dev.gitops-lab.localhost"], "telemetry-tls"),
    ]
    answers[("get", "ingresses", "-A", "-o", "json")] = shell.Result(
        0, json.dumps({"items": items}), ""
    )
    secret = ("get", "secret", "{}", "-n", "gitops-lab-dev", "-o", "name")
    answers[tuple(a.replace("{}", "gitops-lab-tls") for a in secret)] = shell.Result(0, "", "")
    answers[tuple(a.replace("{}", "telemetry-tls") for a in secret)] = shell.Result(1, "", "")
    checks = ingress.status(KUBE)
    assert [(c.what, c.ok, c.detail) for c in checks] == [
        ("deployment/traefik in kube-system", True, "https://127.0.0.1:8443"),
        ("Ingress gitops-lab-dev/api", True, "api.dev.gitops-lab.localhost"),
        (
            "Ingress gitops-lab-dev/telemetry",
            False,
            "telemetry.dev.gitops-lab.localhost; TLS Secret telemetry-tls missing",
        ),
    ]


def test_ingress_status_without_the_controller_says_how_to_install(kubectl):
    answers, calls = kubectl
    workload = ("get", ingress.WORKLOAD, "-n", ingress.NAMESPACE, "-o", "json")
    answers[workload] = shell.Result(1, "", 'deployments.apps "traefik" not found')
    (check,) = ingress.status(KUBE)
    assert not check.ok and check.detail == "absent; install it: `invoke ingress.install`"
    assert calls == [workload]  # no Ingress is read without a controller


def test_a_platform_binary_that_is_not_built_names_its_install(monkeypatch):
    monkeypatch.setattr(images.tools, "which", lambda _name: None)
    with pytest.raises(OpsError) as caught:
        images.built_binary(images.TRAEFIK)
    assert caught.value.message == "traefik is not built"
    assert "--only=ingress" in caught.value.hint or "tools.install" in caught.value.hint


def test_a_dry_run_image_build_only_prints_the_buildah_command(tmp_path, monkeypatch):
    binary = tmp_path / "traefik"
    binary.write_bytes(b"\x7fELF traefik")
    monkeypatch.setattr(images.tools, "which", lambda _name: str(binary))
    ran: list[tuple[list[str], dict]] = []
    monkeypatch.setattr(shell, "run", lambda argv, **kw: ran.append((list(argv), kw)))
    said: list[str] = []
    name = images.ensure(images.TRAEFIK, "v3.6.12", said.append, dry_run=True)
    assert name.startswith("localhost/gitops-lab/traefik:3.6.12-")
    assert said == [f"would build image {name}"]
    ((argv, options),) = ran  # no `buildah images` probe either
    assert argv[:6] == ["buildah", "bud", "--quiet", "--layers=false", "-t", name]
    assert options["dry_run"] is True and options["mutates"] is True
    binary.write_bytes(b"\x7fELF traefik, rebuilt")
    assert images.ensure(images.TRAEFIK, "v3.6.12", said.append, dry_run=True) != name
