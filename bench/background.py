"""A CLI left running in the background (`invoke dev`), its output read line by line as it
comes, with the time each line arrived: for the e2e tests and the bench alike."""

from __future__ import annotations

import contextlib
import queue
import re
import signal
import time

import sh


class Running:
    def __init__(self, command: sh.Command, *args: str, cwd, env: dict[str, str]) -> None:
        self._lines: queue.Queue[tuple[float, str]] = queue.Queue()
        self.seen: list[str] = []
        self.process = command(
            *args,
            _cwd=str(cwd),
            _env=env,
            _bg=True,
            _bg_exc=False,
            _out=self._line,
            _err=self._line,
            _ok_code=list(range(256)),
            _tty_out=False,
        )

    def _line(self, line: str) -> None:
        self._lines.put((time.time(), line.rstrip("\n")))

    def expect(self, pattern: str, timeout: float = 60) -> tuple[float, str]:
        """The next line matching `pattern` (a regex) and when it arrived; lines before it
        are kept in `seen`. Fails with the output so far when it does not come in time."""
        found = re.compile(pattern)
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            try:
                at, line = self._lines.get(timeout=min(left, 0.5))
            except queue.Empty:
                if not self.process.is_alive():
                    break
                continue
            self.seen.append(line)
            if found.search(line):
                return at, line
        raise AssertionError(
            f"no line matching {pattern!r} within {timeout:g}s; output:\n{self.tail()}"
        )

    def tail(self, lines: int = 30) -> str:
        return "\n".join(self.seen[-lines:])

    def interrupt(self, timeout: float = 60) -> int:
        """Ctrl-C (SIGINT to the process); returns its exit code."""
        self.process.signal(signal.SIGINT)
        return self.wait(timeout)

    def wait(self, timeout: float = 60) -> int:
        self.process.wait(timeout=timeout)
        while not self._lines.empty():
            self.seen.append(self._lines.get()[1])
        return self.process.exit_code

    def stop(self) -> None:
        """Kill it if it still runs (cleanup after a failed test)."""
        if self.process.is_alive():
            self.process.kill()
            with contextlib.suppress(sh.ErrorReturnCode):  # killed: that is the point
                self.process.wait()
