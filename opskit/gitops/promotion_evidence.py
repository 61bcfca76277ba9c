"""What proves a revision of the source overlay healthy, for `invoke promote`.

Either ArgoCD's own record: the source Application's last good revision (`wait.last_good`:
Synced and Healthy, or OutOfSync but Healthy at its last sync) with the time ArgoCD
finished deploying it (`status.history`); or two reports of the suite: a succeeded
`invoke deploy --report` of the revision to a context the overlay allows, and a passing
`nox -s cluster-smoke -- --report` after it. Without either, nothing is promoted.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from opskit.core import yamlio
from opskit.core.errors import OpsError
from opskit.gitops import argocd, wait

if TYPE_CHECKING:
    from opskit.core.config import Config, Overlay
    from opskit.kube.kubectl import Kube

REPORTS_HINT = "or pass --deploy-report and --smoke-report of a passing deploy of it"


@dataclass(frozen=True)
class Evidence:
    revision: str  # the full commit proven healthy
    source: str  # argocd | reports
    detail: str  # what says so, one line
    time: str  # since when (ISO, UTC): ArgoCD's deployedAt, or the smoke report's end

    def age(self, now: datetime | None = None) -> float:
        """Seconds the revision has been proven healthy (0 when the time is unknown)."""
        if not self.time:
            return 0.0
        since = datetime.fromisoformat(self.time.replace("Z", "+00:00"))
        return ((now or datetime.now(UTC)) - since).total_seconds()


def from_argocd(cfg: Config, kube: Kube, overlay: Overlay) -> Evidence:
    """The source Application's last good revision, as ArgoCD reports it now."""
    name = argocd.application_for(cfg, overlay)["metadata"]["name"]
    argocd.require_installed(kube)
    obj = wait.read(kube, cfg.require_argocd().namespace, name)
    revision, deployed = wait.last_good(obj)
    state = wait.State.of(obj, name)
    if not revision:
        raise OpsError(
            f"no evidence for {overlay.name}: {name} is {state.sync}/{state.health} at "
            f"{state.revision[:12] or '-'}, no revision ArgoCD reports Healthy",
            f"wait until it is (`invoke argocd.wait --overlay={overlay.name}`), {REPORTS_HINT}",
        )
    shown = "Synced/Healthy" if revision == state.revision else "last synced, Healthy"
    return Evidence(commit_of(cfg.root, revision), "argocd", f"ArgoCD {name} {shown}", deployed)


def from_reports(cfg: Config, overlay: Overlay, deploy: Path, smoke: Path) -> Evidence:
    """A succeeded deploy of the overlay to an allowed context, then a smoke run that passed."""
    dep, smo = _report(deploy, "deploy"), _report(smoke, "smoke")
    for path, data in ((deploy, dep), (smoke, smo)):
        if data.get("overlay") != overlay.name:
            raise OpsError(
                f"{path}: a report of overlay {data.get('overlay')!r}, not {overlay.name}",
                f"pass the reports of a deploy of {overlay.name}",
            )
    if dep.get("status") != "succeeded" or dep.get("dry_run"):
        raise OpsError(
            f"{deploy}: the deploy {dep.get('status', 'did not succeed')}, it proves nothing",
            "pass the report of a deploy that succeeded",
        )
    if dep.get("context") not in overlay.contexts:
        raise OpsError(
            f"{deploy}: deployed to context {dep.get('context')!r}, which overlay "
            f"{overlay.name} does not allow ({', '.join(overlay.contexts)})",
            "pass the report of a deploy to a cluster the overlay allows",
        )
    checks = smo.get("checks") or []
    failed = [c.get("name", "?") for c in checks if not c.get("ok")]
    if not checks or failed or smo.get("status") == "failed":
        raise OpsError(
            f"{smoke}: the smoke checks did not pass ({', '.join(failed) or 'none ran'})",
            "run `nox -s cluster-smoke -- --report=DIR` against the deploy until it passes",
        )
    if str(smo.get("finished_at", "")) < str(dep.get("finished_at", "")):
        raise OpsError(
            f"{smoke}: the smoke run ended before the deploy did: it checked something else",
            "run the smoke checks after the deploy",
        )
    revision = commit_of(cfg.root, str(dep.get("commit", "")))
    detail = f"deploy report {deploy.name} ({dep['context']}) + smoke report {smoke.name}"
    return Evidence(revision, "reports", detail, str(smo.get("finished_at", "")))


def _report(path: Path, kind: str) -> dict:
    data = yamlio.load_json_file(path)  # unreadable or invalid: one line naming the file
    if not isinstance(data, dict) or data.get("kind", "deploy") != kind:
        raise OpsError(f"{path}: not a {kind} report", f"pass the {kind} report.json")
    return data


def commit_of(root: Path, revision: str) -> str:
    """The full SHA of a proven revision, which must be in this clone."""
    try:
        return wait.commit_of(root, revision or "-")
    except OpsError:
        raise OpsError(
            f"the proven revision {revision[:12] or '(none)'} is not in this clone",
            "fetch it first: `git fetch origin`",
        ) from None


def require_soak(evidence: Evidence, seconds: float, overlay: str) -> None:
    """The revision has been proven healthy for at least `seconds`."""
    if seconds <= 0:
        return
    age = evidence.age()
    if not evidence.time or age < seconds:
        since = f"since {evidence.time} ({age:.0f}s)" if evidence.time else "for an unknown time"
        raise OpsError(
            f"{overlay}@{evidence.revision[:12]} has been healthy {since}, less than the "
            f"soak of {seconds:g}s",
            "promote it later, or with a shorter --soak",
        )
