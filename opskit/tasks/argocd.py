"""ArgoCD through kubectl: install it, bootstrap an overlay's Application, status, sync."""

from invoke import task

from opskit.tasks._common import (
    DRY_RUN_HELP,
    OVERLAY_HELP,
    cluster_kube,
    load_config,
    opskit_task,
    say,
)


@task(help={"dry_run": DRY_RUN_HELP})
@opskit_task
def install(c, dry_run=False):
    """Install the pinned ArgoCD release (upstream manifest, server-side apply) and wait."""
    from opskit import argocd

    cfg = load_config(c)
    argocd.install(cfg, cluster_kube(cfg))
    if dry_run:
        return say("dry run: nothing was changed")
    say(f"ArgoCD {cfg.argocd.version} installed in namespace {cfg.argocd.namespace}")


@task(help={"overlay": OVERLAY_HELP, "dry_run": DRY_RUN_HELP})
@opskit_task
def bootstrap(c, overlay="dev", dry_run=False):
    """Apply the AppProject and the overlay's Application from k8s/argocd."""
    from opskit import argocd

    cfg = load_config(c)
    name = argocd.bootstrap(cfg, cluster_kube(cfg), cfg.overlay(overlay))
    if dry_run:
        return say("dry run: nothing was changed")
    say(f"Application {name} bootstrapped in namespace {cfg.argocd.namespace}")


@task(default=True)
@opskit_task
def status(c):
    """Print sync and health of every ArgoCD Application."""
    from opskit import argocd

    cfg = load_config(c)
    print(argocd.table(argocd.status(cfg, cluster_kube(cfg))))


@task(help={"overlay": OVERLAY_HELP, "dry_run": DRY_RUN_HELP})
@opskit_task
def sync(c, overlay="dev", dry_run=False):
    """Ask ArgoCD to sync the overlay's Application now (an `operation` patch, no CLI)."""
    from opskit import argocd

    cfg = load_config(c)
    name = argocd.sync(cfg, cluster_kube(cfg), cfg.overlay(overlay))
    if dry_run:
        return say("dry run: nothing was changed")
    say(f"sync of {name} requested; follow it with `invoke argocd.status`")
