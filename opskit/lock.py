"""One deploy per overlay at a time: an exclusive file lock in the state folder."""

from __future__ import annotations

import contextlib
import fcntl
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from opskit import paths
from opskit.errors import OpsError


@contextlib.contextmanager
def exclusive(
    path: Path, *, wait: float, what: str, notify: Callable[[str], None] = lambda _m: None
) -> Iterator[None]:
    """Hold `path` locked; wait up to `wait` seconds for another holder, then refuse."""
    paths.ensure_dir(path.parent)
    with paths.writing(path):
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        _acquire(fd, path, wait, what, notify)
        with paths.writing(path):
            os.ftruncate(fd, 0)
            os.write(fd, f"{os.getpid()}\n".encode())
        yield
    finally:
        os.close(fd)  # closing releases the lock


def _acquire(fd: int, path: Path, wait: float, what: str, notify: Callable[[str], None]) -> None:
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
