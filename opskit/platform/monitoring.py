"""Prometheus on the embedded cluster's real node: prometheus-operator's upstream manifests
at the pinned release (k8s/monitoring/real-node) and its CRDs from the pinned binary, images
built here and substituted by name; one Prometheus that scrapes every ServiceMonitor.
k3d/minikube install kube-prometheus-stack through Helm instead (opskit.gitops.monitoring):
the same operator and CRD kinds, the same selectors, another installer."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from opskit.core import shell
from opskit.core.errors import OpsError
from opskit.kube.kubectl import server_side_apply
from opskit.platform import images, pods

if TYPE_CHECKING:
    from opskit.clusters.connect import Connection
    from opskit.core.config import Config
    from opskit.kube.kubectl import Kube

MANIFESTS = Path("k8s") / "monitoring" / "real-node"
PROMETHEUS_NAME = "k8s"  # the Prometheus object: pods prometheus-k8s-N
OPERATOR = "deployment/prometheus-operator"
STATEFULSET = f"statefulset/prometheus-{PROMETHEUS_NAME}"
SELECTOR = "app.kubernetes.io/name in (prometheus-operator,prometheus)"
API = "services/prometheus-operated:web/proxy/api/v1"  # through the API server's proxy


def namespace(cfg: Config) -> str:
    return cfg.require_monitoring().namespace


def image_names(cfg: Config, report, dry_run: bool = False) -> dict[str, str]:
    """upstream repository -> the image built here, for the pinned binaries."""
    from opskit.toolchain.build import prometheus_release

    pins = cfg.tool_pins()
    release, operator = prometheus_release(pins["prometheus"]), pins["prometheus-operator"]
    return {
        images.PROMETHEUS.upstream: images.ensure(images.PROMETHEUS, release, report, dry_run),
        images.OPERATOR.upstream: images.ensure(images.OPERATOR, operator, report, dry_run),
        images.RELOADER.upstream: images.ensure(images.RELOADER, operator, report, dry_run),
    }


def render(cfg: Config, names: dict[str, str]) -> list[dict]:
    """k8s/monitoring/real-node rendered, images substituted by name."""
    from opskit.manifests import kustomize

    text = shell.run_step(kustomize.render_step(cfg.root / MANIFESTS)).stdout
    objects = kustomize.load_documents(text, str(MANIFESTS))
    ns = namespace(cfg)
    wrong = [o for o in objects if o.get("kind") == "Namespace" and o["metadata"]["name"] != ns]
    if wrong:
        raise OpsError(
            f"{MANIFESTS} installs into namespace {wrong[0]['metadata']['name']}, "
            f"opskit.yaml monitoring.namespace is {ns}",
            "make them agree (the overlays' NetworkPolicies name the namespace too)",
        )
    return images.substitute(objects, names)


def crds_step() -> shell.Step:
    """The pinned operator's own CRDs (`operator crds`, embedded in the binary)."""
    return shell.Step(argv=("prometheus-operator", "crds"), what="prometheus-operator CRDs")


def install(cfg: Config, target: Connection, report, dry_run: bool = False) -> None:
    """Build and load the images, apply the CRDs and the manifests, replace crash-looping
    pods, and wait until the operator and Prometheus are ready."""
    from opskit.manifests.kustomize import dump

    kube, cluster = target.kube, target.cluster
    names = image_names(cfg, report, dry_run)
    objects = render(cfg, names)
    for name in names.values():
        report(f"{'would load' if dry_run else 'loading'} {name} into the real node")
        if not dry_run and cluster is not None:
            cluster.load_image(name)
    crds = shell.run_step(crds_step()).stdout
    apply = server_side_apply()
    kube.run(*apply, stdin=crds, mutates=True, dry_run=dry_run, timeout=120)
    if dry_run:
        kube.run(*apply, stdin=dump(objects), mutates=True, dry_run=True)
        return
    established = [f"crd/{name}" for name in _crd_names(crds)]
    kube.run("wait", "--for=condition=Established", *established, "--timeout=60s", timeout=90)
    kube.run(*apply, stdin=dump(objects), mutates=True, timeout=120)
    ns = namespace(cfg)
    pods.replace_broken(kube, ns, SELECTOR, report)
    report(f"waiting for prometheus-operator and Prometheus in {ns}")
    pods.wait_ready(kube, ns, [OPERATOR], SELECTOR, report)
    _wait_reconciled(kube, ns)
    _wait_statefulset(kube, ns, report)


def _crd_names(text: str) -> list[str]:
    """The CRDs' names (read by pattern: their schemas hold a bare `=`, which the suite's
    strict YAML loader refuses; kubectl reads them as YAML 1.2)."""
    import re

    return re.findall(r"^  name: (\S+\.monitoring\.coreos\.com)$", text, re.MULTILINE)


def _wait_reconciled(kube: Kube, ns: str, seconds: float = 90.0) -> None:
    """Until the operator has reconciled the current generation of the Prometheus object
    (its StatefulSet then holds the current spec). A first install waits for the operator."""
    import time

    started = time.monotonic()
    prometheus = f"prometheus/{PROMETHEUS_NAME}"
    while True:
        obj = kube.json("get", prometheus, "-n", ns, timeout=30)
        generation = obj["metadata"].get("generation")
        conditions = (obj.get("status") or {}).get("conditions") or []
        if any(
            c.get("type") == "Reconciled" and c.get("observedGeneration") == generation
            for c in conditions
        ):
            return
        if time.monotonic() - started > seconds:
            raise OpsError(
                f"prometheus-operator did not reconcile {prometheus} in {ns} within {seconds:.0f}s",
                f"`kubectl -n {ns} logs {OPERATOR}`",
            )
        time.sleep(1)


def _wait_statefulset(kube: Kube, ns: str, report) -> None:
    """The operator creates the StatefulSet: wait for it to exist, then to be ready."""
    import time

    started = time.monotonic()
    while kube.run("get", STATEFULSET, "-n", ns, check=False, timeout=30).returncode != 0:
        if time.monotonic() - started > 60:
            raise OpsError(
                f"prometheus-operator created no {STATEFULSET} in {ns} within 60s",
                f"`kubectl -n {ns} logs {OPERATOR}`",
            )
        time.sleep(1)
    pods.wait_ready(kube, ns, [STATEFULSET], SELECTOR, report)


@dataclass(frozen=True)
class Target:
    """One scrape target as Prometheus reports it."""

    job: str
    url: str
    health: str
    error: str

    @property
    def ok(self) -> bool:
        return self.health == "up"


def targets(kube: Kube, ns: str) -> list[Target]:
    data = _api(kube, ns, "targets?state=active")
    return sorted(
        (
            Target(
                t.get("labels", {}).get("job", "") or t.get("scrapePool", ""),
                t.get("scrapeUrl", ""),
                t.get("health", "unknown"),
                t.get("lastError", ""),
            )
            for t in data.get("activeTargets", [])
        ),
        key=lambda t: (t.job, t.url),
    )


def query(kube: Kube, ns: str, promql: str) -> list[dict]:
    """An instant query's result vector."""
    from urllib.parse import quote

    return _api(kube, ns, f"query?query={quote(promql)}").get("result", [])


def _api(kube: Kube, ns: str, path: str) -> dict:
    result = kube.run("get", "--raw", f"/api/v1/namespaces/{ns}/{API}/{path}", timeout=30)
    body = json.loads(result.stdout or "{}")
    if body.get("status") != "success":
        raise OpsError(f"Prometheus answered {body.get('status')}: {body.get('error')}")
    return body.get("data") or {}


def prometheus_version(cfg: Config) -> str:
    from opskit.toolchain.build import prometheus_release

    return f"v{prometheus_release(cfg.tool_pins()['prometheus'])}"


def status(cfg: Config, kube: Kube, overlays: list) -> list:
    """The operator and Prometheus workloads, the ServiceMonitor API and each overlay's
    ServiceMonitors (as on k3d/minikube), then every scrape target with its health."""
    from opskit.gitops.monitoring import Check, servicemonitor_names, servicemonitors_served

    ns = namespace(cfg)
    checks = [_workload_check(kube, ns, OPERATOR), _workload_check(kube, ns, STATEFULSET)]
    served = servicemonitors_served(kube)
    hint = "install it: `invoke monitoring.install`"
    checks.append(
        Check("ServiceMonitor API", served, "served" if served else f"not served; {hint}")
    )
    if not served:
        return checks
    for ov in overlays:
        names = servicemonitor_names(kube, ov.namespace)
        detail = ", ".join(names) or f"none; `invoke deploy --overlay={ov.name}`"
        checks.append(Check(f"ServiceMonitor in {ov.namespace}", bool(names), detail))
    if not checks[1].ok:
        return checks
    for t in targets(kube, ns):
        detail = t.health + (f" ({t.error})" if t.error else "")
        checks.append(Check(f"target {t.job} {t.url}", t.ok, detail))
    return checks


def _workload_check(kube: Kube, ns: str, workload: str):
    from opskit.gitops.monitoring import Check

    result = kube.run("get", workload, "-n", ns, "-o", "json", check=False, timeout=30)
    if result.returncode != 0:
        return Check(workload, False, "absent; install it: `invoke monitoring.install`")
    obj = json.loads(result.stdout)
    st = obj.get("status") or {}
    detail = f"{st.get('readyReplicas', 0)}/{obj['spec'].get('replicas', 1)} ready"
    return Check(workload, pods.workload_ready(obj), detail)
