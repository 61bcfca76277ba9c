"""Rolling back: after a failed deploy (every object as it was), and on request
(`invoke rollback`: one workload to an earlier revision)."""

from __future__ import annotations

from typing import NoReturn

from opskit.core import toolcheck
from opskit.core.config import Config, Overlay
from opskit.core.errors import CommandFailed, OpsError
from opskit.core.progress import Notify
from opskit.deploy import restore
from opskit.kube import rollout
from opskit.kube.kubectl import Kube
from opskit.kube.reads import api_versions
from opskit.kube.ref import ObjectRef

RESTORE_WAIT = 120.0


def after_failed_deploy(
    kube: Kube,
    overlay: Overlay,
    workloads: dict[ObjectRef, rollout.Workload],
    previous: restore.Before,
    failed: rollout.RolloutFailed,
    notify: Notify,
) -> NoReturn:
    """Report why, put every object the deploy changed back as it was, wait for the
    workloads that were ready before, raise."""
    notify(rollout.diagnostics(kube, overlay.namespace, failed.workload))
    put_back = _put_back_and_wait(kube, overlay, workloads, previous, notify)
    raise OpsError(
        f"deploy to {overlay.name} failed: {failed}",
        f"restored the {len(put_back)} object(s) it had changed or created; see the "
        "diagnostics above"
        if put_back
        else "see the diagnostics above",
    )


def after_failed_apply(
    kube: Kube,
    overlay: Overlay,
    workloads: dict[ObjectRef, rollout.Workload],
    previous: restore.Before,
    failed: CommandFailed,
    notify: Notify,
) -> NoReturn:
    """The server rejected part of the apply: what it had already taken is put back."""
    reason = (failed.stderr_tail.strip().splitlines() or [f"kubectl {failed.reason}"])[-1]
    notify(f"the API server rejected the apply: {reason}")
    put_back = _put_back_and_wait(kube, overlay, workloads, previous, notify)
    raise OpsError(
        f"apply to {overlay.name} rejected by the API server: {reason}",
        f"restored the {len(put_back)} object(s) of the plan as they were; fix the object "
        "named above and deploy again",
    )


def _put_back_and_wait(
    kube: Kube,
    overlay: Overlay,
    workloads: dict[ObjectRef, rollout.Workload],
    previous: restore.Before,
    notify: Notify,
) -> list[ObjectRef]:
    """Every object of the plan as it was, then wait for the workloads that were ready before."""
    put_back = restore.put_back(kube, previous, notify)
    restored = set(put_back)
    back = [w for w in workloads.values() if w.ready and w.ref in restored]
    if back:
        rollout.wait(kube, overlay.namespace, back, RESTORE_WAIT, notify)
    return put_back


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
    from opskit import clusters

    overlay = cfg.overlay(name)
    toolcheck.require("kubectl")
    kube = clusters.connect(cfg, overlay, context).kube
    api_versions(kube)  # reachable, with the hint to start it
    current = {w.ref.resource: w for w in rollout.snapshot(kube, overlay.namespace).values()}
    if workload not in current:
        known = ", ".join(sorted(current)) or "none"
        raise OpsError(
            f"{overlay.namespace}: no workload {workload!r} (found: {known})",
            "pass --workload kind/name of a Deployment or StatefulSet",
        )
    target = current[workload]
    notify(
        f"{'would roll' if dry_run else 'rolling'} back {target.ref.resource} from revision "
        f"{target.revision} to {to_revision or 'the previous revision'}"
    )
    rollout.roll_back_to(kube, overlay.namespace, target, to_revision, dry_run=dry_run)
    if not dry_run:
        rollout.wait(kube, overlay.namespace, [target], timeout, notify)
        done = rollout.snapshot(kube, overlay.namespace)[target.ref]
        notify(f"{done.ref.resource} is at revision {done.revision}: {', '.join(done.images)}")
