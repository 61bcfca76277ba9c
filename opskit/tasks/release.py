"""Release: pin an overlay's image tag to HEAD in git, the change ArgoCD follows."""

from invoke import task

from opskit.tasks._common import (
    DRY_RUN_HELP,
    OVERLAY_HELP,
    connect,
    load_config,
    opskit_task,
    say,
)


@task(
    help={
        "overlay": OVERLAY_HELP,
        "push": "also push the release commit (default: print the push command)",
        "watch": "wait until ArgoCD has it Synced+Healthy; on Degraded or timeout revert it "
        "in git (pushed like the release) and exit 1",
        "timeout": "seconds --watch waits for Healthy (default: 180)",
        "dry_run": DRY_RUN_HELP,
    }
)
@opskit_task
def release(c, overlay="dev", push=False, watch=False, timeout="180", dry_run=False):
    """Commit the overlay's image tag pinned to HEAD (`chore(release): ...`); push with --push."""
    from opskit.core import args
    from opskit.gitops import release

    wait = args.seconds(timeout, "--timeout")  # a bad number: one line, before anything
    cfg = load_config(c)
    watching = _prepare_watch(cfg, overlay, wait) if watch and not dry_run else None
    result = release.release(cfg, overlay, push=push, dry_run=dry_run)
    if not result.changed:
        return say(
            f"nothing new to release: {result.overlay} already pins {result.image} "
            f"(commit {result.commit[:12]})"
        )
    elif not dry_run:
        say(f"committed `{result.message}`")
    if result.pushed:
        say("pushed" if not dry_run else "push skipped (dry run)")
    else:
        say(f"to deploy it through ArgoCD, push: {result.push_command()}")
    if watching is not None:
        _follow(cfg, watching, result)
    elif not dry_run:
        _ask_argocd(cfg, overlay, result)


def _ask_argocd(cfg, overlay, result):
    from opskit.gitops import argocd

    if app := argocd.ask_to_read(cfg, cfg.overlay(overlay), result.pushed):
        say(f"asked ArgoCD to read it now ({app}); follow it: `invoke argocd.wait -o {overlay}`")


def _prepare_watch(cfg, overlay, timeout):
    from opskit.gitops import watch

    ov = cfg.overlay(overlay)
    return watch.prepare(cfg, connect(cfg, ov, None).kube, ov, timeout)


def _follow(cfg, watching, result):
    import time

    from opskit.gitops import watch

    started = time.monotonic()
    state = watch.watch_release(watching, cfg.root, result, report=say)
    say(
        f"{state.name} Synced+Healthy at {state.revision[:12]} after "
        f"{time.monotonic() - started:.1f}s"
    )
