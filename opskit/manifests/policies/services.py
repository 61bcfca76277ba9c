"""Policy across objects: every Service selects a pod template of its own target.

A selector that matches no pod applies cleanly and routes nowhere; the typo only shows
as an empty Endpoints object later. Services without a selector (endpoints managed by
hand, ExternalName) are left alone.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from opskit.manifests.target import Target

POD_TEMPLATE_KINDS = "Deployments, StatefulSets, DaemonSets, Jobs, CronJobs, Pods"


def pod_labels(obj: dict) -> dict | None:
    """The labels of the pods a workload object makes (None: not a workload)."""
    kind, spec = obj.get("kind"), obj.get("spec") or {}
    if kind == "Pod":
        return (obj.get("metadata") or {}).get("labels") or {}
    if kind == "CronJob":
        spec = (spec.get("jobTemplate") or {}).get("spec") or {}
    elif kind not in {"Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job"}:
        return None
    return ((spec.get("template") or {}).get("metadata") or {}).get("labels") or {}


def check_selectors(target: Target, objects: list[dict]) -> Iterator[tuple[dict, str, str]]:
    """(Service, "spec.selector", message) for each selector no pod template satisfies."""
    templates = [labels for labels in map(pod_labels, objects) if labels is not None]
    for service in (o for o in objects if o.get("kind") == "Service"):
        spec = service.get("spec") or {}
        selector = spec.get("selector") or {}
        if not selector or spec.get("type") == "ExternalName":
            continue
        wanted = _strings(selector)
        if any(wanted.items() <= _strings(labels).items() for labels in templates):
            continue
        shown = ",".join(f"{k}={v}" for k, v in sorted(wanted.items()))
        yield (
            service,
            "spec.selector",
            f"{shown} matches no pod template in {target.name} ({POD_TEMPLATE_KINDS}); "
            "fix the selector or the pod labels",
        )


def _strings(mapping: dict) -> dict[str, str]:
    return {str(k): str(v) for k, v in mapping.items()}
