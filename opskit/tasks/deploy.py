"""Deploy an overlay from the current commit, and roll a workload back."""

from invoke import task

from opskit.tasks._common import (
    CONTEXT_HELP,
    DRY_RUN_HELP,
    OVERLAY_HELP,
    load_config,
    opskit_task,
    say,
)


@task(
    help={
        "overlay": OVERLAY_HELP,
        "context": CONTEXT_HELP,
        "timeout": "seconds to wait for the rollout before rolling back (default 300)",
        "dry_run": DRY_RUN_HELP,
        "allow_dirty": "deploy uncommitted changes as <sha>-dirty-<hash> (not for protected)",
        "report": "write report.json and junit.xml to this folder (and a Markdown summary to "
        "$GITHUB_STEP_SUMMARY when set), also when the deploy fails",
    }
)
@opskit_task
def deploy(
    c, overlay="dev", context=None, timeout="300", dry_run=False, allow_dirty=False, report=None
):
    """Deploy an overlay: tag by HEAD, render, validate, apply, wait; restore on failure."""
    from opskit.core import args
    from opskit.deploy import pipeline
    from opskit.deploy.records import recorded
    from opskit.deploy.report import DeployRecord

    wait = args.seconds(timeout, "--timeout")
    with recorded(DeployRecord(overlay), report) as record:
        pipeline.deploy(
            load_config(c),
            overlay,
            context=context,
            timeout=wait,
            dry_run=dry_run,
            allow_dirty=allow_dirty,
            notify=say,
            record=record,
        )
    if report:
        say(f"report: {report}/report.json, {report}/junit.xml")


@task(
    help={
        "overlay": OVERLAY_HELP,
        "workload": "kind/name to roll back (default: deployment/<app name>)",
        "to_revision": "revision to return to (default: the previous one)",
        "context": CONTEXT_HELP,
        "timeout": "seconds to wait for the rollback to roll out (default 300)",
        "dry_run": DRY_RUN_HELP,
    }
)
@opskit_task
def rollback(
    c, overlay="dev", workload=None, to_revision=None, context=None, timeout="300", dry_run=False
):
    """Roll a workload back to its previous (or a given) revision and wait for it."""
    from opskit.core import args
    from opskit.deploy import rollback

    if workload is not None:
        workload = args.workload(workload, "--workload", ("deployment", "statefulset"))
    revision = args.revision(to_revision, "--to-revision")
    wait = args.seconds(timeout, "--timeout")
    cfg = load_config(c)
    rollback.rollback(
        cfg,
        overlay,
        workload=workload or f"deployment/{cfg.app.name}",
        to_revision=revision,
        context=context,
        timeout=wait,
        dry_run=dry_run,
        notify=say,
    )
