"""The Ingress controller of the embedded cluster's real node (Traefik): install and status.
k3d brings its own Traefik and minikube its ingress addon: there, these tasks say so."""

from invoke import task

from opskit.tasks._common import CONTEXT_HELP, DRY_RUN_HELP, connect, load_config, opskit_task, say


def _real_node_target(cfg, context):
    from opskit.core.errors import OpsError

    target = connect(cfg, None, context)
    if target.cluster is None or not target.cluster.has_real_node():
        raise OpsError(
            f"{target.context} has no real node: its Ingress controller comes with the cluster "
            "(k3d: Traefik; minikube: `minikube addons enable ingress`)",
            "start the embedded cluster with a real node: OPSKIT_KWOK_NODE=real invoke cluster.up",
        )
    return target


@task(help={"context": CONTEXT_HELP, "dry_run": DRY_RUN_HELP})
@opskit_task
def install(c, context=None, dry_run=False):
    """Run Traefik on the real node (HTTPS on host port 8443) and wait until it is ready."""
    from opskit.platform import ingress

    cfg = load_config(c)
    target = _real_node_target(cfg, context)
    ingress.install(cfg, target, report=say, dry_run=dry_run)
    if dry_run:
        return say("dry run: nothing was changed")
    say(f"Traefik {cfg.tool_pins()['traefik']} answers on https://{ingress.ADDRESS}")


@task(default=True, help={"context": CONTEXT_HELP})
@opskit_task
def status(c, context=None):
    """Report the controller and each Ingress (hosts, TLS Secret present)."""
    from invoke import Exit

    from opskit.platform import ingress

    cfg = load_config(c)
    checks = ingress.status(_real_node_target(cfg, context).kube)
    for check in checks:
        print(check.line())
    if not all(check.ok for check in checks):
        raise Exit(code=1)
