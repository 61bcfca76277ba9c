"""Git facts and the image tag policy: an image is tagged by the commit it was built from."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from opskit.core import shell
from opskit.core.errors import OpsError


@dataclass(frozen=True)
class Tag:
    value: str  # what goes after the colon of the image reference
    commit: str  # full SHA of HEAD
    dirty: bool


def _git(
    root: Path, *args: str, mutates: bool = False, dry_run: bool = False, hot: bool = False
) -> str:
    return shell.run(
        ["git", "-C", str(root), *args],
        env={"GIT_OPTIONAL_LOCKS": "0"},  # `git status` then reads the index, never rewrites it
        timeout=30,
        mutates=mutates,
        dry_run=dry_run,
        hot=hot,
        hint="is this a git checkout? (`git status`)",
    ).stdout


def head(root: Path) -> str:
    """Full SHA of HEAD; a clear error in a repository without commits."""
    result = shell.run(["git", "-C", str(root), "rev-parse", "--verify", "HEAD"], check=False)
    if result.returncode != 0:
        raise OpsError(f"{root}: no git commit to tag images with", "commit first (`git commit`)")
    return result.stdout.strip()


def dirty_paths(root: Path) -> list[str]:
    """Tracked changes and untracked files (ignored files do not count)."""
    out = _git(root, "status", "--porcelain", "--untracked-files=all")
    return [line[3:] for line in out.splitlines() if line.strip()]


def dirt_hash(root: Path) -> str:
    """A short hash of exactly what differs from HEAD, untracked files included."""
    digest = hashlib.sha256(_git(root, "diff", "HEAD", "--binary").encode())
    for name in sorted(_git(root, "ls-files", "--others", "--exclude-standard").splitlines()):
        digest.update(name.encode())
        path = root / name
        if path.is_file():
            digest.update(path.read_bytes())
    return digest.hexdigest()[:8]


def head_and_changes(root: Path) -> tuple[str, list[str]]:
    """HEAD's full SHA and the changed paths (as dirty_paths), from one `git status`."""
    # the one process of a no-op deploy: started without plumbum (opskit.core.shell)
    out = _git(root, "status", "--porcelain=v2", "--branch", "--untracked-files=all", hot=True)
    commit, changed = "", []
    for line in out.splitlines():
        if line.startswith("# branch.oid "):
            commit = line.split()[2]
        elif line.startswith(("1 ", "u ")):  # changed, unmerged: the path is the last field
            changed.append(line.split(" ", 8 if line[0] == "1" else 10)[-1])
        elif line.startswith("2 "):  # renamed or copied: `path<TAB>original`
            changed.append(line.split(" ", 9)[-1].split("\t")[0])
        elif line.startswith("? "):
            changed.append(line[2:])
    if len(commit) < 40:  # `(initial)`: no commit yet
        raise OpsError(f"{root}: no git commit to tag images with", "commit first (`git commit`)")
    return commit, changed


def image_tag(root: Path, length: int, *, allow_dirty: bool, protected: bool, what: str) -> Tag:
    """The tag for an image of this tree: `<sha>` clean, `<sha>-dirty-<hash>` when allowed."""
    commit, changed = head_and_changes(root)
    if not changed:
        return Tag(commit[:length], commit, dirty=False)
    sample = ", ".join(changed[:3]) + (" ..." if len(changed) > 3 else "")
    if protected:
        raise OpsError(
            f"{what} refuses a dirty working tree ({sample})",
            "commit or stash your changes; protected targets only take commits",
        )
    if not allow_dirty:
        raise OpsError(
            f"{what}: the working tree has uncommitted changes ({sample})",
            "commit them, or pass --allow-dirty for a `-dirty-` tagged image",
        )
    return Tag(f"{commit[:length]}-dirty-{dirt_hash(root)}", commit, dirty=True)


def commit_paths(root: Path, paths: list[Path], message: str, dry_run: bool = False) -> None:
    """Stage exactly these paths and commit them with the given message."""
    rel = [str(p.relative_to(root)) for p in paths]
    _git(root, "add", "--", *rel, mutates=True, dry_run=dry_run)
    _git(root, "commit", "--quiet", "-m", message, "--", *rel, mutates=True, dry_run=dry_run)
