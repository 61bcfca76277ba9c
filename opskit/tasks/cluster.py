"""Create, delete and inspect the local cluster (kwok, k3d or minikube)."""

from invoke import task

from opskit.tasks._common import DRY_RUN_HELP, load_config, opskit_task, say

PROVIDER_HELP = "kwok | k3d | minikube | auto (default: cluster.provider in opskit.yaml)"
NAME_HELP = "cluster name (default: cluster.name in opskit.yaml)"


def _cluster(c, provider, name):
    from opskit import clusters
    from opskit.core import args

    if provider is not None:
        args.choice(provider, "--provider", clusters.PROVIDERS)
    if name is not None:
        args.cluster_name(name, "--name")

    return clusters.get(load_config(c), provider, name, report=say)


@task(help={"provider": PROVIDER_HELP, "name": NAME_HELP, "dry_run": DRY_RUN_HELP})
@opskit_task
def up(c, provider=None, name=None, dry_run=False):
    """Create the cluster (or resume it) and wait for a Ready node; idempotent."""
    import time

    started = time.monotonic()
    cluster = _cluster(c, provider, name)
    status = cluster.up(report=say, dry_run=dry_run)
    if dry_run:
        return say("dry run: nothing was started or written")
    say(
        f"cluster {cluster.name} ({cluster.provider}) {status.state} in "
        f"{time.monotonic() - started:.1f}s; ready nodes: {', '.join(status.nodes) or 'none'}"
    )
    say(f"use it: kubectl --kubeconfig {cluster.kubeconfig} --context {cluster.context} get nodes")


@task(help={"provider": PROVIDER_HELP, "name": NAME_HELP, "dry_run": DRY_RUN_HELP})
@opskit_task
def down(c, provider=None, name=None, dry_run=False):
    """Delete the cluster and every process and file `cluster.up` created; idempotent."""
    _cluster(c, provider, name).down(report=say, dry_run=dry_run)


@task(
    default=True,
    help={
        "provider": PROVIDER_HELP,
        "name": NAME_HELP,
        "json": "print the status as JSON (keys documented in docs/tasks.md)",
    },
)
@opskit_task
def status(c, provider=None, name=None, json=False):
    """Show the cluster's state, context, kubeconfig and Ready nodes (exit 1 unless running)."""
    from invoke import Exit

    result = _cluster(c, provider, name).status()
    if json:
        import dataclasses
        import json as encoding

        data = {**dataclasses.asdict(result), "running": result.running}
        print(encoding.dumps(data, indent=2, sort_keys=True, default=str))
    else:
        print("\n".join(result.lines()))
    if not result.running:
        raise Exit(code=1)
