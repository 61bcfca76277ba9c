"""ArgoCD: install it (local processes on the embedded cluster), bootstrap, status, wait, sync."""

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

REVISION_HELP = "commit (SHA, branch or tag) to wait for (default: HEAD)"
TIMEOUT_HELP = "seconds to wait for Synced+Healthy (default: 180)"


@task(help={"context": CONTEXT_HELP, "dry_run": DRY_RUN_HELP})
@opskit_task
def install(c, context=None, dry_run=False):
    """Install the pinned ArgoCD with KSOPS (its upstream manifests; local processes where no
    container runs)."""
    from opskit.gitops import argocd

    cfg = load_config(c)
    argo = cfg.require_argocd()  # before reaching any cluster
    changed = argocd.install(cfg, connect(cfg, None, context), dry_run=dry_run, report=say)
    if dry_run:
        return say("dry run: nothing was changed")
    state = "installed" if changed else "already installed"
    say(f"ArgoCD {argo.version} {state} in namespace {argo.namespace}")


@task(help={"context": CONTEXT_HELP, "dry_run": DRY_RUN_HELP})
@opskit_task
def bootstrap(c, context=None, dry_run=False):
    """Apply the app-of-apps root Application (k8s/argocd/root.yaml); git does the rest."""
    from opskit.gitops import argocd

    cfg = load_config(c)
    name = argocd.bootstrap(cfg, connect(cfg, None, context), dry_run=dry_run, report=say)
    if dry_run:
        return say("dry run: nothing was changed")
    say(f"root Application {name} applied in namespace {cfg.require_argocd().namespace}")


@task(
    default=True,
    help={
        "json": "print a JSON list, one object per Application (stable keys)",
        "context": CONTEXT_HELP,
    },
)
@opskit_task
def status(c, json=False, context=None):
    """Print revision, sync, health and last operation of every ArgoCD Application."""
    import json as jsonlib

    from opskit.gitops import argocd

    cfg = load_config(c)
    rows = argocd.states(cfg, connect(cfg, None, context).kube)
    if json:
        print(jsonlib.dumps([row.as_json() for row in rows], indent=1, sort_keys=True))
    else:
        print(argocd.table(rows))


@task(
    help={
        "overlay": OVERLAY_HELP,
        "revision": REVISION_HELP,
        "timeout": TIMEOUT_HELP,
        "context": CONTEXT_HELP,
    },
)
@opskit_task
def wait(c, overlay="dev", revision="HEAD", timeout="180", context=None):
    """Wait until the overlay's Application is Synced and Healthy at a commit."""
    import time

    from opskit.core import args
    from opskit.gitops import argocd, wait

    cfg = load_config(c)
    seconds = args.seconds(timeout, "--timeout")
    ov = cfg.overlay(overlay)
    app = argocd.application_for(cfg, ov)["metadata"]["name"]
    sha = wait.commit_of(cfg.root, revision)
    kube = connect(cfg, ov, context).kube  # ArgoCD absent: the first read says so
    started = time.monotonic()
    say(f"waiting for {app} to be Synced+Healthy at {sha[:12]} (timeout {timeout}s)")
    wait.wait(kube, cfg.require_argocd().namespace, app, sha, seconds, report=say)
    say(f"{app} Synced+Healthy at {sha[:12]} after {time.monotonic() - started:.1f}s")


@task(help={"overlay": OVERLAY_HELP, "context": CONTEXT_HELP, "dry_run": DRY_RUN_HELP})
@opskit_task
def sync(c, overlay="dev", context=None, dry_run=False):
    """Ask ArgoCD to sync the overlay's Application now (an `operation` patch, no CLI)."""
    from opskit.gitops import argocd

    cfg = load_config(c)
    ov = cfg.overlay(overlay)
    name = argocd.sync(cfg, connect(cfg, ov, context).kube, ov, dry_run=dry_run)
    if dry_run:
        return say("dry run: nothing was changed")
    say(f"sync of {name} requested; follow it with `invoke argocd.status`")
