"""What the `invoke` command needs before the task modules load (tasks.py calls `prepare`).

invoke turns bytecode writing off before it imports tasks.py (its `--write-pyc` flag is off
by default), so opskit's modules, which the tasks import, were compiled again on every run
unless something else had written their bytecode: ~80 ms of a no-op deploy. Python's own
setting (`-B`, PYTHONDONTWRITEBYTECODE) still decides; `__pycache__/` is ignored by git.
"""

from __future__ import annotations

import sys

from opskit.core import fastexit


def prepare() -> None:
    """Bytecode as Python would keep it, and the teardown skipped (opskit.core.fastexit)."""
    if not fastexit.invoke_command():
        return
    sys.dont_write_bytecode = bool(sys.flags.dont_write_bytecode)
    fastexit.install()
