"""Release: pin an overlay's image tag to HEAD in git, the change ArgoCD follows."""

from invoke import task

from opskit.tasks._common import DRY_RUN_HELP, OVERLAY_HELP, load_config, opskit_task, say


@task(
    help={
        "overlay": OVERLAY_HELP,
        "push": "also push the release commit (default: print the push command)",
        "dry_run": DRY_RUN_HELP,
    }
)
@opskit_task
def release(c, overlay="dev", push=False, dry_run=False):
    """Commit the overlay's image tag pinned to HEAD (`chore(release): ...`); push with --push."""
    from opskit import release as releasing

    result = releasing.release(load_config(c), overlay, push=push, dry_run=dry_run)
    if not result.changed:
        say(f"{result.overlay} already pins {result.image}: nothing to commit")
    elif not dry_run:
        say(f"committed `{result.message}`")
    if result.pushed:
        say("pushed" if not dry_run else "push skipped (dry run)")
    else:
        say(f"to deploy it through ArgoCD, push: {result.push_command()}")
