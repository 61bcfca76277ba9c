"""What a deploy did, as a value: filled in by opskit.deploy.pipeline as it goes, written by
opskit.deploy.records as report.json (schemas/deploy-report.schema.json), junit.xml and a
Markdown step summary. Nothing secret is recorded: object names, revisions, images, times.
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime

from opskit.core import shell
from opskit.core.progress import Notify
from opskit.kube.ref import ObjectRef

SCHEMA_VERSION = 1
LOG_LINES = 200  # the tail of the deploy's own output kept for failure diagnostics


def now() -> str:
    """UTC now, to the second, as Kubernetes writes timestamps."""
    return datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


@dataclass
class Check:
    name: str
    ok: bool
    seconds: float
    detail: str = ""


@dataclass
class ObjectResult:
    object: str  # Kind/name
    result: str  # created | applied


@dataclass
class Rollout:
    workload: str  # kind/name
    status: str  # rolled-out | unchanged | failed | rolled-back
    revision: int | None
    images: list[str]
    seconds: float | None = None
    detail: str = ""


@dataclass
class Rollback:
    workload: str
    from_revision: int | None
    to_revision: int | None


@dataclass
class DeployRecord:
    overlay: str
    kind: str = "deploy"  # or "smoke": the checks of `nox -s cluster-smoke`
    context: str = ""
    commit: str = ""
    image: str = ""
    digest: str | None = None  # the image digest, where the cluster reports one
    manifest_hash: str = ""  # sha256 of the rendered objects applied (Secrets excluded)
    dry_run: bool = False
    status: str = "failed"  # succeeded | failed | rolled-back | dry-run
    error: str = ""
    started_at: str = field(default_factory=now)
    finished_at: str = ""
    seconds: float = 0.0
    objects: list[ObjectResult] = field(default_factory=list)
    rollouts: list[Rollout] = field(default_factory=list)
    rollback: list[Rollback] = field(default_factory=list)
    checks: list[Check] = field(default_factory=list)
    log: list[str] = field(default_factory=list)
    _started: float = field(default_factory=time.monotonic, repr=False)
    _applied: float | None = field(default=None, repr=False)  # when the apply finished

    def tee(self, notify: Notify) -> Notify:
        """`notify`, also keeping each line (redacted) for the failure diagnostics."""

        def both(message: str) -> None:
            self.log = [*self.log, *shell.redact(message).splitlines()][-LOG_LINES:]
            notify(message)

        return both

    @contextlib.contextmanager
    def check(self, name: str, detail: str = "") -> Iterator[Check]:
        """Time a step; it passes unless it raises (the error becomes its detail)."""
        started = time.monotonic()
        item = Check(name, True, 0.0, detail)
        try:
            yield item
        except BaseException as exc:
            item.ok, item.detail = False, shell.redact(str(exc))
            raise
        finally:
            item.seconds = round(time.monotonic() - started, 3)
            self.checks.append(item)

    def applied(self, output: str, since: str) -> None:
        """Per-object results from `kubectl apply --output=json` (created after `since`);
        rollout seconds count from here."""
        self._applied = time.monotonic()
        data = json.loads(output or "{}")
        items = data.get("items", []) if data.get("kind") == "List" else [data] if data else []
        for item in items:
            meta = item.get("metadata") or {}
            new = str(meta.get("creationTimestamp", "")) >= since
            ref = ObjectRef.of(item).kind_name
            self.objects.append(ObjectResult(ref, "created" if new else "applied"))

    def rollout(self, workload, status: str, seconds: float | None = None, detail: str = ""):
        """Record (or update) one workload's rollout (`workload`: an opskit.rollout.Workload)."""
        shown = workload.ref.resource
        self.rollouts = [r for r in self.rollouts if r.workload != shown]
        self.rollouts.append(
            Rollout(shown, status, workload.revision, list(workload.images), seconds, detail)
        )

    def ready(self, workload, seconds: float) -> None:
        """opskit.kube.rollout.wait's `on_ready`: a workload finished rolling out (`seconds` of
        waiting; counted from the apply when the record saw it)."""
        if self._applied is not None:
            seconds = time.monotonic() - self._applied
        self.rollout(workload, "rolled-out", round(seconds, 3))

    def finish(self, status: str, error: str = "") -> None:
        self.status, self.error = status, shell.redact(error)
        self.finished_at = now()
        self.seconds = round(time.monotonic() - self._started, 3)

    def as_json(self) -> dict:
        data = asdict(self)
        data.pop("_started")
        data.pop("_applied")
        return {"schema_version": SCHEMA_VERSION, **data}


def manifest_hash(objects: list[dict]) -> str:
    """sha256 of the rendered objects as canonical JSON (sorted keys): the same objects give
    the same hash whatever their YAML layout."""
    import hashlib
    import json

    return hashlib.sha256(json.dumps(objects, sort_keys=True).encode()).hexdigest()


def planned(record: DeployRecord, plan) -> None:
    """What the plan settled: the image, the commit, the hash of the rendered objects."""
    record.image = plan.image
    record.commit = plan.commit
    record.manifest_hash = manifest_hash(plan.objects)
    record.checks.append(Check("served APIs", True, 0.0, "\n".join(plan.unserved)))


@contextlib.contextmanager
def restoring(record: DeployRecord, before: dict, todo: list):
    """Around opskit.deploy.rollback's restore after a failed rollout: record each workload the
    deploy had changed as put back to the revision it had before (its template restored)."""
    try:
        yield
    finally:
        failed = {r.workload: r.detail for r in record.rollouts if r.status == "failed"}
        for workload in todo:
            previous = before.get(workload.ref)
            if previous is None:
                continue  # new in this deploy: removed again, no revision to go back to
            shown = workload.ref.resource
            record.rollback.append(Rollback(shown, workload.revision, previous.revision))
            status = "failed" if shown in failed else "rolled-back"
            record.rollout(workload, status, detail=failed.get(shown, ""))
