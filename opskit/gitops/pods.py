"""ArgoCD's pods after `argocd.install` applied its manifests: wait until every Deployment and
StatefulSet of the namespace is available, and fail at once, in one line naming the pod and
its last log line, when a pod of a workload's current revision crash-loops (or its image
cannot be had). A crash or two at startup is upstream's normal (dex exits until
argocd-server has written its secret key): a crash loop is a container backing off after
CRASHES restarts. A container that has restarted counts as up only once it has stayed up
for STEADY seconds (one without a readiness probe is Ready between two crashes), and a
container without a readiness probe only once it has been up YOUNG seconds (its Ready says
only that it runs: a bad configuration crashes it a moment later). Crash-looping pods are
restarted first, so a rerun after a fix converges at once."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime

from opskit.core.errors import OpsError
from opskit.kube import logs
from opskit.kube.kubectl import Kube
from opskit.kube.young import statuses, up_for, young

REVISION = "deployment.kubernetes.io/revision"
CRASH_LOOP = "CrashLoopBackOff"
# waiting reasons that do not pass on their own (an image pull is retried once, then backs off)
FAILING = ("ImagePullBackOff", "ErrImageNeverPull", "InvalidImageName")
KINDS = "deployments,statefulsets,replicasets,pods"
CRASHES = 2  # restarts after which a container backing off crash-loops
STEADY = 15.0  # seconds a restarted container must stay up (the first back-off is 10 s)


@dataclass(frozen=True)
class Failing:
    pod: str
    container: str
    reason: str
    message: str


def current_hashes(items: list[dict]) -> dict[str, str]:
    """Workload name -> the pod label value of its current revision (Deployment: the newest
    ReplicaSet's pod-template-hash; StatefulSet: its updateRevision)."""
    deployments = {
        i["metadata"]["name"]: i["metadata"].get("annotations", {}).get(REVISION)
        for i in items
        if i["kind"] == "Deployment"
    }
    hashes: dict[str, str] = {}
    for item in items:
        meta = item["metadata"]
        if item["kind"] == "StatefulSet":
            hashes[meta["name"]] = (item.get("status") or {}).get("updateRevision", "")
        elif item["kind"] == "ReplicaSet":
            owner = next((o["name"] for o in meta.get("ownerReferences", [])), "")
            revision = meta.get("annotations", {}).get(REVISION)
            if owner in deployments and revision == deployments[owner]:
                hashes[owner] = meta.get("labels", {}).get("pod-template-hash", "")
    return hashes


def _current(pod: dict, hashes: dict[str, str]) -> bool:
    labels = pod["metadata"].get("labels", {})
    mine = {labels.get("pod-template-hash"), labels.get("controller-revision-hash")}
    return not pod["metadata"].get("deletionTimestamp") and bool(mine & set(hashes.values()))


def _pods(items: list[dict]) -> list[dict]:
    """The pods of the workloads' current revisions, not being deleted."""
    hashes = current_hashes(items)
    return [i for i in items if i["kind"] == "Pod" and _current(i, hashes)]


def _statuses(items: list[dict]) -> list[tuple[str, dict]]:
    """(pod name, container status) of every (init) container of current pods."""
    return [(pod["metadata"]["name"], cs) for pod in _pods(items) for cs in statuses(pod)]


def failing(items: list[dict], crashes: int = CRASHES) -> list[Failing]:
    """Containers of current pods that wait for a reason in FAILING, or back off after
    `crashes` restarts."""
    found = []
    for pod, cs in _statuses(items):
        waiting = (cs.get("state") or {}).get("waiting") or {}
        reason = str(waiting.get("reason", ""))
        looping = reason == CRASH_LOOP and cs.get("restartCount", 0) >= crashes
        if reason in FAILING or looping:
            found.append(Failing(pod, cs["name"], reason, waiting.get("message", "")))
    return found


def settling(items: list[dict], now: datetime | None = None) -> list[str]:
    """Pods with a container that restarted and has been up less than STEADY seconds, or
    that has no readiness probe and has been up less than YOUNG seconds."""
    now = now or datetime.now(UTC)

    def restarted(cs: dict) -> bool:
        up = up_for(cs, now)
        return bool(cs.get("restartCount", 0)) and up is not None and up < STEADY

    return [
        f"pod/{pod['metadata']['name']}"
        for pod in _pods(items)
        if young(pod, now) or any(restarted(cs) for cs in statuses(pod))
    ]


def unready(items: list[dict]) -> list[str]:
    """`kind/name` of each Deployment or StatefulSet not yet available at its generation."""
    pending = []
    for item in items:
        if item["kind"] not in ("Deployment", "StatefulSet"):
            continue
        meta, status = item["metadata"], item.get("status") or {}
        want = (item.get("spec") or {}).get("replicas", 1)
        observed = status.get("observedGeneration", 0) >= meta.get("generation", 0)
        if item["kind"] == "Deployment":
            done = status.get("updatedReplicas", 0) == want == status.get("availableReplicas", 0)
            done = done and status.get("replicas", 0) == want
        else:
            done = status.get("readyReplicas", 0) == want
            done = done and status.get("currentRevision") == status.get("updateRevision")
        if not (observed and done and serving(items, meta["name"]) >= want):
            pending.append(f"{item['kind'].lower()}/{meta['name']}")
    return pending


def serving(items: list[dict], workload: str) -> int:
    """Ready pods of the workload's current revision that are not being deleted. A
    workload's status lags its pods: just after a pod is deleted it still counts the pod
    as available, before its replacement exists."""
    hashes = current_hashes(items)
    if workload not in hashes:
        return 0
    mine = {workload: hashes[workload]}
    ready = 0
    for pod in (i for i in items if i["kind"] == "Pod" and _current(i, mine)):
        statuses = (pod.get("status") or {}).get("containerStatuses") or ()
        ready += bool(statuses) and all(cs.get("ready") for cs in statuses)
    return ready


def settled(kube: Kube, namespace: str, expected: set[str]) -> bool:
    """Every expected workload exists and is available, no pod fails or settles (one read)."""
    items = kube.json("get", KINDS, "-n", namespace, timeout=30).get("items", [])
    present = {f"{i['kind'].lower()}/{i['metadata']['name']}" for i in items}
    steady = not (failing(items) or unready(items) or settling(items))
    return expected <= present and steady


def last_log_line(kube: Kube, namespace: str, bad: Failing) -> str:
    """The crashed container's line naming its error (its previous run), else the waiting
    message (opskit.kube.logs)."""
    return logs.last_words(kube, namespace, bad.pod, bad.container, bad.message or "no log")


def restart_crashing(kube: Kube, namespace: str, report=print) -> list[str]:
    """Delete the pods that crash-loop now: their controllers start them afresh from the
    configuration just applied, without the back-off of earlier crashes."""
    items = kube.json("get", KINDS, "-n", namespace, timeout=30).get("items", [])
    names = sorted({bad.pod for bad in failing(items, crashes=1) if bad.reason == CRASH_LOOP})
    if names:
        report(f"restarting crash-looping {', '.join(names)}")
        kube.run("delete", "pod", "-n", namespace, "--wait=false", *names, mutates=True, timeout=30)
    return names


def wait_available(kube: Kube, namespace: str, timeout: float = 300.0, report=print) -> float:
    """Until every workload is available; returns the seconds it took."""
    started = time.monotonic()
    last_said = started
    while True:
        items = kube.json("get", KINDS, "-n", namespace, timeout=30).get("items", [])
        for bad in failing(items):
            raise OpsError(
                f"ArgoCD pod {bad.pod} ({bad.container}) is in {bad.reason}: "
                f"{last_log_line(kube, namespace, bad)}",
                f"see `kubectl logs -n {namespace} {bad.pod} -c {bad.container} --previous`; "
                "fix it and run `invoke argocd.install` again",
            )
        pending = unready(items) + settling(items)
        elapsed = time.monotonic() - started
        if not pending:
            return elapsed
        if elapsed > timeout:
            raise OpsError(
                f"ArgoCD not available after {timeout:g}s: {', '.join(pending)} not ready",
                f"see `kubectl get pods -n {namespace}` and `kubectl describe` the pending pods",
            )
        if time.monotonic() - last_said >= 10:
            last_said = time.monotonic()
            report(f"waiting for {', '.join(pending)} ({elapsed:.0f}s)")
        time.sleep(1.0)
