"""Where things live: the repository root and the suite's git-ignored working folders."""

from __future__ import annotations

import contextlib
import errno
import os
import tempfile
from collections.abc import Iterator
from functools import cache
from pathlib import Path

from opskit.core.errors import OpsError

CONFIG_NAME = "opskit.yaml"
FULL = "free some space on that disk, then run again"


@cache
def root() -> Path:
    """The project root: $OPSKIT_ROOT, else the nearest folder up from cwd with opskit.yaml."""
    if env := os.environ.get("OPSKIT_ROOT"):
        return Path(env).resolve()
    here = Path.cwd().resolve()
    for folder in (here, *here.parents):
        if (folder / CONFIG_NAME).is_file():
            return folder
    return Path(__file__).resolve().parents[2]


def tools_bin() -> Path:
    """Folder of the Go-built tools (`invoke tools.install`)."""
    return root() / ".tools" / "bin"


def state_dir() -> Path:
    """Folder of local cluster state, kubeconfigs and locks ($OPSKIT_STATE_DIR overrides, so
    a scratch copy of the repository can drive a cluster that another checkout started)."""
    if env := os.environ.get("OPSKIT_STATE_DIR"):
        return Path(env).resolve()
    return root() / ".opskit"


def write_atomic(path: Path, text: str) -> None:
    """Replace `path` in one step: readers see the old or the new file, never half of one.
    The temporary name is unique, so threads and processes may write at once."""
    ensure_dir(path.parent)
    with writing(path):
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "w") as handle:
                handle.write(text)
            # mkstemp makes 0600 files; keep the mode a plain write would give
            os.chmod(tmp, path.stat().st_mode & 0o777 if path.exists() else 0o644)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise


def ensure_dir(path: Path) -> Path:
    """`path` as a folder (parents made too), or one line saying why it cannot be."""
    with writing(path, "cannot create the folder"):
        path.mkdir(parents=True, exist_ok=True)
    return path


@contextlib.contextmanager
def writing(path: Path, failed: str = "cannot write it") -> Iterator[None]:
    """Any OSError while writing `path` becomes one line naming it, with what to do."""
    try:
        yield
    except OSError as exc:
        raise write_error(path, exc, failed) from None


def write_error(path: Path, exc: OSError, failed: str = "cannot write it") -> OpsError:
    blocker = next((p for p in (path, *path.parents) if p.exists() and not p.is_dir()), None)
    if exc.errno in (errno.ENOTDIR, errno.EEXIST) and blocker is not None:
        return OpsError(
            f"{path}: {failed}: {blocker} is not a folder", f"remove or rename {blocker}"
        )
    elsewhere = "set OPSKIT_STATE_DIR to a writable folder"
    hints = {
        errno.ENOSPC: FULL,
        errno.EDQUOT: FULL,
        errno.EROFS: f"the file system is mounted read-only; remount it writable or {elsewhere}",
        errno.EACCES: f"give your user write access to {path.parent}, or {elsewhere}",
        errno.EPERM: f"give your user write access to {path.parent}, or {elsewhere}",
    }
    reason = exc.strerror or type(exc).__name__
    return OpsError(f"{path}: {failed} ({reason})", hints.get(exc.errno or 0, "check the folder"))


def confine(path: Path, expected: Path, what: str) -> None:
    """Refuse `path` when it resolves anywhere but `expected` (an absolute path with no
    symlinks left in it) because of a symlink or a `..`:
    files the suite writes or reads stay where their name says."""
    from opskit.core.errors import OpsError

    real = path.resolve()
    if real != expected:
        raise OpsError(
            f"{path} resolves to {real}, outside {what} (a symlink?)",
            f"replace the symlink with a real {'folder' if path.is_dir() else 'file'}",
        )


def prune_empty(folder: Path) -> None:
    """Remove `folder` and its parents up to .opskit itself while they are empty."""
    top = state_dir()
    while folder.is_dir() and folder.is_relative_to(top) and not any(folder.iterdir()):
        folder.rmdir()
        if folder == top:
            return
        folder = folder.parent
