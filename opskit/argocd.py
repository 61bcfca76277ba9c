"""ArgoCD through kubectl only: install the pinned upstream manifest, bootstrap the
AppProject and an overlay's Application from k8s/argocd, read their status, trigger a sync.

No argocd CLI: an Application is a Kubernetes object, and a sync is an `operation` written
into it (what `argocd app sync` does through the API server).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from opskit import shell
from opskit.errors import OpsError
from opskit.kube import FIELD_MANAGER, Kube

MANIFESTS_DIR = Path("k8s") / "argocd"
INSTALL_URL = "https://raw.githubusercontent.com/argoproj/argo-cd/{version}/manifests/install.yaml"
APPLICATIONS = "applications.argoproj.io"
NOT_INSTALLED_HINT = "install it first: `invoke argocd.install`"


def install_url(version: str) -> str:
    """The upstream install manifest of exactly this ArgoCD release."""
    return INSTALL_URL.format(version=version)


def namespace_manifest(namespace: str) -> str:
    return json.dumps({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}})


def install_steps(cfg: Any, kube: Kube) -> list[shell.Step]:
    """Namespace, then the pinned manifest (server-side: its CRDs exceed the annotation
    limit of client-side apply), then wait until every ArgoCD Deployment is available."""
    ns = cfg.argocd.namespace
    return [
        kube.step(
            "apply",
            "--server-side",
            f"--field-manager={FIELD_MANAGER}",
            "-f",
            "-",
            what=f"namespace {ns}",
            stdin=namespace_manifest(ns),
            mutates=True,
        ),
        kube.step(
            "apply",
            "--server-side",
            "--force-conflicts",
            f"--field-manager={FIELD_MANAGER}",
            "-n",
            ns,
            "-f",
            install_url(cfg.argocd.version),
            what=f"ArgoCD {cfg.argocd.version}",
            mutates=True,
            timeout=300,
            hint="the manifest is fetched from GitHub: check network access",
        ),
        kube.step(
            "wait",
            "-n",
            ns,
            "--for=condition=Available",
            "deployment",
            "--all",
            "--timeout=300s",
            what="ArgoCD available",
            mutates=True,
            timeout=320,
        ),
    ]


def install(cfg: Any, kube: Kube, dry_run: bool = False) -> list[shell.Step]:
    """Install (or upgrade to) the pinned ArgoCD; idempotent. Returns the steps run."""
    steps = install_steps(cfg, kube)
    for step in steps:
        shell.run_step(step, dry_run=dry_run)
    return steps


# --- manifests in k8s/argocd ------------------------------------------------------------


def load_manifests(root: Path) -> list[dict]:
    """Every object in k8s/argocd/*.yaml (any file layout), in file order."""
    from opskit import yamlio

    folder = root / MANIFESTS_DIR
    if not folder.is_dir():
        raise OpsError(f"{folder}: not found", "add the AppProject and Applications there")
    docs: list[dict] = []
    for file in sorted(folder.rglob("*.yaml")):
        if file.name == "kustomization.yaml":
            continue
        docs += [d for d in yamlio.load_file_all(file) if isinstance(d, dict)]
    return docs


def application_for(cfg: Any, overlay: Any) -> dict:
    """The Application in k8s/argocd whose source path is the overlay's folder."""
    wanted = overlay.path.relative_to(cfg.root).as_posix()
    apps = [d for d in load_manifests(cfg.root) if d.get("kind") == "Application"]
    for app in apps:
        if wanted in source_paths(app):
            return app
    known = ", ".join(sorted(a["metadata"]["name"] for a in apps)) or "none"
    raise OpsError(
        f"{MANIFESTS_DIR}: no Application has source path {wanted} (Applications: {known})",
        f"add one for overlay {overlay.name} with `spec.source.path: {wanted}`",
    )


def source_paths(app: dict) -> list[str]:
    """The repository paths an Application renders (single `source` or multi `sources`)."""
    spec = app.get("spec") or {}
    sources = spec.get("sources") or [spec.get("source") or {}]
    return [str(source.get("path", "")).strip("/") for source in sources]


def bootstrap_objects(cfg: Any, overlay: Any) -> list[dict]:
    """The AppProject(s) and the overlay's Application, in the ArgoCD namespace."""
    projects = [d for d in load_manifests(cfg.root) if d.get("kind") == "AppProject"]
    if not projects:
        raise OpsError(f"{MANIFESTS_DIR}: no AppProject found", "add k8s/argocd/project.yaml")
    objects = [*projects, application_for(cfg, overlay)]
    for obj in objects:
        obj.setdefault("metadata", {})["namespace"] = cfg.argocd.namespace
    return objects


def crd_served(kube: Kube, crd: str) -> bool:
    """Whether the cluster serves a CustomResourceDefinition; an unreachable cluster is an
    error, not a "no"."""
    result = kube.run("get", "crd", crd, "-o", "name", check=False, timeout=30)
    if result.returncode != 0 and "NotFound" not in result.stderr:
        last = result.stderr.strip().splitlines()[-1:] or ["no answer"]
        raise OpsError(
            f"cannot read the cluster at context {kube.context}: {last[0]}",
            "is it running? (`invoke cluster.status`, `invoke cluster.up`)",
        )
    return result.returncode == 0


def require_installed(kube: Kube) -> None:
    """ArgoCD's CRDs are served, else an actionable error before anything is applied."""
    if not crd_served(kube, APPLICATIONS):
        raise OpsError(
            "ArgoCD is not installed in this cluster (no Application CRD)", NOT_INSTALLED_HINT
        )


def bootstrap_step(cfg: Any, kube: Kube, overlay: Any) -> shell.Step:
    objects = bootstrap_objects(cfg, overlay)
    document = json.dumps({"apiVersion": "v1", "kind": "List", "items": objects}, indent=1)
    return kube.step(
        "apply",
        "--server-side",
        f"--field-manager={FIELD_MANAGER}",
        "-n",
        cfg.argocd.namespace,
        "-f",
        "-",
        stdin=document,
        mutates=True,
        what=f"ArgoCD project + application for {overlay.name}",
    )


def bootstrap(cfg: Any, kube: Kube, overlay: Any, dry_run: bool = False) -> str:
    """Apply the AppProject and the overlay's Application; returns the Application name."""
    step = bootstrap_step(cfg, kube, overlay)  # built first: a bad manifest stops here
    require_installed(kube)
    shell.run_step(step, dry_run=dry_run)
    return application_for(cfg, overlay)["metadata"]["name"]


# --- status and sync --------------------------------------------------------------------


@dataclass(frozen=True)
class AppStatus:
    name: str
    sync: str
    health: str
    revision: str
    operation: str

    @classmethod
    def from_object(cls, obj: dict) -> AppStatus:
        status = obj.get("status") or {}
        sync = status.get("sync") or {}
        operation = (status.get("operationState") or {}).get("phase", "")
        if obj.get("operation"):
            operation = "Requested"
        return cls(
            name=obj["metadata"]["name"],
            sync=sync.get("status", "Unknown"),
            health=(status.get("health") or {}).get("status", "Unknown"),
            revision=str(sync.get("revision") or (sync.get("revisions") or [""])[0])[:12] or "-",
            operation=operation or "-",
        )


def status(cfg: Any, kube: Kube) -> list[AppStatus]:
    """Sync and health of every Application in the ArgoCD namespace."""
    require_installed(kube)
    data = kube.json("get", APPLICATIONS, "-n", cfg.argocd.namespace, timeout=30)
    return [AppStatus.from_object(item) for item in data.get("items", [])]


def table(rows: list[AppStatus]) -> str:
    """A fixed-width table, one Application per line."""
    header = ("APPLICATION", "SYNC", "HEALTH", "REVISION", "OPERATION")
    lines = [header, *((r.name, r.sync, r.health, r.revision, r.operation) for r in rows)]
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    return "\n".join(
        "  ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)).rstrip() for line in lines
    )


def sync_operation() -> dict:
    """The `operation` the ArgoCD controller picks up as a sync request: no revision, so
    it syncs each source's targetRevision (single- and multi-source Applications alike)."""
    return {
        "operation": {
            "initiatedBy": {"username": FIELD_MANAGER},
            "sync": {"syncStrategy": {"hook": {}}},
        }
    }


def sync_step(cfg: Any, kube: Kube, overlay: Any) -> shell.Step:
    name = application_for(cfg, overlay)["metadata"]["name"]
    patch = json.dumps(sync_operation(), separators=(",", ":"))
    return kube.step(
        "patch", APPLICATIONS, name, "-n", cfg.argocd.namespace, "--type", "merge", "-p", patch,
        what=f"sync {name}", mutates=True, timeout=30,
        hint=f"bootstrap it first: `invoke argocd.bootstrap --overlay={overlay.name}`",
    )  # fmt: skip


def sync(cfg: Any, kube: Kube, overlay: Any, dry_run: bool = False) -> str:
    """Ask the ArgoCD controller to sync the overlay's Application; returns its name."""
    step = sync_step(cfg, kube, overlay)
    require_installed(kube)
    shell.run_step(step, dry_run=dry_run)
    return step.argv[step.argv.index(APPLICATIONS) + 1]
