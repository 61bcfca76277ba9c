"""Follow an Application: wait for Synced+Healthy at a revision, explain why not.

The controller resolves the branch again on a hard refresh (annotation
`argocd.argoproj.io/refresh: hard`, what `argocd app get --hard-refresh` writes). `wait`
asks for one as soon as the Application compares against another revision than the one
waited for, so neither a release nor `argocd.wait --revision` waits for the next poll
(3 minutes by default).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from opskit.core import shell
from opskit.core.errors import OpsError
from opskit.kube import reads
from opskit.kube.kubectl import Kube

APPLICATIONS = "applications.argoproj.io"
NOT_INSTALLED = "ArgoCD is not installed in this cluster (no Application CRD)"
NOT_INSTALLED_HINT = "install it first: `invoke argocd.install`"
REFRESH_ANNOTATION = "argocd.argoproj.io/refresh"
REFRESH = {"metadata": {"annotations": {REFRESH_ANNOTATION: "hard"}}}
POLL_SECONDS = 0.25  # an in-process read each (kubectl's where the cluster needs it)
# A comparison error can come from a stale cached diff (with ServerSideApply the controller
# reuses its server-side diffs while the live objects are unchanged); a hard refresh compares
# without that cache, so `wait` asks for one when an error outlasts STUCK_SECONDS, and again
# every REFRESH_EVERY, and names the error if it stays. (The one seen here was not of that
# kind: a claim template rendered differently by two kustomize versions, an immutable field;
# see tests/e2e/test_render_parity.py. ArgoCD 3.6 then reports "error unmarshaling predicted
# live for secret masking" in its log, the real message is in the Application's conditions.)
STUCK_SECONDS = 5.0
REFRESH_EVERY = 15.0
UNHEALTHY = ("Degraded", "Missing", "Unknown", "Suspended", "Progressing")
OPERATING = ("Running", "Requested", "Terminating")


@dataclass(frozen=True)
class State:
    """What `argocd.wait` and `argocd.status --json` report about one Application."""

    name: str
    revision: str  # full commit ArgoCD compared against (sources: the first)
    sync: str
    health: str
    operation: str  # phase of the last (or running) operation, "" when none
    operation_revision: str
    message: str  # the last operation's message

    @classmethod
    def of(cls, obj: dict, name: str = "") -> State:
        if not obj:  # not created yet
            return cls(name, "", "Missing", "Missing", "", "", "not created yet")
        status = obj.get("status") or {}
        sync = status.get("sync") or {}
        op = status.get("operationState") or {}
        result = op.get("syncResult") or {}
        revision = sync.get("revision") or (sync.get("revisions") or [""])[0]
        op_revision = result.get("revision") or (result.get("revisions") or [""])[0]
        return cls(
            name=obj["metadata"]["name"],
            revision=str(revision or ""),
            sync=sync.get("status", "Unknown"),
            health=(status.get("health") or {}).get("status", "Unknown"),
            operation="Requested" if obj.get("operation") else op.get("phase", ""),
            operation_revision=str(op_revision or ""),
            message=str(op.get("message", ""))[:200],
        )

    def as_json(self) -> dict:
        return {
            "name": self.name,
            "revision": self.revision,
            "sync": self.sync,
            "health": self.health,
            "last_operation": {
                "phase": self.operation,
                "revision": self.operation_revision,
                "message": self.message,
            },
        }

    def line(self) -> str:
        op = f", operation {self.operation}" if self.operation else ""
        return f"{self.name}: {self.sync}/{self.health} at {self.revision[:12] or '-'}{op}"


def commit_of(root: Path, revision: str) -> str:
    """The full SHA of `revision` in the clone; a one-line error when it names no commit."""
    result = shell.run(
        ["git", "-C", str(root), "rev-parse", "--verify", "-q", f"{revision}^{{commit}}"],
        check=False,
        timeout=30,
    )
    if result.returncode != 0:
        raise OpsError(
            f"revision {revision!r} is not a commit of this repository",
            "pass a commit SHA, branch or tag (`git log --oneline`)",
        )
    return result.stdout.strip()


def read(kube: Kube, namespace: str, name: str, missing_ok: bool = False) -> dict:
    """The Application; with `missing_ok` an absent one is {} (the root has not made it yet).
    In-process where the cluster allows it (opskit.kube.reads: ~1 ms a poll instead of a
    kubectl process); kubectl otherwise and for any answer but the object, so its errors
    stay the ones users see."""
    path = f"/apis/argoproj.io/v1alpha1/namespaces/{namespace}/applications/{name}"
    if (found := reads.read_path(kube, path)) is not None:
        return found
    result = kube.run(
        "get", APPLICATIONS, name, "-n", namespace, "-o", "json", check=False, timeout=30
    )
    if result.returncode == 0:
        return json.loads(result.stdout)
    if missing_ok and "NotFound" in result.stderr:
        return {}
    if "the server doesn't have a resource type" in result.stderr:  # no Application CRD
        raise OpsError(NOT_INSTALLED, NOT_INSTALLED_HINT)
    raise OpsError(
        f"Application {namespace}/{name} not found",
        "bootstrap it first: `invoke argocd.bootstrap`",
    )


def refresh(
    kube: Kube, namespace: str, name: str, dry_run: bool = False, check: bool = True
) -> shell.Result:
    """Ask the controller to re-read git for this Application now (a hard refresh, what
    `argocd app get --hard-refresh` asks). `check=False`: best effort, one quick try (an
    API server that does not answer within 5 s is given up on)."""
    quick = () if check else ("--request-timeout=5s",)
    step = kube.step(
        "patch",
        APPLICATIONS,
        name,
        "-n",
        namespace,
        "--type",
        "merge",
        "-p",
        json.dumps(REFRESH, separators=(",", ":")),
        *quick,
        what=f"refresh {name}",
        mutates=True,
        timeout=30 if check else 10,
    )
    return shell.run_step(step, check=check, dry_run=dry_run)


def unhealthy(obj: dict) -> str:
    """The first resource that is not Healthy, as `Kind namespace/name Health (message)`."""
    for res in (obj.get("status") or {}).get("resources") or []:
        health = res.get("health") or {}
        if health.get("status", "Healthy") != "Healthy":
            where = f"{res.get('namespace')}/{res['name']}" if res.get("namespace") else res["name"]
            why = f" ({health['message'][:160]})" if health.get("message") else ""
            return f"{res['kind']} {where} {health['status']}{why}"
    return ""


def comparison_error(obj: dict) -> str:
    """The controller's first error condition (ComparisonError, InvalidSpecError, ...)."""
    for condition in (obj.get("status") or {}).get("conditions") or []:
        if str(condition.get("type", "")).endswith("Error"):
            return f"{condition['type']}: {str(condition.get('message', ''))[:200]}"
    return ""


def last_good(obj: dict) -> tuple[str, str]:
    """The revision the Application's live objects are Healthy at, and when ArgoCD finished
    deploying it (ISO time, "" when it keeps no history): Synced+Healthy, the compared
    revision; OutOfSync but Healthy (git moved on, the sync not done yet: a manual-sync app),
    the revision of its last sync. ("", "") when there is none (ArgoCD 3.6 keeps no health
    transition times: `health.lastTransitionTime` is deprecated and unset)."""
    state = State.of(obj)
    if not obj or state.health != "Healthy" or state.operation in OPERATING:
        return "", ""
    history = (obj.get("status") or {}).get("history") or [{}]
    last = history[-1]
    deployed = str(last.get("deployedAt") or "")
    synced = str(last.get("revision") or (last.get("revisions") or [""])[0])
    if state.sync == "Synced":
        return state.revision, deployed
    if state.sync == "OutOfSync" and synced:
        return synced, deployed
    return "", ""


def behind(obj: dict, state: State, revision: str) -> bool:
    """The Application exists but compares against another revision, with no operation
    running and no refresh pending: the controller has not read `revision` from git yet, and
    nobody has asked it to (`invoke release` asks, as a push webhook would)."""
    return (
        bool(obj)
        and state.revision != revision
        and state.operation not in OPERATING
        and not refresh_pending(obj)
    )


def refresh_pending(obj: dict) -> bool:
    """A refresh was asked for and the controller has not finished it: it removes the
    annotation with the status of that comparison (the same patch), so a second request
    would only queue a second comparison of the same revision."""
    annotations = (obj.get("metadata") or {}).get("annotations") or {}
    return REFRESH_ANNOTATION in annotations


def unsynced(obj: dict, state: State, revision: str) -> bool:
    """The controller compares against `revision` and finds it OutOfSync, no operation
    running: an Application without automated sync waits for a sync request."""
    return (
        bool(obj)
        and state.revision == revision
        and state.sync == "OutOfSync"
        and (state.operation not in OPERATING)
    )


def done(state: State, revision: str) -> bool:
    return (
        state.sync == "Synced"
        and state.health == "Healthy"
        and state.revision == revision
        and state.operation not in OPERATING
    )


@dataclass
class _Nudges:
    """What `wait` asks of ArgoCD between polls, each request at most every REFRESH_EVERY: a
    refresh while it has not read `revision` from git, a sync (when `sync` is given) while it
    waits for one, a hard refresh once a comparison error outlasts STUCK_SECONDS."""

    kube: Kube
    namespace: str
    name: str
    revision: str
    report: Callable[[str], object]
    sync: Callable[[], object] | None = None
    asked: float | None = None
    synced: float | None = None
    refreshed: float | None = None
    erring_since: float | None = None

    def after(self, obj: dict, state: State, now: float) -> None:
        name, revision = self.name, self.revision
        if behind(obj, state, revision) and _due(self.asked, now):
            self.report(f"{name}: asking ArgoCD to read {revision[:12]} from git now (refresh)")
            refresh(self.kube, self.namespace, name)
            self.asked = now
        if self.sync and unsynced(obj, state, revision) and _due(self.synced, now):
            self.report(f"{name}: OutOfSync at {revision[:12]}; requesting a sync")
            self.sync()
            self.synced = now
        error = comparison_error(obj)
        if not error:
            self.erring_since = None
            return
        self.erring_since = now if self.erring_since is None else self.erring_since
        if now - self.erring_since >= STUCK_SECONDS and _due(self.refreshed, now):
            self.report(f"{name}: {error}; asking for a hard refresh (compares without the cache)")
            refresh(self.kube, self.namespace, name)
            self.refreshed = now


def _due(last: float | None, now: float) -> bool:
    return last is None or now - last >= REFRESH_EVERY


def wait(
    kube: Kube,
    namespace: str,
    name: str,
    revision: str,
    timeout: float,
    report=print,
    clock=time.monotonic,
    sync: Callable[[], object] | None = None,
) -> State:
    """Until the Application is Synced and Healthy at `revision`; progress lines on every
    change; an OpsError naming the unhealthy resource on Degraded (after the sync of the
    revision) or on timeout. `sync` requests a sync (an Application ArgoCD does not sync by
    itself) when it is OutOfSync at `revision`, again every REFRESH_EVERY while it stays so."""
    deadline = clock() + timeout
    nudges = _Nudges(kube, namespace, name, revision, report, sync)
    last = ""
    while True:
        obj = read(kube, namespace, name, missing_ok=True)
        state = State.of(obj, name)
        if done(state, revision):
            return state
        if state.line() != last:
            last = state.line()
            report(last)
        now = clock()
        nudges.after(obj, state, now)
        at_revision = state.revision == revision and state.operation not in ("Running", "Requested")
        if at_revision and state.health == "Degraded":
            raise OpsError(_failure(state, obj, "is Degraded"), _hint(name))
        if now > deadline:
            raise OpsError(
                _failure(state, obj, f"not Synced+Healthy at {revision[:12]} after {timeout:g}s"),
                _hint(name),
            )
        time.sleep(POLL_SECONDS)


def _failure(state: State, obj: dict, what: str) -> str:
    culprit = (
        unhealthy(obj) or comparison_error(obj) or state.message or f"{state.sync}/{state.health}"
    )
    return f"{state.name} {what}: {culprit}"


def _hint(name: str) -> str:
    return f"inspect it: `invoke argocd.status`, `kubectl -n argocd get application {name} -o yaml`"
