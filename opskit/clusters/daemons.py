"""Long-running local processes of a cluster, started by start-stop-daemon with a pid file,
a log file and a marker in their environment (<MARKER>=<home>), so that stopping one acts
only on a process that is provably ours (a recycled pid of someone else's is not)."""

from __future__ import annotations

import os
import signal
import time
from dataclasses import dataclass
from pathlib import Path

from opskit.core import shell


@dataclass(frozen=True)
class Daemon:
    name: str
    exe: str  # absolute: start-stop-daemon matches /proc/<pid>/exe against it
    args: tuple[str, ...]
    env: tuple[tuple[str, str], ...] = ()
    port: str = ""  # what it listens on, for whoever waits for it (e.g. a key of ports.json)


class Supervisor:
    """Start, find and stop the daemons whose pid files and logs live below `home`."""

    def __init__(self, home: Path, marker: str) -> None:
        self.home = home
        self.marker = marker

    def pidfile(self, name: str) -> Path:
        return self.home / "run" / f"{name}.pid"

    def logfile(self, name: str) -> Path:
        return self.home / "logs" / f"{name}.log"

    def start_step(self, daemon: Daemon) -> shell.Step:
        return shell.Step(
            argv=(
                "start-stop-daemon",
                "--start",
                "--background",
                "--make-pidfile",
                "--pidfile",
                str(self.pidfile(daemon.name)),
                "--output",
                str(self.logfile(daemon.name)),
                "--chdir",
                str(self.home),
                "--exec",
                daemon.exe,
                "--",
                *daemon.args,
            ),
            env=((self.marker, str(self.home)), *daemon.env),
            what=f"start {daemon.name}",
            mutates=True,
            timeout=30,
        )

    def start(self, daemon: Daemon, dry_run: bool = False) -> None:
        for folder in ("run", "logs"):
            (self.home / folder).mkdir(parents=True, exist_ok=True)
        shell.run_step(self.start_step(daemon), dry_run=dry_run)

    def pid(self, name: str) -> int | None:
        """The pid of our daemon `name` while it runs (pid file + marker), else None."""
        try:
            pid = int(self.pidfile(name).read_text().strip())
        except (OSError, ValueError):
            return None
        return pid if self.ours(pid, settle=1.0) and alive(pid) else None

    def exited(self, name: str) -> bool:
        """Our daemon `name` is gone: no pid file, or its process has ended. (A process that
        is exec'ing reads an empty environ for a moment: `pid` may say None, this does not.)"""
        try:
            pid = int(self.pidfile(name).read_text().strip())
        except (OSError, ValueError):
            return True
        return not alive(pid)

    def ours(self, pid: int, settle: float = 0.0) -> bool:
        """The process carries our marker. A process that is exec'ing shows an empty environ
        for a moment (start-stop-daemon's child right after writing the pid file): with
        `settle`, wait up to that many seconds for it to read back."""
        deadline = time.monotonic() + settle
        while True:
            found = environ(pid)
            if found is None:
                return False
            if found != [b""] or time.monotonic() >= deadline or not alive(pid):
                return f"{self.marker}={self.home}".encode() in found
            time.sleep(0.01)

    def stray(self) -> list[int]:
        """Every live process carrying our marker (the daemons and what they forked, e.g.
        containerd's shims), whatever the pid files say."""
        found = []
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit() and int(entry.name) != os.getpid():
                pid = int(entry.name)
                if self.ours(pid) and alive(pid):
                    found.append(pid)
        return found

    def stop(self, name: str, grace: float = 10.0) -> bool:
        """TERM, then KILL after `grace` seconds; True when it was running."""
        pid = self.pid(name)
        if pid is None:
            self.pidfile(name).unlink(missing_ok=True)
            return False
        end(pid, grace)
        self.pidfile(name).unlink(missing_ok=True)
        return True

    def last_line(self, name: str) -> str:
        return last_line(self.logfile(name))


def last_line(log: Path, width: int = 300) -> str:
    """A log's last line naming an error (else its last line; opskit.kube.logs), for a
    one-line error ("no log", "empty log" when there is none)."""
    from opskit.kube import logs

    try:
        lines = log.read_text(errors="replace").strip().splitlines()
    except OSError:
        return "no log"
    return logs.telling_line("\n".join(lines[-logs.TAIL :]))[:width] or "empty log"


def environ(pid: int) -> list[bytes] | None:
    """A process's environment entries ([b""] while it has none to show), None when gone."""
    try:
        return Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    except OSError:
        return None


def alive(pid: int) -> bool:
    """The process exists and has not exited (a zombie has)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def end(pid: int, grace: float) -> None:
    """SIGTERM, wait up to `grace` seconds, then SIGKILL and wait for it to go."""
    for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 5.0)):
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + wait
        while alive(pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        if not alive(pid):
            return
