"""Showing and editing one Secret: the decrypted text lives in memory (`show`) or, for the
editor, in a private temporary folder that is removed however the edit ends (`edit`)."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from opskit.core.errors import OpsError
from opskit.secrets import sops

if TYPE_CHECKING:
    from opskit.core.config import Config, Overlay

EDIT_TIMEOUT = 3600
# A closed terminal (SIGHUP) or a plain `kill` (SIGTERM) ends the edit the way Ctrl-C does,
# so the `finally` that removes the decrypted file runs; SIGKILL cannot be caught.
STOP_SIGNALS = (signal.SIGHUP, signal.SIGTERM)


def show(cfg: Config, overlay: Overlay, name: str) -> str:
    """The decrypted manifest of one Secret (for a terminal; the caller decides)."""
    path = sops.secret_path(overlay, name)
    if not path.is_file():
        known = ", ".join(p.name.removesuffix(sops.SUFFIX) for p in sops.secret_files(overlay))
        raise OpsError(
            f"overlay {overlay.name!r} has no Secret {name!r}", f"known: {known or 'none'}"
        )
    return sops.decrypt(cfg, overlay, path)


def edit(cfg: Config, overlay: Overlay, name: str) -> None:
    """Open one Secret in $EDITOR through sops (which re-encrypts on save). sops' decrypted
    temporary file goes to a private folder (TMPDIR) that is removed on every exit path."""
    path = sops.secret_path(overlay, name)
    rel = sops.repo_rel(cfg, path)
    if not path.is_file():
        raise OpsError(
            f"{rel} not found",
            f"create it: `invoke secrets.encrypt --overlay {overlay.name} < x.yaml`",
        )
    with private_tmpdir() as folder:
        sops.run_sops(
            cfg,
            "edit",
            rel,
            env=(("TMPDIR", str(folder)),),
            mutates=True,
            interactive=True,
            timeout=EDIT_TIMEOUT,
            what=f"edit {name}",
        )


def private_base() -> Path:
    """Where private temporary folders go: RAM-backed /dev/shm when it is there, else the
    user's runtime folder, else the system's temporary folder."""
    candidates = [Path("/dev/shm"), os.environ.get("XDG_RUNTIME_DIR"), f"/run/user/{os.getuid()}"]
    for candidate in candidates:
        if candidate and os.path.isdir(candidate) and os.access(candidate, os.W_OK | os.X_OK):
            return Path(candidate)
    return Path(tempfile.gettempdir())


@contextlib.contextmanager
def private_tmpdir() -> Iterator[Path]:
    """A 0700 folder for decrypted files, removed on return, exception, Ctrl-C, SIGHUP and
    SIGTERM."""
    folder = Path(tempfile.mkdtemp(prefix="opskit-edit-", dir=private_base()))
    saved = _stop_on_signals()
    try:
        yield folder
    finally:
        for number in saved:  # a second signal must not cut the removal short
            signal.signal(number, signal.SIG_IGN)
        shutil.rmtree(folder, ignore_errors=True)
        for number, handler in saved.items():
            signal.signal(number, handler)


def _stop_on_signals() -> dict:
    """Turn SIGHUP/SIGTERM into KeyboardInterrupt (the main thread only may set handlers)."""
    if threading.current_thread() is not threading.main_thread():
        return {}

    def stop(_number, _frame):
        raise KeyboardInterrupt

    return {number: signal.signal(number, stop) for number in STOP_SIGNALS}
