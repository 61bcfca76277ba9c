"""`invoke release`: pin an overlay's image tag to the commit it runs on, in git.

ArgoCD follows the repository, not the laptop: a release is one commit that changes only the
overlay's kustomization (`images: newTag`), then a push. The tag is that of the newest commit
that is not itself a release (the commit whose image CI built); releasing again with nothing
new is a no-op.
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from opskit.core import gitinfo, shell
from opskit.core.errors import OpsError

if TYPE_CHECKING:
    from opskit.core.config import Config, Overlay

REMOTE = "origin"
RELEASE_PREFIX = "chore(release): "
# the last line of a release or revert commit pushed to main: Bitbucket Pipelines and GitHub
# Actions start no pipeline for a push whose commit message holds it (the release already ran)
SKIP_CI = "[skip ci]"
REJECTED = re.compile(r"\[rejected\]|fetch first|non-fast-forward")  # main moved


@dataclass(frozen=True)
class Release:
    overlay: str
    image: str  # full reference, repository:tag
    tag: str
    commit: str  # the commit the tag names (HEAD when release ran)
    kustomization: Path
    message: str
    changed: bool  # False: the overlay already pinned this tag, nothing committed
    push_argv: tuple[str, ...]
    pushed: bool

    def push_command(self) -> str:
        import shlex

        return shlex.join(self.push_argv)


def commit_message(cfg: Config, overlay: Overlay, tag: str) -> str:
    """Conventional commit subject of a release."""
    return f"{RELEASE_PREFIX}deploy {cfg.app.name} {tag} to {overlay.name}"


def pinned_tag(kustomization: Path, image_name: str) -> str | None:
    """The `newTag` the kustomization pins for `image_name` (None when it pins none)."""
    from opskit.core import yamlio

    data = yamlio.load_file(kustomization) or {}
    for entry in data.get("images") or []:
        if entry.get("name") == image_name:
            tag = entry.get("newTag")
            return None if tag is None else str(tag)
    return None


def require_clean(root: Path, what: str, holds: str = "a release commit holds") -> None:
    changed = gitinfo.dirty_paths(root)
    if changed:
        sample = ", ".join(changed[:3]) + (" ..." if len(changed) > 3 else "")
        raise OpsError(
            f"{what} refuses a dirty working tree ({sample})",
            f"commit or stash your changes first: {holds} only the tag pin",
        )


def push_argv(root: Path, revision: str) -> tuple[str, ...]:
    """Push HEAD to the branch it is on (detached HEAD: the branch ArgoCD follows)."""
    return ("git", "push", REMOTE, f"HEAD:{push_branch(root, revision)}")


def push_branch(root: Path, revision: str) -> str:
    result = shell.run(
        ["git", "-C", str(root), "symbolic-ref", "--short", "-q", "HEAD"], check=False, timeout=30
    )
    return result.stdout.strip() or revision


def release_source(root: Path) -> str:
    """The newest commit that is not itself a release: HEAD, unless HEAD only pins tags.

    A release commit names the image of its parent, so releasing again on top of one has
    nothing new to release (the reason a second `invoke release` is a no-op)."""
    out = shell.run(
        ["git", "-C", str(root), "log", "-n", "50", "--format=%x00%H %s", "--name-only"],
        timeout=30,
    ).stdout
    commit = ""
    for entry in out.split("\0")[1:]:
        header, _, names = entry.partition("\n")
        commit, _, subject = header.partition(" ")
        files = names.split()
        if not (subject.startswith(RELEASE_PREFIX) and files and all(map(_is_pin, files))):
            return commit
    return commit


def _is_pin(path: str) -> bool:
    return path.startswith("k8s/overlays/") and path.endswith("/kustomization.yaml")


def release(
    cfg: Config, overlay_name: str, *, push: bool = False, dry_run: bool = False
) -> Release:
    """Pin the overlay to the image of the newest non-release commit, commit only that file,
    push if asked; nothing (and no push) when the overlay already pins it."""
    overlay = cfg.overlay(overlay_name)
    kustomization = overlay.path / "kustomization.yaml"
    if not kustomization.is_file():
        raise OpsError(f"{kustomization}: not found", f"is {overlay.name} a kustomize overlay?")
    require_clean(cfg.root, f"release {overlay.name}")
    commit = release_source(cfg.root)
    tag = commit[: cfg.app.tag_length]
    message = commit_message(cfg, overlay, tag)
    changed = pin(cfg, overlay, tag, dry_run)
    if changed:
        gitinfo.commit_paths(cfg.root, [kustomization], f"{message}\n\n{SKIP_CI}", dry_run)
        if not dry_run:
            verify_commit(cfg.root, kustomization, cfg.app.name, tag)
    argv = push_argv(cfg.root, cfg.project.revision)
    pushed = push and (changed or not on_remote(cfg.root, argv))
    if pushed:
        push_with_retry(cfg.root, argv, dry_run)
    image = f"{cfg.app.image}:{tag}"
    return Release(overlay.name, image, tag, commit, kustomization, message, changed, argv, pushed)


def on_remote(root: Path, argv: tuple[str, ...]) -> bool:
    """HEAD is already in the remote branch we push to (as last fetched): nothing to push."""
    ref = f"refs/remotes/{REMOTE}/{argv[-1].removeprefix('HEAD:')}"
    git = ["git", "-C", str(root), "merge-base", "--is-ancestor", "HEAD", ref]
    return shell.run(git, check=False, timeout=30).returncode == 0


def push_with_retry(
    root: Path, argv: tuple[str, ...], dry_run: bool = False, attempts: int = 3
) -> None:
    """Push; when the branch moved meanwhile, fetch it, rebase the release onto it, retry."""
    branch = argv[-1].removeprefix("HEAD:")
    hint = f"push by hand: `{' '.join(argv)}`"
    for attempt in range(1, attempts + 1):
        result = shell.run(
            list(argv), cwd=str(root), mutates=True, dry_run=dry_run, timeout=120, check=False
        )
        if result.returncode == 0:
            return
        if not REJECTED.search(result.stderr) or attempt == attempts:
            tail = (result.stderr.strip().splitlines() or [f"exit {result.returncode}"])[-1]
            raise OpsError(f"`{' '.join(argv)}` failed: {tail}", hint)
        print(f"opskit: {REMOTE}/{branch} moved: rebasing the release onto it", file=sys.stderr)
        git = ["git", "-C", str(root)]
        shell.run([*git, "fetch", "--quiet", REMOTE, branch], timeout=120)
        rebase = shell.run([*git, "rebase", "--quiet", "FETCH_HEAD"], check=False)
        if rebase.returncode != 0:
            shell.run([*git, "rebase", "--abort"], check=False)
            raise OpsError(
                f"{REMOTE}/{branch} changed the same pin meanwhile: the release is not pushed",
                "see `git log FETCH_HEAD -- k8s/overlays`; release again on top of it",
            )


def pin(cfg: Config, overlay: Overlay, tag: str, dry_run: bool) -> bool:
    """Write the tag into the overlay's kustomization (only reported under dry-run);
    False when it already pins that tag."""
    from opskit.manifests import kustomize

    change = kustomize.set_image(cfg, overlay, tag, dry_run=dry_run)
    if change.changed and dry_run:
        print(
            f"[dry-run] pin {cfg.app.name} to {cfg.app.image}:{tag} in "
            f"{change.path.relative_to(cfg.root)} (was {change.old})",
            file=sys.stderr,
            flush=True,
        )
    return change.changed


def verify_commit(root: Path, kustomization: Path, image_name: str, tag: str) -> None:
    """Re-check: the new HEAD changes exactly the kustomization, and it pins `tag`."""
    rel = kustomization.relative_to(root).as_posix()
    files = shell.run(
        ["git", "-C", str(root), "diff-tree", "--no-commit-id", "--name-only", "-r", "HEAD"],
        timeout=30,
    ).stdout.split()
    if files != [rel] or pinned_tag(kustomization, image_name) != tag:
        raise OpsError(
            f"release commit check failed: it changed {files or 'nothing'}",
            "inspect it with `git show HEAD` and undo it with `git reset --soft HEAD~1`",
        )
