"""Live state of an overlay: workloads, health, and drift from the current commit."""

from invoke import task

from opskit.tasks._common import CONTEXT_HELP, OVERLAY_HELP, connect, load_config, opskit_task, say


@task(
    help={
        "overlay": OVERLAY_HELP,
        "context": CONTEXT_HELP,
        "json": "print the status as JSON (keys documented in docs/tasks.md)",
    }
)
@opskit_task
def status(c, overlay="dev", context=None, json=False):
    """Show revision, image, ready/desired and health per workload, and live drift.

    Exits 0 when the cluster matches what the current commit renders, 1 when it drifted."""
    import json as encoding

    from invoke import Exit

    from opskit.diff import status

    cfg = load_config(c)
    ov = cfg.overlay(overlay)
    target = connect(cfg, ov, context)
    kube = target.kube
    found = status.status(cfg, ov, kube, target.components)
    if json:
        print(encoding.dumps(found.as_json(), indent=2, sort_keys=True))
    else:
        print(status.text(found), end="")
    if target.cluster is not None and target.cluster.has_real_node():
        from opskit.images.embedded import API_STAYS_SIMULATED

        say(f"{cfg.app.name}: {API_STAYS_SIMULATED}")
    where = f"{ov.name} on {kube.context} vs {found.commit}"
    say(f"{where}: " + ("in sync" if found.in_sync else f"drifted ({len(found.drift)} objects)"))
    if not found.in_sync:
        raise Exit(code=1)
