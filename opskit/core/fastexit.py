"""Skip the interpreter's teardown once a task run is over.

Tearing down the modules and objects of a task run takes the interpreter 100-200 ms, more
than a no-op deploy spends on its own work. `install()` (called by tasks.py, so first of
all exit handlers registered after invoke's import, hence the last of those to run) learns
the run's exit status two ways: invoke ends a failed run with `sys.exit(code)` from inside
`Program.run` (recorded by a stand-in for `sys.exit`), and a run whose tasks all returned
passes `Program.execute` (status 0: the `invoke` script's own `sys.exit(program.run())`
looked `sys.exit` up before tasks.py was loaded, so only this sees a success). After every
later exit handler has run, it shuts logging down, flushes the standard streams and ends
the process with that status. Nothing is skipped that writes anything: the suite writes its
files atomically before it returns. An uncaught exception or a bare `SystemExit` raised by
a task is left to Python. Not used when coverage measures the process (its data is saved
by a handler that would then be skipped) or when OPSKIT_FULL_EXIT=1.
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import os
import sys
from typing import NoReturn

_state: dict[str, object] = {}


def invoke_command() -> bool:
    """Whether this process is the `invoke`/`inv` command (not a test or a script that
    imports tasks.py)."""
    return os.path.basename(sys.argv[0] if sys.argv else "") in ("invoke", "inv")


def install() -> None:
    """From the `invoke` command only, unless OPSKIT_FULL_EXIT=1."""
    if _state or os.environ.get("OPSKIT_FULL_EXIT") == "1" or not invoke_command():
        return
    real_exit = sys.exit

    def recording_exit(code: str | int | None = None) -> NoReturn:
        _state["code"] = code
        real_exit(code)

    from invoke.program import Program

    real_execute = Program.execute

    def execute(self: Program) -> None:
        real_execute(self)
        _state.setdefault("code", 0)  # every task returned: run() returns, the script exits 0

    _state["installed"] = True
    sys.exit = recording_exit
    Program.execute = execute  # type: ignore[method-assign]
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
