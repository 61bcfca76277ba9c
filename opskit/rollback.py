"""Rolling workloads back: after a failed deploy, and on request (`invoke rollback`)."""

from __future__ import annotations

from collections.abc import Callable
from typing import NoReturn

from opskit import rollout
from opskit.config import Config, Overlay
from opskit.errors import OpsError
from opskit.kube import Kube, api_versions

Notify = Callable[[str], None]


def after_failed_deploy(
    kube: Kube,
    overlay: Overlay,
    before: dict[str, rollout.Workload],
    todo: list[rollout.Workload],
    failed: rollout.RolloutFailed,
    notify: Notify,
) -> NoReturn:
    """Report why, return every changed workload to its previous revision, raise."""
    namespace = overlay.namespace
    notify(rollout.diagnostics(kube, namespace, failed.workload))
    undone = []
    for workload in todo:
        previous = before.get(workload.ref)
        if previous is None or previous.revision is None:
            notify(f"{workload.ref}: new in this deploy, no previous revision to roll back to")
            continue
        notify(f"rolling back {workload.ref} to revision {previous.revision}")
        rollout.undo(kube, namespace, workload, previous.revision)
        undone.append(workload)
    if undone:
        rollout.wait(kube, namespace, undone, 120, notify)
    raise OpsError(
        f"deploy to {overlay.name} failed: {failed}",
        "rolled back the changed workloads; see the diagnostics above"
        if undone
        else "see the diagnostics above",
    )


def rollback(
    cfg: Config,
    name: str,
    *,
    workload: str,
    to_revision: int | None = None,
    context: str | None = None,
    timeout: float = 300,
    dry_run: bool = False,
    notify: Notify = print,
) -> None:
    """Undo a workload's rollout (to a revision, or the previous one) and wait for it."""
    from opskit.deploy import preflight

    overlay = cfg.overlay(name)
    kube, _ = preflight(cfg, overlay, context)
    api_versions(kube)  # reachable, with the hint to start it
    current = rollout.snapshot(kube, overlay.namespace)
    if workload not in current:
        known = ", ".join(sorted(current)) or "none"
        raise OpsError(
            f"{overlay.namespace}: no workload {workload!r} (found: {known})",
            "pass --workload kind/name of a Deployment or StatefulSet",
        )
    target = current[workload]
    notify(
        f"rolling back {target.ref} from revision {target.revision} to "
        f"{to_revision or 'the previous revision'}"
    )
    rollout.undo(kube, overlay.namespace, target, to_revision)
    if not dry_run:
        rollout.wait(kube, overlay.namespace, [target], timeout, notify)
        done = rollout.snapshot(kube, overlay.namespace)[workload]
        notify(f"{done.ref} is at revision {done.revision}: {', '.join(done.images)}")
