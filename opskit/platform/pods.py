"""Waiting for the platform's pods: ready, or one line naming the pod that crash-loops and its
last log line. A rerun first deletes the crash-looping pods of its own workloads, so they
come back from the current spec (a StatefulSet never replaces a pod that is not Ready)."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from opskit.core.errors import OpsError
from opskit.kube import logs
from opskit.kube.young import statuses, young

if TYPE_CHECKING:
    from opskit.kube.kubectl import Kube

BROKEN = {
    "CrashLoopBackOff",
    "RunContainerError",
    "CreateContainerError",
    "CreateContainerConfigError",
    "ErrImageNeverPull",
    "ErrImagePull",
    "ImagePullBackOff",
    "InvalidImageName",
}
POLL = 1.0


@dataclass(frozen=True)
class Broken:
    """A pod container that will not run: its name, why, and how often it restarted."""

    pod: str
    container: str
    reason: str
    restarts: int
    exit_code: int | None
    message: str = ""


def broken(pod: dict) -> Broken | None:
    """The first container of `pod` (a Pod object) that crash-loops or cannot start."""
    for cs in statuses(pod):
        waiting = (cs.get("state") or {}).get("waiting") or {}
        if waiting.get("reason") in BROKEN:
            last = (cs.get("lastState") or {}).get("terminated") or {}
            return Broken(
                pod["metadata"]["name"],
                cs["name"],
                waiting["reason"],
                cs.get("restartCount", 0),
                last.get("exitCode"),
                waiting.get("message", ""),
            )
    return None


def pods(kube: Kube, namespace: str, selector: str) -> list[dict]:
    result = kube.run("get", "pods", "-n", namespace, "-l", selector, "-o", "json", timeout=30)
    return json.loads(result.stdout or "{}").get("items", [])


def last_log_line(kube: Kube, namespace: str, bad: Broken) -> str:
    """The crashed container's line naming its error (its previous run's, else its
    current's; opskit.kube.logs)."""
    return logs.last_words(kube, namespace, bad.pod, bad.container, bad.message)


def failure(kube: Kube, namespace: str, bad: Broken) -> OpsError:
    exit_code = f", exit code {bad.exit_code}" if bad.exit_code is not None else ""
    return OpsError(
        f"pod {namespace}/{bad.pod} {bad.reason} (container {bad.container}, "
        f"{bad.restarts} restarts{exit_code}); its last log line: "
        f"{last_log_line(kube, namespace, bad)}",
        f"fix the cause, then run the install again (it replaces the pod); "
        f"`kubectl -n {namespace} logs {bad.pod} -c {bad.container} --previous`",
    )


def replace_broken(kube: Kube, namespace: str, selector: str, report) -> list[str]:
    """Delete our pods that crash-loop: their controller recreates them from the current spec."""
    names = [b.pod for pod in pods(kube, namespace, selector) if (b := broken(pod))]
    for name in names:
        report(f"replacing pod {namespace}/{name} (it was crash-looping)")
        kube.run("delete", "pod", name, "-n", namespace, "--wait=false", mutates=True, timeout=30)
    return names


def workload_ready(obj: dict) -> bool:
    """A Deployment or StatefulSet whose every replica runs the current spec and is Ready."""
    spec, status = obj.get("spec") or {}, obj.get("status") or {}
    want = spec.get("replicas", 1)
    if status.get("observedGeneration", 0) < obj["metadata"].get("generation", 0):
        return False
    if obj["kind"] == "StatefulSet" and status.get("currentRevision") != status.get(
        "updateRevision"
    ):
        return False
    return (
        status.get("readyReplicas", 0) == want
        and status.get("updatedReplicas", 0) == want
        and status.get("replicas", 0) == want
    )


def stale(pod: dict, workloads: list[dict]) -> bool:
    """A StatefulSet's pod from an older revision than the set's: it is to be replaced, its
    crash is not the current spec's (the controller will not replace it while unready)."""
    revision = (pod["metadata"].get("labels") or {}).get("controller-revision-hash")
    for obj in workloads:
        if obj.get("kind") != "StatefulSet" or not revision:
            continue
        update = (obj.get("status") or {}).get("updateRevision")
        if pod["metadata"]["name"].startswith(f"{obj['metadata']['name']}-") and update:
            return revision != update
    return False


def wait_ready(
    kube: Kube,
    namespace: str,
    workloads: list[str],
    selector: str,
    report,
    timeout: float = 240.0,
    clock=time.monotonic,
    sleep=time.sleep,
) -> None:
    """Until every `kind/name` of `workloads` is ready and no pod among `selector`'s runs a
    container without a readiness probe for less than YOUNG seconds; a crash-looping pod
    fails at once, naming it and its last log line (a StatefulSet's pod of an older revision
    is replaced instead)."""
    started = clock()
    while True:
        objects = [obj for w in workloads if (obj := _get(kube, namespace, w)) is not None]
        found = pods(kube, namespace, selector)
        for pod in found:
            bad = broken(pod)
            if bad is None:
                continue
            if not stale(pod, objects):
                raise failure(kube, namespace, bad)
            report(f"replacing pod {namespace}/{bad.pod} (an older revision, {bad.reason})")
            kube.run("delete", "pod", bad.pod, "-n", namespace, "--wait=false", mutates=True,
                     timeout=30)  # fmt: skip
        waiting = [
            w for w in workloads if not any(_is(o, w) and workload_ready(o) for o in objects)
        ]
        waiting += [  # Ready only because it runs: a bad configuration crashes it a moment later
            f"pod/{p['metadata']['name']}"
            for p in found
            if not p["metadata"].get("deletionTimestamp") and young(p)
        ]
        if not waiting:
            return
        if clock() - started > timeout:
            raise OpsError(
                f"{', '.join(waiting)} in {namespace} not ready after {timeout:.0f}s",
                f"look at `kubectl -n {namespace} get pods,events`",
            )
        sleep(POLL)


def _is(obj: dict, workload: str) -> bool:
    kind, _, name = workload.partition("/")
    same_kind = obj.get("kind", "").lower() == kind.lower()
    return same_kind and (obj.get("metadata") or {}).get("name") == name


def _get(kube: Kube, namespace: str, workload: str) -> dict | None:
    result = kube.run("get", workload, "-n", namespace, "-o", "json", check=False, timeout=30)
    return json.loads(result.stdout) if result.returncode == 0 else None
