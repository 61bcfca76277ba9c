"""Pid files of the processes a cluster runs, and the proof that a pid is still ours.

A pid file outlives its process (a reboot, a kill -9) and the kernel recycles pids, so a
stale file can name an unrelated process. Before anything acts on a pid file (kwokctl
stops, restarts and deletes by them), the suite checks that the process is ours: its
command line runs the binary the file is named after and names the cluster's folder, and
it started no later than the file was written. Files that fail the check are removed.
"""

from __future__ import annotations

import os
from pathlib import Path

# the pid file is written right after the fork; /proc/stat's boot time has 1 s resolution
CLOCK_SLACK = 1.0


def command_line(pid: int) -> list[str]:
    """argv of a running process; [] when it is gone (or a zombie, or not readable)."""
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return []
    return [part.decode(errors="replace") for part in raw.split(b"\0") if part]


def started_at(pid: int) -> float | None:
    """When a process started (seconds since the epoch), from /proc/<pid>/stat field 22."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        boot = next(
            float(line.split()[1])
            for line in Path("/proc/stat").read_text().splitlines()
            if line.startswith("btime ")
        )
    except (OSError, StopIteration, ValueError):
        return None
    fields = stat.rsplit(")", 1)[1].split()  # field 2 (comm) may hold spaces and parens
    return boot + int(fields[19]) / os.sysconf("SC_CLK_TCK")


def owner_pid(pid_file: Path, binary: str, folder: Path) -> int | None:
    """The pid in `pid_file` when that process is ours: it runs `binary` (by file name),
    its command line names `folder`, and it is not younger than the pid file."""
    try:
        pid = int(pid_file.read_text().strip())
        written = pid_file.stat().st_mtime
    except (OSError, ValueError):
        return None
    argv = command_line(pid)
    if pid <= 1 or not argv or Path(argv[0]).name != binary:
        return None
    if not any(str(folder) in arg for arg in argv[1:]):
        return None
    start = started_at(pid)
    return pid if start is not None and start <= written + CLOCK_SLACK else None


def drop_stale(pids_dir: Path, folder: Path) -> list[str]:
    """Remove the pid files below `pids_dir` (<binary>.pid) that do not name a process of
    ours, so nothing acts on them; returns a line for each one removed."""
    dropped = []
    for pid_file in sorted(pids_dir.glob("*.pid")) if pids_dir.is_dir() else []:
        if owner_pid(pid_file, pid_file.stem, folder) is None:
            pid_file.unlink(missing_ok=True)
            dropped.append(f"removed stale pid file {pid_file.name} (names no process of ours)")
    return dropped
