"""Workload state around an apply: snapshots, waiting for rollouts, diagnostics, rollback."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from opskit.errors import CommandFailed
from opskit.kube import Kube

KINDS = "deployments,statefulsets,controllerrevisions"  # one call: revisions come along
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

    @property
    def ref(self) -> str:
        return f"{self.kind.lower()}/{self.name}"


def snapshot(kube: Kube, namespace: str) -> dict[str, Workload]:
    """Every Deployment and StatefulSet in the namespace, keyed by `kind/name`."""
    items = kube.json("get", KINDS, "-n", namespace, timeout=30)["items"]
    revisions = {
        i["metadata"]["name"]: int(i["revision"])
        for i in items
        if i["kind"] == "ControllerRevision"
    }
    workloads = (_workload(i, revisions) for i in items if i["kind"] != "ControllerRevision")
    return {w.ref: w for w in workloads}


def _workload(item: dict, revisions: dict[str, int]) -> Workload:
    meta, spec, status = item["metadata"], item["spec"], item.get("status", {})
    want = spec.get("replicas", 1)
    if item["kind"] == "Deployment":
        revision = int(meta.get("annotations", {}).get(REVISION, 0)) or None
        ready = (
            status.get("observedGeneration", 0) >= meta["generation"]
            and status.get("updatedReplicas", 0) == want
            and status.get("availableReplicas", 0) == want
        )
    else:
        revision = revisions.get(status.get("updateRevision", ""))
        ready = (
            status.get("observedGeneration", 0) >= meta["generation"]
            and status.get("readyReplicas", 0) == want
            and status.get("currentRevision") == status.get("updateRevision")
        )
    containers = spec["template"]["spec"]["containers"]
    return Workload(
        item["kind"],
        meta["name"],
        meta["generation"],
        revision,
        ready,
        tuple(sorted(spec["selector"].get("matchLabels", {}).items())),
        tuple(c["image"] for c in containers),
    )


def changed(before: dict[str, Workload], after: dict[str, Workload]) -> list[Workload]:
    """Workloads the apply created or whose spec changed (a new generation)."""
    return [
        w for ref, w in after.items() if ref not in before or before[ref].generation != w.generation
    ]


class RolloutFailed(Exception):
    def __init__(self, workload: Workload, detail: str) -> None:
        super().__init__(f"{workload.ref} did not roll out: {detail}")
        self.workload = workload


def wait(
    kube: Kube,
    namespace: str,
    workloads: list[Workload],
    timeout: float,
    notify: Callable[[str], None],
) -> None:
    """Wait for each workload in turn, sharing one deadline; progress lines as they finish."""
    deadline = time.monotonic() + timeout
    for index, workload in enumerate(workloads, 1):
        left = max(1, int(deadline - time.monotonic()))
        notify(f"waiting for {workload.ref} ({index}/{len(workloads)}, {left}s left)")
        started = time.monotonic()
        try:
            kube.run(
                "rollout",
                "status",
                workload.ref,
                "-n",
                namespace,
                f"--timeout={left}s",
                timeout=left + 15,
            )
        except CommandFailed as exc:
            raise RolloutFailed(workload, exc.stderr_tail or str(exc)) from None
        notify(f"{workload.ref} rolled out in {time.monotonic() - started:.1f}s")


def undo(kube: Kube, namespace: str, workload: Workload, revision: int | None) -> None:
    """`kubectl rollout undo`, to the given revision or the one before the current."""
    extra = [f"--to-revision={revision}"] if revision else []
    kube.run("rollout", "undo", workload.ref, "-n", namespace, *extra, mutates=True, timeout=60)


def diagnostics(kube: Kube, namespace: str, workload: Workload) -> str:
    """Events, unready pod conditions and recent log lines, as one readable block."""
    selector = ",".join(f"{k}={v}" for k, v in workload.selector)
    lines = [f"--- diagnostics for {workload.ref} (namespace {namespace})"]
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
