"""Prometheus (kube-prometheus-stack through Helm): install and status."""

from invoke import task

from opskit.tasks._common import CONTEXT_HELP, DRY_RUN_HELP, connect, load_config, opskit_task, say


@task(help={"context": CONTEXT_HELP, "dry_run": DRY_RUN_HELP})
@opskit_task
def install(c, context=None, dry_run=False):
    """Install or upgrade kube-prometheus-stack at the pinned chart version and wait."""
    from opskit.gitops import monitoring

    cfg = load_config(c)
    mon = cfg.require_monitoring()  # before reaching any cluster
    monitoring.install(cfg, connect(cfg, None, context).kube, dry_run=dry_run)
    if dry_run:
        return say("dry run: nothing was changed")
    say(f"{mon.chart} {mon.version} is release {mon.release} in namespace {mon.namespace}")


@task(default=True, help={"context": CONTEXT_HELP})
@opskit_task
def status(c, context=None):
    """Report the Helm release, the ServiceMonitor API and each overlay's ServiceMonitor."""
    from invoke import Exit

    from opskit.gitops import monitoring

    cfg = load_config(c)
    kube = connect(cfg, None, context).kube
    checks = monitoring.status(cfg, kube, list(cfg.overlays.values()))
    for check in checks:
        print(check.line())
    if not all(check.ok for check in checks):
        raise Exit(code=1)
