"""Build the pinned Go tools (tools/ go modules) into .tools/bin."""

from invoke import task

from opskit.tasks._common import DRY_RUN_HELP, load_config, opskit_task, say


@task(
    default=True,
    help={
        "only": "build just this tool (repeatable), e.g. --only=kwokctl",
        "force": "rebuild even when the stamp says the tool is up to date",
        "dry_run": DRY_RUN_HELP,
    },
    iterable=["only"],
)
@opskit_task
def install(c, only=None, force=False, dry_run=False):
    """Build the pinned kube-apiserver & co, etcd, kwok, kwokctl and sops (incremental)."""
    import time

    from opskit.toolchain import build

    started = time.monotonic()
    outcomes = build.install(
        load_config(c).tool_pins(), tuple(only or ()), force, report=say, dry_run=dry_run
    )
    fresh = [o for o in outcomes if o.action != "up to date"]
    if not fresh:
        say(f"all {len(outcomes)} tools up to date in .tools/bin")
    else:
        summary = ", ".join(f"{o.name} {o.action}" for o in fresh)
        say(f"done in {time.monotonic() - started:.1f}s: {summary}")
