"""Registry of the external tools the suite drives: where each is found, its minimum version
and install hint (opskit.core.toolcheck probes the version)."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

from opskit.core.errors import OpsError
from opskit.core.paths import tools_bin

BUILT = "run `invoke tools.install` (builds it into .tools/bin from the pins in tools/)"
GITOPS = (
    "run `invoke tools.install --only=gitops` (builds ArgoCD, kustomize and ksops, ~20 min cold)"
)
NODE = "run `invoke tools.install --only=node` (the real node's daemons, ~15 min cold)"
HELM = "run `invoke tools.install --only=helm` (builds the pinned Helm, ~3 min cold)"
MONITORING = (
    "run `invoke tools.install --only=monitoring` (Prometheus and its operator, ~12 min cold)"
)
INGRESS = "run `invoke tools.install --only=ingress` (Traefik, the Ingress controller, ~6 min cold)"
PEERS = "run `invoke tools.install --only=peers` (builds Skaffold for the benchmark, ~7 min cold)"


@dataclass(frozen=True)
class Tool:
    name: str
    version_args: tuple[str, ...]
    minimum: str
    hint: str
    version_regex: str = r"v?(\d+\.\d+(?:\.\d+)?)"


TOOLS: dict[str, Tool] = {
    t.name: t
    for t in (
        Tool("git", ("--version",), "2.30", "apt-get install git"),
        Tool("kubectl", ("version", "--client"), "1.31", BUILT),  # doctor: minor skew
        Tool("docker", ("--version",), "24.0", "install Docker Engine or Docker Desktop"),
        Tool("k3d", ("version",), "5.6", "see k3d.io (install.sh) or `brew install k3d`"),
        Tool("minikube", ("version", "--short"), "1.38", "see minikube.sigs.k8s.io/docs/start"),
        Tool("kwokctl", ("--version",), "0.8", BUILT, r"kwokctl version v?(\d+\.\d+\.\d+)"),
        Tool("kwok", ("--version",), "0.8", BUILT, r"kwok version v?(\d+\.\d+\.\d+)"),
        Tool("kube-apiserver", ("--version",), "1.37", BUILT),
        Tool("kube-controller-manager", ("--version",), "1.37", BUILT),
        Tool("kube-scheduler", ("--version",), "1.37", BUILT),
        Tool("etcd", ("--version",), "3.7", BUILT, r"etcd Version: (\d+\.\d+\.\d+)"),
        Tool("sops", ("--version", "--disable-version-check"), "3.8", BUILT),
        Tool("actionlint", ("-version",), "1.7", BUILT),
        Tool("kube-score", ("version",), "1.20", BUILT, r"kube-score version: (\d+\.\d+\.\d+)"),
        Tool("argocd", ("version", "--client", "--short"), "3.6", GITOPS, r"v(\d+\.\d+\.\d+)"),
        Tool("kustomize", ("version",), "5.8", GITOPS),
        Tool("ksops", ("--version",), "3.13", GITOPS, r"on sops (\d+\.\d+\.\d+)"),
        Tool("skaffold", ("version",), "2.19", PEERS, r"v(\d+\.\d+\.\d+)"),
        Tool("kubelet", ("--version",), "1.37", NODE),
        Tool("kube-proxy", ("--version",), "1.37", NODE),
        Tool("containerd", ("--version",), "2.0", NODE, r"containerd \S+ v(\d+\.\d+\.\d+)"),
        Tool("ctr", ("--version",), "2.0", NODE, r"ctr \S+ v(\d+\.\d+\.\d+)"),
        Tool("containerd-shim-runc-v2", ("-v",), "2.0", NODE, r"Version:\s+v(\d+\.\d+\.\d+)"),
        Tool("coredns", ("-version",), "1.12", NODE, r"CoreDNS-(\d+\.\d+\.\d+)"),
        Tool("crictl", ("--version",), "1.31", NODE, r"crictl version v(\d+\.\d+\.\d+)"),
        Tool("kube-router", ("--version",), "2.0", NODE, r"version v(\d+\.\d+\.\d+)"),
        Tool("prometheus", ("--version",), "3.0", MONITORING, r"version (\d+\.\d+\.\d+)"),
        Tool("prometheus-operator", ("--version",), "0.80", MONITORING, r"version (\d+\.\d+\.\d+)"),
        Tool(
            "prometheus-config-reloader",
            ("--version",),
            "0.80",
            MONITORING,
            r"version (\d+\.\d+\.\d+)",
        ),
        Tool("traefik", ("version",), "3.0", INGRESS, r"Version:\s+v?(\d+\.\d+\.\d+)"),
        Tool(
            "runc", ("--version",), "1.1", "apt-get install runc", r"runc version (\d+\.\d+\.\d+)"
        ),
        Tool("redis-server", ("--version",), "6.0", "apt-get install redis-server", r"v=([\d.]+)"),
        Tool("age", ("--version",), "1.1", "apt-get install age"),
        Tool("age-keygen", ("--version",), "1.1", "apt-get install age"),
        Tool("mkcert", ("-version",), "1.4", "apt-get install mkcert"),
        Tool("helm", ("version", "--short"), "3.14", HELM),
        Tool("curl", ("--version",), "7.80", "apt-get install curl"),
        Tool("openssl", ("version",), "3.0", "apt-get install openssl"),
        Tool("elixir", ("--version",), "1.14", "apt-get install elixir", r"Elixir (\d+\.\d+\.\d+)"),
        Tool(
            "shellcheck",
            ("--version",),
            "0.8",
            "apt-get install shellcheck",
            r"version: (\d+\.\d+\.\d+)",
        ),
        Tool("go", ("version",), "1.22", "install Go from go.dev/dl", r"go(\d+\.\d+(?:\.\d+)?)"),
    )
}

# What each cluster provider's deploy workflow needs; `invoke doctor` fails on these.
COMMON = ("git", "kubectl", "sops", "age", "mkcert")
WORKFLOW: dict[str, tuple[str, ...]] = {
    "kwok": (
        *COMMON,
        "kwokctl",
        "kwok",
        "kube-apiserver",
        "kube-controller-manager",
        "kube-scheduler",
        "etcd",
    ),
    "k3d": (*COMMON, "docker", "k3d"),
    "minikube": (*COMMON, "docker", "minikube"),
}


def which(name: str) -> str | None:
    """Path of an executable: the suite's built tools first, then PATH."""
    if "/" in name:
        return name if shutil.which(name) else None
    local = tools_bin() / name
    if local.is_file():
        return str(local)
    return shutil.which(name)


def exe(name: str) -> str:
    """The absolute path of a tool a daemon runs (start-stop-daemon matches /proc/<pid>/exe
    against it), not resolved: a link named by its role stays that name. Missing: OpsError."""
    found = which(name)
    if found is None:
        raise OpsError(f"`{name}` not found", install_hint(name))
    return str(Path(found).absolute())


def install_hint(name: str) -> str:
    tool = TOOLS.get(name)
    return f"install it: {tool.hint}" if tool else f"install `{name}` and put it on PATH"
