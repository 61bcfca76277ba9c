"""The test servers themselves: a test process killed before its teardown (a mutant's timeout
is SIGXCPU, then SIGKILL) leaves no PostgreSQL running."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from infra import HOST

STARTS = """
import sys, time
from infra import Postgres, workdir
server = Postgres(workdir("telemetry-pg-killed-"))
server.start()
print(server.port, server.dir, flush=True)
time.sleep(600)
"""


def _listening(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex((HOST, port)) == 0


def test_a_killed_test_process_takes_its_postgresql_down():
    tests = Path(__file__).parent
    child = subprocess.Popen(
        [sys.executable, "-c", STARTS],
        cwd=tests,
        env={**os.environ, "PYTHONPATH": str(tests)},
        stdout=subprocess.PIPE,
        text=True,
    )
    port, folder = child.stdout.readline().split()
    try:
        assert _listening(int(port))
        child.send_signal(signal.SIGKILL)  # no teardown, no atexit
        child.wait()
        deadline = time.monotonic() + 15
        while _listening(int(port)) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not _listening(int(port)), "PostgreSQL outlived the process that started it"
    finally:
        child.kill()
        child.wait()
        pid_file = Path(folder, "data", "postmaster.pid")
        if _listening(int(port)) and pid_file.is_file():  # it survived: not to leave it behind
            pid = int(pid_file.read_text().split()[0])
            if folder in Path(f"/proc/{pid}/cmdline").read_text():
                os.kill(pid, signal.SIGQUIT)
        child.stdout.close()
        shutil.rmtree(folder, ignore_errors=True)
