"""ArgoCD through kubectl: install it, bootstrap an overlay's Application, status, sync."""

from invoke import task

from opskit.tasks._common import (
    CONTEXT_HELP,
    DRY_RUN_HELP,
    OVERLAY_HELP,
    connect,
    load_config,
    opskit_task,
    say,
)


@task(help={"context": CONTEXT_HELP, "dry_run": DRY_RUN_HELP})
@opskit_task
def install(c, context=None, dry_run=False):
    """Install the pinned ArgoCD release (upstream manifest, server-side apply) and wait."""
    from opskit import argocd

    cfg = load_config(c)
    argocd.install(cfg, connect(cfg, None, context).kube, dry_run=dry_run)
    if dry_run:
        return say("dry run: nothing was changed")
    say(f"ArgoCD {cfg.argocd.version} installed in namespace {cfg.argocd.namespace}")


@task(help={"overlay": OVERLAY_HELP, "context": CONTEXT_HELP, "dry_run": DRY_RUN_HELP})
@opskit_task
def bootstrap(c, overlay="dev", context=None, dry_run=False):
    """Apply the AppProject and the overlay's Application from k8s/argocd."""
    from opskit import argocd

    cfg = load_config(c)
    ov = cfg.overlay(overlay)
    name = argocd.bootstrap(cfg, connect(cfg, ov, context).kube, ov, dry_run=dry_run)
    if dry_run:
        return say("dry run: nothing was changed")
    say(f"Application {name} bootstrapped in namespace {cfg.argocd.namespace}")


@task(default=True, help={"context": CONTEXT_HELP})
@opskit_task
def status(c, context=None):
    """Print sync and health of every ArgoCD Application."""
    from opskit import argocd

    cfg = load_config(c)
    print(argocd.table(argocd.status(cfg, connect(cfg, None, context).kube)))


@task(help={"overlay": OVERLAY_HELP, "context": CONTEXT_HELP, "dry_run": DRY_RUN_HELP})
@opskit_task
def sync(c, overlay="dev", context=None, dry_run=False):
    """Ask ArgoCD to sync the overlay's Application now (an `operation` patch, no CLI)."""
    from opskit import argocd

    cfg = load_config(c)
    ov = cfg.overlay(overlay)
    name = argocd.sync(cfg, connect(cfg, ov, context).kube, ov, dry_run=dry_run)
    if dry_run:
        return say("dry run: nothing was changed")
    say(f"sync of {name} requested; follow it with `invoke argocd.status`")
