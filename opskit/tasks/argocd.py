"""ArgoCD: install it (local processes on the embedded cluster), bootstrap, status, wait, sync."""

from invoke import task

from opskit.tasks._common import DRY_RUN_HELP, OVERLAY_HELP, load_config, opskit_task, say

REVISION_HELP = "commit (SHA, branch or tag) to wait for (default: HEAD)"
TIMEOUT_HELP = "seconds to wait for Synced+Healthy (default: 180)"


def _target(cfg, overlay=None):
    """The configured cluster (kubectl bound to it), refused unless the overlay allows
    its context."""
    from types import SimpleNamespace

    from opskit import clusters
    from opskit.errors import OpsError

    cluster = clusters.current(cfg)
    if overlay is not None and cluster.context not in overlay.contexts:
        raise OpsError(
            f"overlay {overlay.name} may not go to context {cluster.context} "
            f"(allowed: {', '.join(overlay.contexts)})",
            f"add it to overlays.{overlay.name}.contexts in opskit.yaml",
        )
    return SimpleNamespace(kube=cluster.kube(), cluster=cluster,
                           runs_containers=cluster.runs_containers)  # fmt: skip


@task(help={"dry_run": DRY_RUN_HELP})
@opskit_task
def install(c, dry_run=False):
    """Install the pinned ArgoCD with KSOPS-compatible secrets (local processes on kwok)."""
    from opskit import argocd

    cfg = load_config(c)
    changed = argocd.install(cfg, _target(cfg), dry_run=dry_run, report=say)
    if dry_run:
        return say("dry run: nothing was changed")
    state = "installed" if changed else "already installed"
    say(f"ArgoCD {cfg.argocd.version} {state} in namespace {cfg.argocd.namespace}")


@task(help={"dry_run": DRY_RUN_HELP})
@opskit_task
def bootstrap(c, dry_run=False):
    """Apply the app-of-apps root Application (k8s/argocd/root.yaml); git does the rest."""
    from opskit import argocd

    cfg = load_config(c)
    name = argocd.bootstrap(cfg, _target(cfg), dry_run=dry_run)
    if dry_run:
        return say("dry run: nothing was changed")
    say(f"root Application {name} applied in namespace {cfg.argocd.namespace}")


@task(default=True, help={"json": "print one JSON object per Application (stable keys)"})
@opskit_task
def status(c, json=False):
    """Print revision, sync, health and last operation of every ArgoCD Application."""
    import json as jsonlib

    from opskit import argocd

    cfg = load_config(c)
    rows = argocd.states(cfg, _target(cfg).kube)
    if json:
        print(jsonlib.dumps([row.as_json() for row in rows], indent=1, sort_keys=True))
    else:
        print(argocd.table(rows))


@task(help={"overlay": OVERLAY_HELP, "revision": REVISION_HELP, "timeout": TIMEOUT_HELP})
@opskit_task
def wait(c, overlay="dev", revision="HEAD", timeout=180):
    """Wait until the overlay's Application is Synced and Healthy at a commit."""
    import time

    from opskit import argocd, argocd_wait

    cfg = load_config(c)
    ov = cfg.overlay(overlay)
    app = argocd.application_for(cfg, ov)["metadata"]["name"]
    sha = argocd_wait.commit_of(cfg.root, revision)
    kube = _target(cfg, ov).kube
    argocd.require_installed(kube)
    started = time.monotonic()
    say(f"waiting for {app} to be Synced+Healthy at {sha[:12]} (timeout {timeout}s)")
    argocd_wait.wait(kube, cfg.argocd.namespace, app, sha, float(timeout), report=say)
    say(f"{app} Synced+Healthy at {sha[:12]} after {time.monotonic() - started:.1f}s")


@task(help={"overlay": OVERLAY_HELP, "dry_run": DRY_RUN_HELP})
@opskit_task
def sync(c, overlay="dev", dry_run=False):
    """Ask ArgoCD to sync the overlay's Application now (an `operation` patch, no CLI)."""
    from opskit import argocd

    cfg = load_config(c)
    ov = cfg.overlay(overlay)
    name = argocd.sync(cfg, _target(cfg, ov).kube, ov, dry_run=dry_run)
    if dry_run:
        return say("dry run: nothing was changed")
    say(f"sync of {name} requested; follow it with `invoke argocd.status`")
