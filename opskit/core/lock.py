"""One deploy per overlay at a time: an exclusive file lock in the state folder.

The lock is re-entrant within one thread: `invoke dev` holds an overlay's deploy lock for
its whole loop, and every deploy it runs takes the same lock again without waiting on itself.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path

from opskit.core import paths
from opskit.core.errors import OpsError
from opskit.core.progress import Notify

_held: dict[Path, int] = {}  # lock files this process holds -> the holding thread


def deploy_lock(context: str, overlay: str) -> Path:
    """The lock of deploys of `overlay` to the cluster of `context` (others are not blocked)."""
    return paths.state_dir() / "locks" / f"deploy-{context}-{overlay}.lock"


@contextlib.contextmanager
def exclusive(
    path: Path, *, wait: float, what: str, notify: Notify = lambda _m: None
) -> Iterator[None]:
    """Hold `path` locked; wait up to `wait` seconds for another holder, then refuse."""
    key = path.absolute()
    if _held.get(key) == threading.get_ident():
        yield  # this thread holds it already: flock would make it wait on itself
        return
    paths.ensure_dir(path.parent)
    with paths.writing(path):
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        _acquire(fd, path, wait, what, notify)
        with paths.writing(path):
            os.ftruncate(fd, 0)
            os.write(fd, f"{os.getpid()}\n".encode())
        _held[key] = threading.get_ident()
        try:
            yield
        finally:
            del _held[key]
    finally:
        os.close(fd)  # closing releases the lock


def _acquire(fd: int, path: Path, wait: float, what: str, notify: Notify) -> None:
    deadline = time.monotonic() + wait
    announced = False
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            holder = _holder(path)
            if time.monotonic() >= deadline:
                raise OpsError(
                    f"{what} is already running ({holder}, lock {path})",
                    "wait for it to finish, then run again",
                ) from None
            if not announced:
                notify(f"{what} is running in {holder}; waiting up to {wait:g}s")
                announced = True
            time.sleep(0.2)


def _holder(path: Path) -> str:
    """`pid N` as the holder wrote it; anything else (being written, foreign) is no pid."""
    try:
        text = path.read_bytes().decode("ascii").strip()
    except (OSError, UnicodeDecodeError):
        text = ""
    return f"pid {text}" if text.isdigit() else "another process"
