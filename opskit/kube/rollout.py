"""Workload state around an apply: snapshots, waiting for rollouts, diagnostics, rollback."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from opskit.core.progress import Notify
from opskit.kube.kubectl import Kube
from opskit.kube.ref import ObjectRef

# the workloads and, along with them, the revisions of StatefulSets: {Kind: kubectl's name}
KINDS = {
    "Deployment": "deployments",
    "StatefulSet": "statefulsets",
    "ControllerRevision": "controllerrevisions",
}
REVISION = "deployment.kubernetes.io/revision"


@dataclass(frozen=True)
class Workload:
    kind: str
    name: str
    generation: int
    revision: int | None
    ready: bool
    selector: tuple[tuple[str, str], ...]
    images: tuple[str, ...]
    progress: str = ""
    stalled: str = ""
    namespace: str = ""

    @property
    def ref(self) -> ObjectRef:
        return ObjectRef(self.kind, self.namespace, self.name)


def snapshot(kube: Kube, namespace: str) -> dict[ObjectRef, Workload]:
    """Every Deployment and StatefulSet in the namespace, by its identity."""
    items = _items(kube, namespace)
    revisions = {
        i["metadata"]["name"]: int(i["revision"])
        for i in items
        if i["kind"] == "ControllerRevision"
    }
    workloads = (
        _workload(i, revisions, namespace) for i in items if i["kind"] != "ControllerRevision"
    )
    return {w.ref: w for w in workloads}


def _items(kube: Kube, namespace: str) -> list[dict]:
    from opskit.kube import reads

    return reads.listed(kube, "apps/v1", KINDS, namespace)


def _workload(item: dict, revisions: dict[str, int], namespace: str = "") -> Workload:
    meta, spec, status = item["metadata"], item["spec"], item.get("status", {})
    want = spec.get("replicas", 1)
    observed = status.get("observedGeneration", 0) >= meta["generation"]
    if item["kind"] == "Deployment":
        revision = int(meta.get("annotations", {}).get(REVISION, 0)) or None
        counts = {k: status.get(f"{k}Replicas", 0) for k in ("updated", "available")}
        done = all(n == want for n in counts.values()) and status.get("replicas", 0) == want
    else:
        revision = revisions.get(status.get("updateRevision", ""))
        counts = {"ready": status.get("readyReplicas", 0)}
        done = counts["ready"] == want and (
            status.get("currentRevision") == status.get("updateRevision")
        )
    return Workload(
        kind=item["kind"],
        name=meta["name"],
        generation=meta["generation"],
        revision=revision,
        ready=observed and done,
        selector=tuple(sorted(spec["selector"].get("matchLabels", {}).items())),
        images=tuple(c["image"] for c in spec["template"]["spec"]["containers"]),
        progress=_progress(counts, want, status),
        stalled=_stalled(status),
        namespace=meta.get("namespace") or namespace,
    )


def _progress(counts: dict[str, int], want: int, status: dict) -> str:
    """e.g. `updated 1/1, available 1/1, 1 unavailable, 1 old`: what a rollout waits for."""
    parts = [f"{k} {n}/{want}" for k, n in counts.items()]
    if status.get("unavailableReplicas"):
        parts.append(f"{status['unavailableReplicas']} unavailable")
    old = status.get("replicas", 0) - status.get("updatedReplicas", status.get("replicas", 0))
    if old > 0:
        parts.append(f"{old} old")
    return ", ".join(parts)


def _stalled(status: dict) -> str:
    """The controller's own verdict that a rollout cannot finish, if it gave one."""
    for cond in status.get("conditions", ()):
        if cond.get("type") == "Progressing" and cond.get("reason") == "ProgressDeadlineExceeded":
            return cond.get("message", "progress deadline exceeded")
    return ""


def unchanged(before: dict[ObjectRef, Workload], applied: str) -> dict[ObjectRef, Workload] | None:
    """`before`, when the apply output (`-o json`) shows every workload at the generation it
    had and all of them ready; else None. Saves a read on a no-op deploy."""
    import json

    data = json.loads(applied or "{}")
    items = data.get("items", [data]) if data.get("kind") == "List" else [data]
    seen = 0
    for item in items:
        if item.get("kind") not in ("Deployment", "StatefulSet"):
            continue
        seen += 1
        old = before.get(ObjectRef.of(item))
        if old is None or not old.ready or old.generation != item["metadata"]["generation"]:
            return None
    return before if seen == len(before) else None


def changed(before: dict[ObjectRef, Workload], after: dict[ObjectRef, Workload]) -> list[Workload]:
    """Workloads the apply created or whose spec changed (a new generation)."""
    return [
        w for ref, w in after.items() if ref not in before or before[ref].generation != w.generation
    ]


class RolloutFailed(Exception):
    def __init__(self, workload: Workload, detail: str) -> None:
        super().__init__(f"{workload.ref.resource} did not roll out: {detail}")
        self.workload = workload


def wait(
    kube: Kube,
    namespace: str,
    workloads: list[Workload],
    timeout: float,
    notify: Notify,
    first: dict[ObjectRef, Workload] | None = None,
    on_ready: Callable[[Workload, float], None] | None = None,
) -> dict[ObjectRef, Workload]:
    """Wait for all workloads at once (one kubectl call per poll), sharing one deadline;
    a progress line as each one finishes, and a reminder of what is pending every 10 s.
    `first` is a snapshot just taken (saves a read); returns the last one. `on_ready` hears
    each workload as it finishes, with its seconds."""
    started = time.monotonic()
    pending = {w.ref for w in workloads}
    notify(f"waiting for {', '.join(r.resource for r in sorted(pending))} (timeout {timeout:g}s)")
    last_report, interval = started, 0.1
    while True:
        now = first if first is not None else snapshot(kube, namespace)
        first = None
        for ref in sorted(pending):
            workload = now.get(ref)
            if workload is not None and workload.ready:
                pending.discard(ref)
                took = time.monotonic() - started
                notify(f"{ref.resource} rolled out in {took:.1f}s")
                if on_ready is not None:
                    on_ready(workload, took)
            elif workload is not None and workload.stalled:
                raise RolloutFailed(workload, workload.stalled)
        if not pending:
            return now
        elapsed = time.monotonic() - started
        if elapsed >= timeout:
            late = now.get(sorted(pending)[0]) or workloads[0]
            raise RolloutFailed(late, f"not ready after {timeout:g}s ({late.progress})")
        if time.monotonic() - last_report >= 10:
            last_report = time.monotonic()
            notify(
                f"still waiting ({elapsed:.0f}s): "
                + "; ".join(f"{r.resource} {now[r].progress}" for r in sorted(pending) if r in now)
            )
        time.sleep(interval)
        interval = min(interval * 1.5, 0.2)  # prompt for fast rollouts, light for slow ones


def roll_back_to(
    kube: Kube, namespace: str, workload: Workload, revision: int | None, dry_run: bool = False
) -> None:
    """`kubectl rollout undo`: the workload's template of the given revision, or of the one
    before the current (its config only as far as the template names it by hash)."""
    extra = [f"--to-revision={revision}"] if revision else []
    kube.run(
        "rollout",
        "undo",
        workload.ref.resource,
        "-n",
        namespace,
        *extra,
        mutates=True,
        dry_run=dry_run,
        timeout=60,
    )


def diagnostics(kube: Kube, namespace: str, workload: Workload) -> str:
    """Events, unready pod conditions and recent log lines, as one readable block."""
    selector = ",".join(f"{k}={v}" for k, v in workload.selector)
    lines = [f"--- diagnostics for {workload.ref.resource} (namespace {namespace})"]
    pods = kube.json("get", "pods", "-n", namespace, "-l", selector, timeout=30)["items"]
    for pod in pods:
        name = pod["metadata"]["name"]
        for cond in pod.get("status", {}).get("conditions", []):
            if cond.get("status") != "True":
                why = cond.get("reason") or cond.get("message") or "no reason given"
                lines.append(f"pod/{name}: {cond['type']}=False ({why})")
        logs = kube.run(
            "logs", "-n", namespace, name, "--all-containers", "--tail=10", check=False, timeout=20
        )
        text = logs.stdout.strip() or f"(no logs: {logs.stderr.strip() or 'empty'})"
        lines += [f"pod/{name} log: {line}" for line in text.splitlines()[-10:]]
    events = (
        kube.run(
            "get",
            "events",
            "-n",
            namespace,
            "--sort-by=.lastTimestamp",
            "--no-headers",
            check=False,
            timeout=20,
        )
        .stdout.strip()
        .splitlines()
    )
    lines += [f"event: {' '.join(e.split())}" for e in events[-10:]] or ["event: (none)"]
    return "\n".join(lines)
