"""`invoke status`: each workload's revision, image, readiness and health, and the drift of
the live objects from what the current commit renders (opskit.diff.live, the one live
comparison, which `invoke manifests.diff --live` shows as unified diffs)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

from opskit.core.config import Config, Overlay
from opskit.diff import live
from opskit.kube import rollout
from opskit.kube.kubectl import Kube
from opskit.kube.ref import ObjectRef

HEALTHY, PROGRESSING, DEGRADED, MISSING = "Healthy", "Progressing", "Degraded", "Missing"


@dataclass(frozen=True)
class WorkloadStatus:
    workload: str  # kind/name
    revision: int | None
    images: tuple[str, ...]
    ready: int
    desired: int
    health: str


@dataclass(frozen=True)
class Status:
    overlay: str
    namespace: str
    context: str
    commit: str
    image: str  # what the current commit deploys
    workloads: tuple[WorkloadStatus, ...]
    drift: tuple[live.Drift, ...]
    skipped: tuple[str, ...]  # objects whose API the cluster lacks; Secrets not opened

    @property
    def in_sync(self) -> bool:
        return not self.drift

    def as_json(self) -> dict:
        """The documented `--json` shape (docs/tasks.md, keys stable), JSON types only."""
        import json

        data = json.loads(json.dumps(asdict(self)))
        data["in_sync"] = self.in_sync
        data["drift"] = [{"object": d.ref, "fields": list(d.fields)} for d in self.drift]
        return data


def _counts(kube: Kube, namespace: str) -> dict[ObjectRef, tuple[int, int]]:
    """workload -> (ready, desired) replicas."""
    items = kube.json("get", "deployments,statefulsets", "-n", namespace, timeout=30)["items"]
    return {
        ObjectRef(i["kind"], namespace, i["metadata"]["name"]): (
            (i.get("status") or {}).get("readyReplicas", 0),
            i["spec"].get("replicas", 1),
        )
        for i in items
    }


def _health(workload: rollout.Workload) -> str:
    if workload.ready:
        return HEALTHY
    return DEGRADED if workload.stalled else PROGRESSING


def workloads(kube: Kube, namespace: str, rendered: list[dict]) -> list[WorkloadStatus]:
    """Every Deployment and StatefulSet the commit renders, and any other live one."""
    running, counts = rollout.snapshot(kube, namespace), _counts(kube, namespace)
    refs = {
        ObjectRef(o["kind"], namespace, o["metadata"]["name"])
        for o in rendered
        if o.get("kind") in ("Deployment", "StatefulSet")
    } | set(running)
    out = []
    for ref in sorted(refs, key=lambda r: r.resource):
        if ref not in running:
            out.append(WorkloadStatus(ref.resource, None, (), 0, 0, MISSING))
            continue
        w = running[ref]
        ready, desired = counts.get(ref, (0, 0))
        out.append(WorkloadStatus(ref.resource, w.revision, w.images, ready, desired, _health(w)))
    return out


def status(cfg: Config, overlay: Overlay, kube: Kube, components: tuple[Path, ...] = ()) -> Status:
    """The overlay's live state against the current commit (read-only: a server dry run);
    `components`: those the cluster adds to every overlay (Connection.components)."""
    tag, objects = live.rendered(cfg, overlay, components=components)
    compared = live.comparison(cfg, overlay, kube, objects)
    return Status(
        overlay=overlay.name,
        namespace=overlay.namespace,
        context=kube.context,
        commit=tag,
        image=f"{cfg.app.image}:{tag}",
        workloads=tuple(workloads(kube, overlay.namespace, objects)),
        drift=compared.drift,
        skipped=compared.skipped,
    )


def text(found: Status) -> str:
    """A table of workloads, then one line per drifted field."""
    rows = [("WORKLOAD", "REVISION", "READY", "HEALTH", "IMAGE")]
    rows += [
        (
            w.workload,
            str(w.revision or "-"),
            f"{w.ready}/{w.desired}",
            w.health,
            ", ".join(w.images) or "-",
        )
        for w in found.workloads
    ]
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    lines = ["  ".join([*(c.ljust(widths[i]) for i, c in enumerate(r[:4])), r[4]]) for r in rows]
    for item in found.drift:
        lines += [f"drift: {item.ref}: {field}" for field in item.fields]
    lines += [f"not compared: {ref}" for ref in found.skipped]
    return "\n".join(lines) + "\n"
