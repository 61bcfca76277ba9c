"""A container without a readiness probe is Ready as soon as it runs: a bad configuration
crashes it a moment later. The platform's installs count such a container as up only once it
has run YOUNG seconds (ArgoCD's, prometheus-operator's)."""

from __future__ import annotations

from datetime import UTC, datetime

YOUNG = 5.0  # seconds a container without a readiness probe must be up before it counts


def probed(pod: dict, container: str) -> bool:
    """The pod's container `container` has a readiness probe."""
    spec = pod.get("spec") or {}
    return any(
        c.get("name") == container and c.get("readinessProbe") for c in spec.get("containers") or ()
    )


def statuses(pod: dict) -> list[dict]:
    """The statuses of the pod's init containers, then of its containers."""
    status = pod.get("status") or {}
    return [*(status.get("initContainerStatuses") or ()), *(status.get("containerStatuses") or ())]


def up_for(status: dict, now: datetime) -> float | None:
    """Seconds a container (its status) has been running; None when it is not running."""
    started = ((status.get("state") or {}).get("running") or {}).get("startedAt")
    if not started:
        return None
    return (now - datetime.fromisoformat(started.replace("Z", "+00:00"))).total_seconds()


def young(pod: dict, now: datetime | None = None) -> bool:
    """A running container of the pod, without a readiness probe, up less than YOUNG s."""
    now = now or datetime.now(UTC)
    for cs in statuses(pod):
        up = up_for(cs, now)
        if up is not None and up < YOUNG and not probed(pod, cs["name"]):
            return True
    return False
