"""Prometheus for the cluster: kube-prometheus-stack through Helm at a pinned chart version,
with k8s/monitoring/values.yaml; status and ServiceMonitor checks through kubectl."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from opskit.core import shell
from opskit.core.errors import OpsError
from opskit.kube.kubectl import Kube
from opskit.manifests.kustomize import MONITORING_VALUES

if TYPE_CHECKING:
    from opskit.core.config import Config, Overlay

SERVICEMONITORS = "servicemonitors.monitoring.coreos.com"
INSTALL_HINT = "install it: `invoke monitoring.install`"


def values_file(cfg: Config) -> Path:
    path = cfg.root / MONITORING_VALUES
    if not path.is_file():
        raise OpsError(f"{path}: not found", "add the Helm values for kube-prometheus-stack")
    return path


def install_step(cfg: Config, kube: Kube) -> shell.Step:
    """`helm upgrade --install` of the pinned chart; idempotent, waits until ready."""
    mon = cfg.require_monitoring()
    argv = (
        "helm",
        "upgrade",
        "--install",
        mon.release,
        mon.chart,
        "--repo",
        mon.repo_url,
        "--version",
        mon.version,
        "--namespace",
        mon.namespace,
        "--create-namespace",
        "-f",
        values_file(cfg).relative_to(cfg.root).as_posix(),
        "--wait",
        "--timeout",
        "10m",
        "--kubeconfig",
        str(kube.kubeconfig),
        "--kube-context",
        kube.context,
    )
    return shell.Step(
        argv=argv,
        what=f"{mon.chart} {mon.version}",
        mutates=True,
        timeout=660,
        cwd=str(cfg.root),
        hint="helm fetches the chart from its repository: check network access",
    )


def install(cfg: Config, kube: Kube, dry_run: bool = False) -> shell.Step:
    """Install or upgrade Prometheus; returns the step run."""
    step = install_step(cfg, kube)
    shell.run_step(step, dry_run=dry_run)
    return step


@dataclass(frozen=True)
class Check:
    what: str
    ok: bool
    detail: str

    def line(self) -> str:
        return f"{'ok' if self.ok else 'MISSING':8} {self.what}: {self.detail}"


def servicemonitors_served(kube: Kube) -> bool:
    """Whether the cluster serves the ServiceMonitor kind (the operator's CRDs exist)."""
    from opskit.gitops.argocd import crd_served

    return crd_served(kube, SERVICEMONITORS)


def servicemonitor_names(kube: Kube, namespace: str) -> list[str]:
    result = kube.run(
        "get",
        SERVICEMONITORS,
        "-n",
        namespace,
        "-o",
        "jsonpath={.items[*].metadata.name}",
        timeout=30,
    )
    return result.stdout.split()


def release_state(cfg: Config, kube: Kube) -> str:
    """Helm's record of the release (labels of its storage Secrets, never their data)."""
    mon = cfg.require_monitoring()
    template = '{range .items[*]}{.metadata.labels.version} {.metadata.labels.status}{"\\n"}{end}'
    result = kube.run(
        "get",
        "secrets",
        "-n",
        mon.namespace,
        "-l",
        f"owner=helm,name={mon.release}",
        "-o",
        f"jsonpath={template}",
        check=False,
        timeout=30,
    )
    records = sorted(
        (line.split() for line in result.stdout.splitlines() if line.strip()),
        key=lambda rec: int(rec[0]) if rec[0].isdigit() else 0,
    )
    return f"revision {records[-1][0]} {records[-1][1]}" if records else ""


def status(cfg: Config, kube: Kube, overlays: list[Overlay]) -> list[Check]:
    """The Helm release, the Prometheus Operator's CRDs and each overlay's ServiceMonitor."""
    mon = cfg.require_monitoring()
    state = release_state(cfg, kube)
    checks = [
        Check(
            f"helm release {mon.release} ({mon.chart} {mon.version})",
            state.endswith("deployed"),
            state or f"absent; {INSTALL_HINT}",
        )
    ]
    served = servicemonitors_served(kube)
    checks.append(
        Check("ServiceMonitor API", served, "served" if served else f"not served; {INSTALL_HINT}")
    )
    if served:
        for ov in overlays:
            names = servicemonitor_names(kube, ov.namespace)
            checks.append(
                Check(
                    f"ServiceMonitor in {ov.namespace}",
                    bool(names),
                    ", ".join(names) or f"none; `invoke deploy --overlay={ov.name}`",
                )
            )
    return checks
