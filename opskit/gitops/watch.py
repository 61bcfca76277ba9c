"""`invoke release --watch` and `invoke promote --watch`: follow a change through ArgoCD,
and roll it back in git.

Before the change, the Application's last good revision is noted (`wait.last_good`: the one
it is Synced and Healthy at, or for an OutOfSync but Healthy one, the one it last synced).
After it, the Application is refreshed (and synced, when ArgoCD does not sync it by itself)
and waited for. If it goes Degraded or the wait times out, one commit
`chore(<kind>): revert ...` brings the repository back to the last good revision (a revert
of every commit since: for a lone change that is `git revert` of it), pushed where the
change was pushed. Then the revert is waited for; the task fails with one line saying what
happened. Self-heal cannot undo the rollback: git says the old image.
"""

from __future__ import annotations

from collections.abc import Callable
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
    last_good: str  # "" when the Application had no healthy revision before the change
    timeout: float
    sync: Callable[[], object] | None = None  # for an Application ArgoCD does not sync itself


@dataclass(frozen=True)
class Change:
    """A commit `--watch` follows and reverts: `chore(<kind>): <subject>`."""

    kind: str  # release | promote
    subject: str
    title: str  # how the failure line names it: "release <tag> to dev"
    push_argv: tuple[str, ...] | None  # where it was pushed (the revert goes there too)

    @classmethod
    def of_release(cls, release: Release) -> Change:
        subject = release.message.removeprefix("chore(release): ")
        title = f"release {release.tag} to {release.overlay}"
        return cls("release", subject, title, release.push_argv if release.pushed else None)


def prepare(cfg: Config, kube: Kube, overlay: Overlay, timeout: float) -> Watch:
    """Before the change: which Application, its last good revision, and how to sync it
    when ArgoCD does not by itself (no `syncPolicy.automated`, as prod)."""
    spec = argocd.application_for(cfg, overlay)
    app = spec["metadata"]["name"]
    good, _ = wait.last_good(wait.read(kube, cfg.require_argocd().namespace, app))  # or: absent
    automated = ((spec.get("spec") or {}).get("syncPolicy") or {}).get("automated") is not None
    sync = None if automated else (lambda: argocd.sync(cfg, kube, overlay))
    return Watch(kube, cfg.require_argocd().namespace, app, good, timeout, sync)


def _git(root: Path, *args: str, mutates: bool = True) -> str:
    return shell.run(["git", "-C", str(root), *args], mutates=mutates, timeout=60).stdout.strip()


def follow(watch: Watch, root: Path, report=print) -> wait.State:
    """Wait for HEAD to be Synced and Healthy (`wait` asks ArgoCD to read it from git)."""
    head = _git(root, "rev-parse", "HEAD", mutates=False)
    return wait.wait(
        watch.kube, watch.namespace, watch.app, head, watch.timeout, report, sync=watch.sync
    )


def revert(
    root: Path, release_commit: str, last_good: str, subject: str, why: str, kind: str = "release"
) -> str:
    """One commit undoing everything since `last_good` (or just the change); its SHA."""
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
            f"the {kind} failed ({why}) and reverting {span} conflicts",
            f"revert it by hand: `git revert {span}`, then push",
        )
    base = f"back to {last_good[:12]}, the last revision ArgoCD had Synced and Healthy"
    body = f"{base}." if last_good else f"back {release_commit[:12]}."
    message = f"chore({kind}): revert {subject}\n\n{why}\n\nRolls {body}\n\n{SKIP_CI}"
    _git(root, "commit", "-q", "--no-verify", "-m", message)
    return _git(root, "rev-parse", "HEAD", mutates=False)


def watch_release(watch: Watch, root: Path, release: Release, report=print) -> wait.State:
    """Wait for the release; on failure roll it back in git and raise one clear line."""
    return watch_change(watch, root, Change.of_release(release), report)


def watch_change(watch: Watch, root: Path, change: Change, report=print) -> wait.State:
    """Wait for HEAD (the change); on failure roll it back in git, push the revert where
    the change went, wait for it, and raise one clear line."""
    try:
        return follow(watch, root, report)
    except OpsError as failure:
        why = failure.message
    report(f"{change.kind} failed: {why}")
    head = _git(root, "rev-parse", "HEAD", mutates=False)
    sha = revert(root, head, watch.last_good, change.subject, why, change.kind)
    report(f"committed `chore({change.kind}): revert {change.subject}` ({sha[:12]})")
    if change.push_argv:
        command = " ".join(change.push_argv)
        shell.run(
            list(change.push_argv),
            cwd=str(root),
            mutates=True,
            timeout=120,
            hint=f"push the revert by hand: `{command}`",
        )
        report(f"pushed: {command}")
    try:
        follow(watch, root, report)
    except OpsError as again:
        raise OpsError(
            f"{change.title} failed ({why}); the revert {sha[:12]} did not become healthy "
            f"either: {again.message}",
            "inspect it with `invoke argocd.status`",
        ) from None
    raise OpsError(
        f"{change.title} failed ({why}); rolled back in git: {sha[:12]} is Synced and Healthy"
    )
