"""kube-score (a third-party checker, built by `invoke tools.install`) over every rendered
overlay. A warning or critical finding fails lint unless IGNORED names it, with the reason
it is deliberate; an IGNORED entry that no longer matches anything fails too (stale).
"""

from __future__ import annotations

import fnmatch
import json
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from opskit.core import shell
from opskit.core.errors import OpsError
from opskit.manifests import kustomize

if TYPE_CHECKING:
    from opskit.core.config import Config, Overlay

GRADES = {1: "CRITICAL", 5: "WARNING"}  # scorecard.Grade; 7 and 10 are fine


@dataclass(frozen=True)
class Ignore:
    check: str  # kube-score check id (`kube-score list`)
    where: str  # "<overlay>/<Kind>/<name>", fnmatch pattern
    reason: str


IGNORED: tuple[Ignore, ...] = (
    # Images are built locally and imported into the cluster (k3d image import / kwok):
    # there is no registry to re-pull from, so Always would break every rollout.
    Ignore("container-image-pull-policy", "*", "images are imported, not pulled"),
    # postgres and redis run as the uid their official images create (999); a uid above
    # 10000 would need a writable /etc/passwd or nss_wrapper in the image.
    Ignore("container-security-context-user-group-id", "*/StatefulSet/postgres", "image uid 999"),
    Ignore("container-security-context-user-group-id", "*/Deployment/redis", "image uid 999"),
    # One replica on purpose: dev runs one of everything; redis is a cache (its loss costs
    # latency, not data).
    Ignore("deployment-replicas", "dev/Deployment/*", "dev runs one replica of each"),
    Ignore("deployment-replicas", "*/Deployment/redis", "a cache: one replica"),
    # The telemetry service holds one fixed MQTT client id (its persistent session on the
    # broker): two pods at once would take the session from each other.
    Ignore("deployment-replicas", "*/Deployment/telemetry", "one MQTT client id"),
    Ignore("deployment-strategy", "*/Deployment/telemetry", "Recreate: one MQTT client id"),
)


@dataclass(frozen=True)
class Finding:
    where: str  # overlay/Kind/name
    check: str
    grade: str
    summary: str

    def __str__(self) -> str:
        return f"{self.where}: [{self.grade}] {self.check}: {self.summary}".rstrip()


def argv(binary: str, file: Path, minor: str) -> list[str]:
    return [
        binary,
        "score",
        "--output-format",
        "json",
        "--kubernetes-version",
        f"v{minor}",
        str(file),
    ]


def findings(overlay: str, output: str) -> list[Finding]:
    """Warning and critical findings of kube-score's JSON (v2) output."""
    found = []
    for obj in json.loads(output or "[]") or []:
        where = f"{overlay}/{obj['type_meta'].get('kind')}/{obj['object_meta'].get('name')}"
        for score in obj.get("checks") or []:
            grade = GRADES.get(score.get("grade"))
            if grade is None or score.get("skipped"):
                continue
            comments = score.get("comments") or [{}]
            summary = "; ".join(
                f"({c['path']}) {c.get('summary', '')}" if c.get("path") else c.get("summary", "")
                for c in comments
            )
            found.append(Finding(where, score["check"]["id"], grade, summary.strip()))
    return sorted(found, key=lambda f: (f.where, f.check))


def ignored_by(finding: Finding, ignores: tuple[Ignore, ...] = IGNORED) -> Ignore | None:
    return next(
        (
            i
            for i in ignores
            if i.check == finding.check and fnmatch.fnmatch(finding.where, i.where)
        ),
        None,
    )


def score(
    cfg: Config, binary: str, overlays: list[Overlay] | None = None
) -> dict[str, list[Finding]]:
    """Each overlay's findings (ignored ones included), rendered exactly as deployed."""
    rendered = kustomize.render_many(cfg, overlays or list(cfg.overlays.values()))
    result = {}
    with tempfile.TemporaryDirectory(prefix="kube-score-") as folder:
        for name, objects in rendered.items():
            file = Path(folder) / f"{name}.yaml"
            file.write_text(kustomize.dump(objects))
            run = shell.run(argv(binary, file, cfg.kubernetes.minor), check=False, timeout=120)
            if run.returncode not in (0, 1) or not run.stdout.strip().startswith("["):
                raise OpsError(
                    f"kube-score failed on overlay {name}: {run.stderr.strip()[:200]}",
                    "run `invoke tools.install --only=kube-score`",
                )
            result[name] = findings(name, run.stdout)
    return result


def verdict(
    results: dict[str, list[Finding]], ignores: tuple[Ignore, ...] = IGNORED
) -> tuple[list[Finding], list[Ignore]]:
    """(findings not ignored, ignore entries that matched nothing)."""
    every = [f for found in results.values() for f in found]
    new = [f for f in every if ignored_by(f, ignores) is None]
    used = {ignored_by(f, ignores) for f in every} - {None}
    return new, [i for i in ignores if i not in used]
