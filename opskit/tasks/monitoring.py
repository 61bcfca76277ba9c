"""Prometheus (kube-prometheus-stack through Helm): install and status."""

from invoke import task

from opskit.tasks._common import DRY_RUN_HELP, cluster_kube, load_config, opskit_task, say


@task(help={"dry_run": DRY_RUN_HELP})
@opskit_task
def install(c, dry_run=False):
    """Install or upgrade kube-prometheus-stack at the pinned chart version and wait."""
    from opskit import monitoring

    cfg = load_config(c)
    monitoring.install(cfg, cluster_kube(cfg))
    if dry_run:
        return say("dry run: nothing was changed")
    say(
        f"{cfg.monitoring.chart} {cfg.monitoring.version} is release "
        f"{cfg.monitoring.release} in namespace {cfg.monitoring.namespace}"
    )


@task(default=True)
@opskit_task
def status(c):
    """Report the Helm release, the ServiceMonitor API and each overlay's ServiceMonitor."""
    from invoke import Exit

    from opskit import monitoring

    cfg = load_config(c)
    checks = monitoring.status(cfg, cluster_kube(cfg), list(cfg.overlays.values()))
    for check in checks:
        print(check.line())
    if not all(check.ok for check in checks):
        raise Exit(code=1)
