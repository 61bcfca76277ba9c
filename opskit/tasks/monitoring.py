"""Prometheus: kube-prometheus-stack through Helm on k3d/minikube; on the embedded cluster's
real node, prometheus-operator and Prometheus as pods from images built here."""

from invoke import task

from opskit.tasks._common import CONTEXT_HELP, DRY_RUN_HELP, connect, load_config, opskit_task, say


def _real_node(target) -> bool:
    return target.cluster is not None and target.cluster.has_real_node()


@task(help={"context": CONTEXT_HELP, "dry_run": DRY_RUN_HELP})
@opskit_task
def install(c, context=None, dry_run=False):
    """Install or upgrade Prometheus at the pinned versions and wait until it is ready."""
    from opskit.gitops import monitoring

    cfg = load_config(c)
    mon = cfg.require_monitoring()  # before reaching any cluster
    target = connect(cfg, None, context)
    if _real_node(target):
        from opskit.platform import monitoring as on_node

        on_node.install(cfg, target, report=say, dry_run=dry_run)
        if dry_run:
            return say("dry run: nothing was changed")
        pins = cfg.tool_pins()
        return say(
            f"prometheus-operator {pins['prometheus-operator']} and Prometheus "
            f"{on_node.prometheus_version(cfg)} run in namespace {mon.namespace}"
        )
    monitoring.install(cfg, target.kube, dry_run=dry_run)
    if dry_run:
        return say("dry run: nothing was changed")
    say(f"{mon.chart} {mon.version} is release {mon.release} in namespace {mon.namespace}")


@task(default=True, help={"context": CONTEXT_HELP})
@opskit_task
def status(c, context=None):
    """Report the installation, the ServiceMonitor API, each overlay's ServiceMonitors and,
    on the real node, Prometheus's scrape targets and their health."""
    from invoke import Exit

    from opskit.gitops import monitoring

    cfg = load_config(c)
    target = connect(cfg, None, context)
    overlays = list(cfg.overlays.values())
    if _real_node(target):
        from opskit.platform import monitoring as on_node

        checks = on_node.status(cfg, target.kube, overlays)
    else:
        checks = monitoring.status(cfg, target.kube, overlays)
    for check in checks:
        print(check.line())
    if not all(check.ok for check in checks):
        raise Exit(code=1)
