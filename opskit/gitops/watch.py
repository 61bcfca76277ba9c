"""`invoke release --watch`: follow a release through ArgoCD, and roll it back in git.

Before the release commit, the Application's revision is noted if it is Synced and Healthy
(the last good one). After it, the Application is refreshed and waited for. If it goes
Degraded or the wait times out, one commit `chore(release): revert ...` brings the
repository back to the last good revision (a revert of every commit since: for a lone
release commit that is `git revert` of it), pushed where the release was pushed. Then the
revert is waited for; the task fails with one line saying what happened. Self-heal cannot
undo the rollback: git says the old image.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from opskit.core import shell
from opskit.core.errors import OpsError
from opskit.gitops import argocd, wait
from opskit.gitops.release import SKIP_CI
from opskit.kube.kubectl import Kube

if TYPE_CHECKING:
    from opskit.core.config import Config, Overlay
    from opskit.gitops.release import Release


@dataclass(frozen=True)
class Watch:
    kube: Kube
    namespace: str
    app: str
    last_good: str  # "" when the Application was not Synced+Healthy before the release
    timeout: float


def prepare(cfg: Config, kube: Kube, overlay: Overlay, timeout: float) -> Watch:
    """Before the release: which Application, and its last good revision."""
    app = argocd.application_for(cfg, overlay)["metadata"]["name"]
    argocd.require_installed(kube)
    state = wait.State.of(wait.read(kube, cfg.require_argocd().namespace, app))
    good = state.revision if (state.sync, state.health) == ("Synced", "Healthy") else ""
    return Watch(kube, cfg.require_argocd().namespace, app, good, timeout)


def _git(root: Path, *args: str, mutates: bool = True) -> str:
    return shell.run(["git", "-C", str(root), *args], mutates=mutates, timeout=60).stdout.strip()


def follow(watch: Watch, root: Path, report=print) -> wait.State:
    """Wait for HEAD to be Synced and Healthy (`wait` asks ArgoCD to read it from git)."""
    head = _git(root, "rev-parse", "HEAD", mutates=False)
    return wait.wait(watch.kube, watch.namespace, watch.app, head, watch.timeout, report=report)


def revert(root: Path, release_commit: str, last_good: str, subject: str, why: str) -> str:
    """One commit undoing everything since `last_good` (or just the release); its SHA."""
    span = f"{last_good}..{release_commit}" if last_good else release_commit
    result = shell.run(
        ["git", "-C", str(root), "revert", "--no-commit", span],
        check=False,
        mutates=True,
        timeout=60,
    )
    if result.returncode != 0:
        shell.run(["git", "-C", str(root), "revert", "--abort"], check=False, mutates=True)
        raise OpsError(
            f"the release failed ({why}) and reverting {span} conflicts",
            f"revert it by hand: `git revert {span}`, then push",
        )
    base = f"back to {last_good[:12]}, the last revision ArgoCD had Synced and Healthy"
    body = f"{base}." if last_good else f"reverts {release_commit[:12]}."
    message = f"chore(release): revert {subject}\n\n{why}\n\nRolls {body}\n\n{SKIP_CI}"
    _git(root, "commit", "-q", "--no-verify", "-m", message)
    return _git(root, "rev-parse", "HEAD", mutates=False)


def watch_release(watch: Watch, root: Path, release: Release, report=print) -> wait.State:
    """Wait for the release; on failure roll it back in git and raise one clear line."""
    try:
        return follow(watch, root, report)
    except OpsError as failure:
        why = failure.message
    report(f"release failed: {why}")
    subject = release.message.removeprefix("chore(release): ")
    sha = revert(
        root, _git(root, "rev-parse", "HEAD", mutates=False), watch.last_good, subject, why
    )
    report(f"committed `chore(release): revert {subject}` ({sha[:12]})")
    if release.pushed:
        shell.run(
            list(release.push_argv),
            cwd=str(root),
            mutates=True,
            timeout=120,
            hint=f"push the revert by hand: `{release.push_command()}`",
        )
        report(f"pushed: {release.push_command()}")
    try:
        follow(watch, root, report)
    except OpsError as again:
        raise OpsError(
            f"release {release.tag} to {release.overlay} failed ({why}); the revert "
            f"{sha[:12]} did not become healthy either: {again.message}",
            "inspect it with `invoke argocd.status`",
        ) from None
    raise OpsError(
        f"release {release.tag} to {release.overlay} failed ({why}); rolled back in git: "
        f"{sha[:12]} is Synced and Healthy"
    )
