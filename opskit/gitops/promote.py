"""`invoke promote --from=dev --to=prod`: move to the next overlay exactly the images the
previous one was proven healthy with, as one reviewable git commit.

The commit changes only the target's kustomization (`images:` pinned to the tags the source
overlay pins at the proven revision) and names its evidence in git trailers, so the audit
(`--history`) is `git log`. A protected target gets the commit on a branch of its own for a
pull request; another one on the current branch, like `release`. Secrets are not touched:
each overlay keeps its own SOPS files and recipients.
"""

from __future__ import annotations

import contextlib
import shlex
import time
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

from opskit.core import gitinfo, shell, yamlio
from opskit.core.errors import OpsError
from opskit.gitops import release, watch

if TYPE_CHECKING:
    from opskit.core.config import Config, Overlay
    from opskit.gitops.promotion_evidence import Evidence

PREFIX = "chore(promote): "
HOLD_FILE = "promotion.yaml"
MERGE_POLL_SECONDS = 2.0


@dataclass(frozen=True)
class Promotion:
    source: str
    target: str
    evidence: Evidence
    tags: dict[str, str]  # image name -> tag, as the source pins them at the revision
    message: str
    base: str  # HEAD before the promotion
    commit: str = ""  # the promotion commit ("" when nothing changed or a dry run)
    branch: str = ""  # the branch it is on, for a protected target
    push_argv: tuple[str, ...] = ()
    pushed: bool = False
    images: tuple[str, ...] = field(default=())  # the entries it re-pinned

    @property
    def subject(self) -> str:
        return self.message.splitlines()[0]

    def push_command(self) -> str:
        return shlex.join(self.push_argv)


def overlays(cfg: Config, source: str, target: str) -> tuple[Overlay, Overlay]:
    """Both overlays, known and distinct (one line otherwise)."""
    src, dst = cfg.overlay(source), cfg.overlay(target)
    if src.name == dst.name:
        raise OpsError(
            f"cannot promote {src.name} to itself",
            f"name another target, e.g. `--from={src.name} --to=<next overlay>`",
        )
    return src, dst


def require_no_hold(cfg: Config, overlay: Overlay) -> None:
    """A hold file in the target overlay (`promotion: {hold: <reason>, by: <who>}`) stops it."""
    path = overlay.path / HOLD_FILE
    if not path.is_file():
        return
    data = (yamlio.load_file(path) or {}).get("promotion") or {}
    reason = str(data.get("hold") or "").strip()
    if not reason:
        return
    who = str(data.get("by") or "") or _last_author(cfg.root, path)
    raise OpsError(
        f"{overlay.name} is held by {who}: {reason}",
        f"promote when they remove {path.relative_to(cfg.root)} (or its `hold:`)",
    )


def _last_author(root: Path, path: Path) -> str:
    out = shell.run(
        ["git", "-C", str(root), "log", "-1", "--format=%an <%ae>", "--", str(path)],
        check=False,
        timeout=30,
    ).stdout.strip()
    return out or "someone (the file is not committed)"


def source_tags(cfg: Config, overlay: Overlay, revision: str) -> dict[str, str]:
    """The image tags the source overlay's kustomization pins at `revision`."""
    rel = (overlay.path / "kustomization.yaml").relative_to(cfg.root).as_posix()
    shown = shell.run(
        ["git", "-C", str(cfg.root), "show", f"{revision}:{rel}"], check=False, timeout=30
    )
    if shown.returncode != 0:
        raise OpsError(f"{rel} does not exist at {revision[:12]}", "is it a kustomize overlay?")
    data = yamlio.load(shown.stdout, f"{rel} at {revision[:12]}") or {}
    tags = {
        str(e["name"]): str(e["newTag"])
        for e in data.get("images") or []
        if e.get("name") in cfg.images and e.get("newTag") is not None
    }
    if cfg.app.name not in tags:
        raise OpsError(
            f"{rel} at {revision[:12]} pins no tag for {cfg.app.name}",
            f"release it first: `invoke release --overlay={overlay.name}`",
        )
    return tags


def message(cfg: Config, src: Overlay, dst: Overlay, ev: Evidence, tags: dict) -> str:
    """`chore(promote): dev@<rev> -> prod`, a line of why, and the trailer block."""
    images = [f"Image: {name}={cfg.images[name].repository}:{tag}" for name, tag in tags.items()]
    return "\n".join(
        [
            f"{PREFIX}{src.name}@{ev.revision[:12]} -> {dst.name}",
            "",
            f"Pins {dst.name} to the images {src.name} runs healthy at {ev.revision[:12]}.",
            "",
            f"Promoted-From: {src.name}@{ev.revision}",
            f"Evidence: {ev.source}: {ev.detail}",
            f"Evidence-Time: {ev.time or 'unknown'}",
            *images,
        ]
    )


def branch_name(src: Overlay, dst: Overlay, revision: str) -> str:
    return f"promote/{src.name}-{revision[:12]}-to-{dst.name}"


def promote(
    cfg: Config,
    src: Overlay,
    dst: Overlay,
    evidence: Evidence,
    *,
    push: bool = False,
    dry_run: bool = False,
) -> Promotion:
    """Commit the target pinned to the source's proven images (a branch when protected);
    push when asked. Nothing is committed when the target already pins them."""
    from opskit.manifests import kustomize

    tags = source_tags(cfg, src, evidence.revision)
    msg = message(cfg, src, dst, evidence, tags)
    promotion = Promotion(src.name, dst.name, evidence, tags, msg, gitinfo.head(cfg.root))
    if not kustomize.set_images(cfg, dst, tags, dry_run=True).changed:
        return promotion  # the target pins these images already
    branch = branch_name(src, dst, evidence.revision) if dst.protected else ""
    if branch:
        _require_new_branch(cfg.root, branch)
    kustomization = dst.path / "kustomization.yaml"
    with _on_branch(cfg.root, branch, dry_run):
        change = kustomize.set_images(cfg, dst, tags, dry_run=dry_run)
        gitinfo.commit_paths(cfg.root, [kustomization], msg, dry_run)
        commit = "" if dry_run else gitinfo.head(cfg.root)
        if not dry_run:
            release.verify_commit(cfg.root, kustomization, cfg.app.name, tags[cfg.app.name])
    argv = (
        ("git", "push", release.REMOTE, f"{branch}:{branch}")
        if branch
        else release.push_argv(cfg.root, cfg.project.revision)
    )
    if push and branch:
        shell.run(list(argv), cwd=str(cfg.root), mutates=True, dry_run=dry_run, timeout=120)
    elif push:
        release.push_with_retry(cfg.root, argv, dry_run)
    return replace(
        promotion, commit=commit, branch=branch, push_argv=argv, pushed=push, images=change.images
    )


def _require_new_branch(root: Path, branch: str) -> None:
    ref = ["git", "-C", str(root), "show-ref", "--verify", "-q", f"refs/heads/{branch}"]
    if shell.run(ref, check=False, timeout=30).returncode == 0:
        raise OpsError(
            f"branch {branch} exists already: this revision was promoted before",
            f"see `git log -1 {branch}`; delete it (`git branch -D {branch}`) to promote again",
        )


@contextlib.contextmanager
def _on_branch(root: Path, branch: str, dry_run: bool) -> Iterator[None]:
    """Commit on a new branch, then come back to where the checkout was (protected targets;
    the tree was clean, so going back loses nothing). A failure removes the branch."""
    if not branch:
        yield
        return
    git = ["git", "-C", str(root)]
    name = shell.run([*git, "symbolic-ref", "--short", "-q", "HEAD"], check=False).stdout.strip()
    back = [name] if name else ["--detach", gitinfo.head(root)]
    shell.run([*git, "switch", "-q", "-c", branch], mutates=True, dry_run=dry_run, timeout=60)
    try:
        yield
    except BaseException:
        shell.run([*git, "checkout", "-q", "--force", *back], mutates=True, dry_run=dry_run)
        shell.run([*git, "branch", "-q", "-D", branch], mutates=True, dry_run=dry_run)
        raise
    shell.run([*git, "checkout", "-q", "--force", *back], mutates=True, dry_run=dry_run)


def wait_merged(cfg: Config, promotion: Promotion, timeout: float, report=print) -> str:
    """--watch on a branch: until the branch ArgoCD follows contains the promotion (the pull
    request merged), fetched; then fast-forward the checkout to it. Returns that commit."""
    git = ["git", "-C", str(cfg.root)]
    followed = cfg.project.revision
    deadline = time.monotonic() + timeout
    report(f"waiting for {promotion.branch} to be merged into {release.REMOTE}/{followed}")
    while True:
        shell.run([*git, "fetch", "-q", release.REMOTE, followed], timeout=120)
        merged = shell.run([*git, "rev-parse", "FETCH_HEAD"], timeout=30).stdout.strip()
        ancestor = [*git, "merge-base", "--is-ancestor", promotion.commit, merged]
        if shell.run(ancestor, check=False, timeout=30).returncode == 0:
            break
        if time.monotonic() > deadline:
            raise OpsError(
                f"{promotion.branch} was not merged into {release.REMOTE}/{followed} within "
                f"{timeout:g}s: nothing was deployed",
                "merge its pull request, then `invoke argocd.wait --overlay="
                + promotion.target
                + "`",
            )
        time.sleep(MERGE_POLL_SECONDS)
    shell.run(
        [*git, "merge", "--ff-only", "-q", merged],
        mutates=True,
        timeout=60,
        hint=f"bring {followed} up to {release.REMOTE}/{followed} by hand (`git pull --ff-only`)",
    )
    report(f"merged: {release.REMOTE}/{followed} is at {merged[:12]}")
    return merged


def require_followed_branch(cfg: Config) -> None:
    """--watch of a protected target follows the merge on the branch ArgoCD follows."""
    name = shell.run(
        ["git", "-C", str(cfg.root), "symbolic-ref", "--short", "-q", "HEAD"], check=False
    ).stdout.strip()
    if name != cfg.project.revision:
        raise OpsError(
            f"--watch of a protected overlay runs on {cfg.project.revision} (the branch ArgoCD "
            f"follows), not on {name or 'a detached HEAD'}",
            f"`git switch {cfg.project.revision}` first, or promote without --watch",
        )


def change(cfg: Config, promotion: Promotion) -> watch.Change:
    """What `watch` reverts on failure, and where the revert is pushed: the branch ArgoCD
    follows (a merged promotion is there already), else where the promotion went."""
    if promotion.branch:
        argv: tuple[str, ...] | None = release.push_argv(cfg.root, cfg.project.revision)
    else:
        argv = promotion.push_argv if promotion.pushed else None
    title = (
        f"promotion of {promotion.source}@{promotion.evidence.revision[:12]} to {promotion.target}"
    )
    return watch.Change("promote", promotion.subject.removeprefix(PREFIX), title, argv)
