"""`invoke release`: pin an overlay's image tag to the commit it runs on, in git.

ArgoCD follows the repository, not the laptop: a release is one commit that changes only the
overlay's kustomization (`images: newTag`), then a push. The tag is that of HEAD before the
release commit, i.e. the commit whose image CI built.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from opskit import gitinfo, shell
from opskit.errors import OpsError

REMOTE = "origin"


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


def commit_message(cfg: Any, overlay: Any, tag: str) -> str:
    """Conventional commit subject of a release."""
    return f"chore(release): deploy {cfg.app.name} {tag} to {overlay.name}"


def pinned_tag(kustomization: Path, image_name: str) -> str | None:
    """The `newTag` the kustomization pins for `image_name` (None when it pins none)."""
    from opskit import yamlio

    data = yamlio.load_file(kustomization) or {}
    for entry in data.get("images") or []:
        if entry.get("name") == image_name:
            tag = entry.get("newTag")
            return None if tag is None else str(tag)
    return None


def require_clean(root: Path, what: str) -> None:
    changed = gitinfo.dirty_paths(root)
    if changed:
        sample = ", ".join(changed[:3]) + (" ..." if len(changed) > 3 else "")
        raise OpsError(
            f"{what} refuses a dirty working tree ({sample})",
            "commit or stash your changes first: a release commit holds only the tag pin",
        )


def push_argv(root: Path, revision: str) -> tuple[str, ...]:
    """Push HEAD to the branch it is on (detached HEAD: the branch ArgoCD follows)."""
    result = shell.run(
        ["git", "-C", str(root), "symbolic-ref", "--short", "-q", "HEAD"], check=False, timeout=30
    )
    branch = result.stdout.strip() or revision
    return ("git", "push", REMOTE, f"HEAD:{branch}")


def release(cfg: Any, overlay_name: str, *, push: bool = False, dry_run: bool = False) -> Release:
    """Pin the overlay to HEAD's image tag, commit only that file, push if asked."""
    overlay = cfg.overlay(overlay_name)
    kustomization = overlay.path / "kustomization.yaml"
    if not kustomization.is_file():
        raise OpsError(f"{kustomization}: not found", f"is {overlay.name} a kustomize overlay?")
    require_clean(cfg.root, f"release {overlay.name}")
    commit = gitinfo.head(cfg.root)
    tag = commit[: cfg.app.tag_length]
    message = commit_message(cfg, overlay, tag)
    changed = pin(cfg, overlay, tag, dry_run)
    if changed:
        gitinfo.commit_paths(cfg.root, [kustomization], message, dry_run)
        if not dry_run:
            verify_commit(cfg.root, kustomization, cfg.app.name, tag)
    argv = push_argv(cfg.root, cfg.project.revision)
    if push:
        shell.run(
            list(argv),
            cwd=str(cfg.root),
            mutates=True,
            dry_run=dry_run,
            timeout=120,
            hint=f"push by hand: `{' '.join(argv)}`",
        )
    return Release(
        overlay.name,
        f"{cfg.app.image}:{tag}",
        tag,
        commit,
        kustomization,
        message,
        changed,
        argv,
        push,
    )


def pin(cfg: Any, overlay: Any, tag: str, dry_run: bool = False) -> bool:
    """Write the tag into the overlay's kustomization (only reported under dry-run);
    False when it already pins that tag."""
    from opskit import manifests

    change = manifests.set_image(cfg, overlay, tag, dry_run=dry_run)
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
