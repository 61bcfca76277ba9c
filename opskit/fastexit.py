"""Skip the interpreter's teardown once a task run is over.

Tearing down the modules and objects of a task run takes the interpreter 100-200 ms, more
than a no-op deploy spends on its own work. `install()` (called by tasks.py, so first of
all exit handlers registered after invoke's import, hence the last to run) records the exit
code handed to `sys.exit` and, after every other exit handler has run, flushes the standard
streams and ends the process with that code. Nothing is skipped that writes anything: the
suite writes its files atomically before it returns, and the exit handlers registered
earlier (logging's) run first. Not used when coverage measures the process (its data is
saved by a handler that would then be skipped) or when OPSKIT_FULL_EXIT=1.
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import os
import sys

_state: dict[str, object] = {}


def install() -> None:
    """From the `invoke`/`inv` command only (not when a test or a script imports tasks.py)."""
    program = os.path.basename(sys.argv[0] if sys.argv else "")
    if _state or os.environ.get("OPSKIT_FULL_EXIT") == "1" or program not in ("invoke", "inv"):
        return
    real_exit = sys.exit

    def recording_exit(code: object = None) -> None:
        _state["code"] = code
        real_exit(code)

    _state["installed"] = True
    sys.exit = recording_exit
    atexit.register(_finish)


def exit_status(code: object) -> int | None:
    """The process status `sys.exit(code)` gives, or None when it prints a message."""
    if code is None:
        return 0
    if isinstance(code, bool):
        return int(code)
    if isinstance(code, int):
        return code & 0xFF
    return None  # sys.exit("message") prints the message: leave that to Python


def _finish() -> None:
    if "code" not in _state or any(m.startswith("coverage") for m in sys.modules):
        return
    status = exit_status(_state["code"])
    if status is None:
        return
    logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):
            stream.flush()
    os._exit(status)
