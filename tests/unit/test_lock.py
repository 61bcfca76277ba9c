"""The per-overlay deploy lock, with a real second process holding it."""

import subprocess
import sys
import threading
import time

import pytest

from opskit.core import lock
from opskit.core.errors import OpsError

HOLDER = """
import sys, time
from pathlib import Path
from opskit.core import lock
with lock.exclusive(Path(sys.argv[1]), wait=0, what="x"):
    print("held", flush=True)
    time.sleep(float(sys.argv[2]))
"""


def _hold(path, seconds):
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(path), str(seconds)], stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout.readline().strip() == "held"
    return proc


def test_second_holder_is_refused_with_pid(tmp_path):
    path = tmp_path / "locks" / "deploy-dev.lock"
    proc = _hold(path, 5)
    try:
        with (
            pytest.raises(OpsError) as info,
            lock.exclusive(path, wait=0.3, what="a deploy to dev"),
        ):
            pass
        assert str(info.value) == (
            f"a deploy to dev is already running (pid {proc.pid}, lock {path}); "
            "wait for it to finish, then run again"
        )
    finally:
        proc.kill()
        proc.wait()


def test_waiter_gets_the_lock_when_the_holder_finishes(tmp_path):
    path = tmp_path / "deploy-dev.lock"
    proc = _hold(path, 0.5)
    notes = []
    started = time.monotonic()
    with lock.exclusive(path, wait=10, what="a deploy to dev", notify=notes.append):
        waited = time.monotonic() - started
    proc.wait()
    assert 0.2 < waited < 5
    assert notes == [f"a deploy to dev is running in pid {proc.pid}; waiting up to 10s"]


def test_lock_is_reentrant_after_release(tmp_path):
    path = tmp_path / "l.lock"
    with lock.exclusive(path, wait=0, what="x"):
        pass
    with lock.exclusive(path, wait=0, what="x"):
        assert path.read_text().strip().isdigit()


def test_the_holding_thread_takes_it_again_without_waiting_on_itself(tmp_path):
    path = tmp_path / "deploy-dev.lock"
    with lock.exclusive(path, wait=0, what="a dev loop"):
        with lock.exclusive(path, wait=0, what="a deploy to dev"):  # `invoke dev` -> deploy
            pass
        refused = []

        def other_thread():
            try:
                with lock.exclusive(path, wait=0, what="a deploy to dev"):
                    pass
            except OpsError as exc:
                refused.append(str(exc))

        thread = threading.Thread(target=other_thread)
        thread.start()
        thread.join()
        assert refused and refused[0].startswith("a deploy to dev is already running")
    proc = _hold(path, 0)  # released by the outer block, not by the inner one
    proc.wait()


def test_deploy_lock_is_per_cluster_and_overlay(tmp_path, monkeypatch):
    monkeypatch.setenv("OPSKIT_STATE_DIR", str(tmp_path))
    assert lock.deploy_lock("kwok-a", "dev") == tmp_path / "locks" / "deploy-kwok-a-dev.lock"


GARBAGE_HOLDER = """
import fcntl, os, sys, time
fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT, 0o600)
fcntl.flock(fd, fcntl.LOCK_EX)
os.write(fd, b"\\xff\\xfe not a pid\\n")
print("held", flush=True)
time.sleep(5)
"""


def test_a_lock_file_without_a_pid_is_still_one_line(tmp_path):
    path = tmp_path / "deploy-dev.lock"
    proc = subprocess.Popen(
        [sys.executable, "-c", GARBAGE_HOLDER, str(path)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert proc.stdout.readline().strip() == "held"
        with pytest.raises(OpsError) as info, lock.exclusive(path, wait=0, what="a deploy"):
            pass
        assert str(info.value) == (
            f"a deploy is already running (another process, lock {path}); "
            "wait for it to finish, then run again"
        )
    finally:
        proc.kill()
        proc.wait()
