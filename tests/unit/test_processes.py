"""A pid file is trusted only when its process is provably ours (real processes here)."""

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from opskit.clusters import processes


@pytest.fixture
def spawn():
    started = []

    def start(argv):
        proc = subprocess.Popen(argv)
        started.append(proc)
        return proc

    yield start
    for proc in started:
        proc.kill()
        proc.wait()


def ours(tmp_path: Path, spawn) -> tuple[subprocess.Popen, Path]:
    """A process that looks like one of the cluster's: argv[0] named kube-apiserver and an
    argument in the cluster's folder."""
    binary = tmp_path / "bin" / "kube-apiserver"
    binary.parent.mkdir()
    binary.symlink_to(sys.executable)
    folder = tmp_path / "cluster"
    argv = [str(binary), "-c", "import time; time.sleep(60)", f"--cert-dir={folder}/pki"]
    return spawn(argv), folder


def pid_file(folder: Path, name: str, pid: int, written: float | None = None) -> Path:
    path = folder / "pids" / f"{name}.pid"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(str(pid))
    if written is not None:
        os.utime(path, (written, written))
    return path


def test_our_process_is_recognised(tmp_path, spawn):
    proc, folder = ours(tmp_path, spawn)
    time.sleep(0.2)
    path = pid_file(folder, "kube-apiserver", proc.pid)
    assert processes.owner_pid(path, "kube-apiserver", folder) == proc.pid
    assert processes.drop_stale(folder / "pids", folder) == [] and path.exists()


def test_an_unrelated_process_with_a_recycled_pid_is_not(tmp_path, spawn):
    sleeper = spawn(["sleep", "60"])
    folder = tmp_path / "cluster"
    path = pid_file(folder, "kube-apiserver", sleeper.pid, written=time.time() - 3600)
    assert processes.owner_pid(path, "kube-apiserver", folder) is None
    assert processes.drop_stale(folder / "pids", folder) == [
        "removed stale pid file kube-apiserver.pid (names no process of ours)"
    ]
    assert not path.exists() and sleeper.poll() is None


def test_a_process_younger_than_its_pid_file_is_not_ours(tmp_path, spawn):
    """Same binary and folder, but it started after the file was written: a recycled pid."""
    proc, folder = ours(tmp_path, spawn)
    path = pid_file(folder, "kube-apiserver", proc.pid, written=time.time() - 60)
    assert processes.owner_pid(path, "kube-apiserver", folder) is None


def test_another_clusters_process_is_not_ours(tmp_path, spawn):
    proc, _folder = ours(tmp_path, spawn)
    time.sleep(0.2)
    other = tmp_path / "other-cluster"
    path = pid_file(other, "kube-apiserver", proc.pid)
    assert processes.owner_pid(path, "kube-apiserver", other) is None


@pytest.mark.parametrize("content", ["", "garbage", "1", "999999999"])
def test_unreadable_dead_or_init_pids_are_not_ours(tmp_path, content):
    path = tmp_path / "pids" / "etcd.pid"
    path.parent.mkdir()
    path.write_text(content)
    assert processes.owner_pid(path, "etcd", tmp_path) is None


def test_start_time_is_read_from_proc(spawn):
    before = time.time()
    proc = spawn(["sleep", "60"])
    time.sleep(0.1)
    assert before - 1.5 <= processes.started_at(proc.pid) <= time.time() + 1
    assert processes.started_at(999999999) is None
