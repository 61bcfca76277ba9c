"""Pods on the real node are real containers: exec, hostname, Service DNS, NetworkPolicy."""

from __future__ import annotations

import json

import pytest

SERVER = (
    "use IO::Socket::INET; $|=1;"
    "my $s = IO::Socket::INET->new(LocalPort => 8080, Listen => 5, ReuseAddr => 1) or die $!;"
    'while (my $c = $s->accept) { print $c "hello from $ENV{HOSTNAME}\\n"; close $c }'
)


def pod(name: str, image: str, command: list[str], labels: dict | None = None) -> dict:
    security = {
        "allowPrivilegeEscalation": False,
        "runAsNonRoot": True,
        "runAsUser": 65534,
        "capabilities": {"drop": ["ALL"]},
        "seccompProfile": {"type": "RuntimeDefault"},
    }
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "labels": labels or {"app": name}},
        "spec": {
            "terminationGracePeriodSeconds": 0,
            "containers": [
                {
                    "name": "main",
                    "image": image,
                    "imagePullPolicy": "Never",
                    "command": command,
                    "securityContext": security,
                }
            ],
        },
    }


def start(kube, namespace: str, *objects: dict) -> None:
    body = json.dumps({"apiVersion": "v1", "kind": "List", "items": list(objects)})
    kube.run("apply", "-n", namespace, "-f", "-", stdin=body, mutates=True, timeout=60)
    kube.run(
        "wait", "-n", namespace, "--for=condition=Ready", "pod", "--all", "--timeout=120s",
        timeout=150,
    )  # fmt: skip


def exec_in(kube, namespace: str, name: str, *argv: str, check: bool = True):
    return kube.run("exec", "-n", namespace, name, "--", *argv, check=check, timeout=60)


@pytest.fixture
def server(kube, namespace, base_image) -> str:
    service = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "echo"},
        "spec": {"selector": {"app": "echo"}, "ports": [{"port": 80, "targetPort": 8080}]},
    }
    start(kube, namespace, pod("echo", base_image, ["perl", "-e", SERVER]), service)
    return f"echo.{namespace}.svc.cluster.local"


def test_pod_is_a_real_container(kube, namespace, base_image):
    start(kube, namespace, pod("shell", base_image, ["sleep", "infinity"]))
    assert exec_in(kube, namespace, "shell", "hostname").stdout.strip() == "shell"
    assert exec_in(kube, namespace, "shell", "id", "-u").stdout.strip() == "65534"
    node = kube.run("get", "pod", "shell", "-n", namespace, "-o", "jsonpath={.spec.nodeName}")
    assert node.stdout.endswith("-real")


def test_service_name_resolves_and_answers_from_a_pod(kube, namespace, base_image, server):
    start(kube, namespace, pod("client", base_image, ["sleep", "infinity"]))
    address = kube.run(
        "get", "service", "echo", "-n", namespace, "-o", "jsonpath={.spec.clusterIP}"
    )
    resolved = exec_in(kube, namespace, "client", "getent", "hosts", server).stdout.split()
    assert resolved[0] == address.stdout.strip()
    reply = exec_in(kube, namespace, "client", "bash", "-c", f"cat < /dev/tcp/{server}/80")
    assert reply.stdout.strip() == "hello from echo"


def _policy(name: str, ingress: list) -> dict:
    spec = {"podSelector": {"matchLabels": {"app": "echo"}}, "policyTypes": ["Ingress"]}
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": name},
        "spec": {**spec, "ingress": ingress},
    }


def test_network_policy_denies_and_allows(kube, namespace, base_image, server):
    allowed = pod("allowed", base_image, ["sleep", "infinity"], {"app": "allowed"})
    other = pod("other", base_image, ["sleep", "infinity"], {"app": "other"})
    rule = [{"from": [{"podSelector": {"matchLabels": {"app": "allowed"}}}]}]
    start(kube, namespace, allowed, other, _policy("only-allowed", rule))
    probe = f"timeout 5 bash -c 'cat < /dev/tcp/{server}/80'"
    # kube-router applies a policy within a few seconds of its creation
    for _ in range(20):
        denied = exec_in(kube, namespace, "other", "bash", "-c", probe, check=False)
        if denied.returncode != 0:
            break
        exec_in(kube, namespace, "other", "sleep", "1")
    assert denied.returncode != 0, "a flow the policy does not allow got through"
    ok = exec_in(kube, namespace, "allowed", "bash", "-c", probe)
    assert ok.stdout.strip() == "hello from echo"
