"""The embedded cluster after a crash, and what it keeps at rest.

A cluster whose processes were killed (kill -9, as a crash or a reboot leaves it): a deploy
says how to recover in one line, `cluster.up` brings it back and `cluster.down` removes
every folder, and neither signals an unrelated process that took a pid from a stale pid
file. Secrets reach etcd encrypted (the `k8s:enc:` envelope), never in plaintext.
"""

from __future__ import annotations

import base64
import os
import re
import signal
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from opskit.clusters import processes
from opskit.clusters.kwok import CONTROL_PLANE, KwokCluster
from opskit.core import config
from tests.e2e.project import make_project
from tests.e2e.test_cluster_cli import _claim_a_volume, _processes_mentioning, invoke

NAME = "gitops-lab-e2e-crash"
COMPONENTS = (*CONTROL_PLANE, "kwok-controller")  # kwokctl's names for its binaries


def _quiet(_message: str) -> None:
    pass


@pytest.fixture
def cluster() -> Iterator[KwokCluster]:
    """A cluster of its own: these tests kill its processes."""
    made = KwokCluster(config.load(), NAME)
    made.down(report=_quiet)
    made.up(report=_quiet)
    yield made
    made.down(report=_quiet)


@pytest.fixture
def stranger() -> Iterator[subprocess.Popen]:
    """An unrelated process, the kind that gets a pid a dead component had."""
    proc = subprocess.Popen(["sleep", "600"])
    yield proc
    proc.kill()
    proc.wait()


def kill(cluster: KwokCluster, *names: str) -> None:
    """kill -9 the cluster's own processes (proved ours first), as a crash would."""
    killed = []
    for name in names:
        pid_file = cluster.cluster_dir / "pids" / f"{name}.pid"
        pid = processes.owner_pid(pid_file, name, cluster.cluster_dir)
        assert pid, f"{name} is not running"
        os.kill(pid, signal.SIGKILL)
        killed.append(pid)
    deadline = time.monotonic() + 10
    while any(processes.command_line(pid) for pid in killed):
        assert time.monotonic() < deadline
        time.sleep(0.1)


def plant_stale_pid(cluster: KwokCluster, name: str, pid: int) -> None:
    """A pid file as a crash leaves it, naming a pid that another process now has."""
    pid_file = cluster.cluster_dir / "pids" / f"{name}.pid"
    written = pid_file.stat().st_mtime
    pid_file.write_text(str(pid))
    os.utime(pid_file, (written, written))


def test_deploy_after_a_crash_says_how_to_recover(cluster, tmp_path):
    project = make_project(tmp_path / "repo", NAME)
    kill(cluster, "kube-apiserver")
    result = project.invoke("deploy", "--overlay", "dev", ok=(0, 1, 3))
    assert result.exit_code == 1, result.stderr.decode()
    errors = [line for line in result.stderr.decode().splitlines() if "error" in line]
    assert errors == [
        f"opskit: error: the API server of kwok-{NAME} does not answer (connection refused); "
        "if the cluster crashed or the machine restarted, recover it with `invoke cluster.up`"
    ], result.stderr.decode()
    assert not re.search(r"^\s+\|", result.stderr.decode(), re.M)  # no stderr tail dumped


def test_up_after_a_crash_spares_a_process_that_took_a_stale_pid(cluster, stranger):
    kill(cluster, *COMPONENTS)
    plant_stale_pid(cluster, "kube-apiserver", stranger.pid)
    notes: list[str] = []
    assert cluster.up(report=notes.append).running
    assert stranger.poll() is None, "cluster.up killed an unrelated process"
    assert "removed stale pid file kube-apiserver.pid (names no process of ours)" in notes


def test_down_after_a_crash_removes_every_folder_and_spares_strangers(cluster, stranger):
    volume = _claim_a_volume(cluster.kubeconfig, cluster.context)
    assert volume.is_dir()
    kill(cluster, *COMPONENTS)
    plant_stale_pid(cluster, "etcd", stranger.pid)
    result = invoke("cluster.down", "--provider", "kwok", "--name", NAME)
    assert result.exit_code == 0, result.stderr.decode()
    assert stranger.poll() is None, "cluster.down killed an unrelated process"
    assert not volume.exists()
    assert not cluster.cluster_dir.exists() and not cluster.state_dir.exists()
    assert _processes_mentioning(str(cluster.cluster_dir)) == []


def _etcd_bytes(folder: Path) -> bytes:
    return b"".join(p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file())


def test_secrets_are_encrypted_at_rest_in_etcd(kube, kwok_cluster, namespace):
    sentinel = f"etcd-sentinel-{uuid.uuid4().hex}"
    literal = f"--from-literal=T={sentinel}"
    kube.run("create", "secret", "generic", "probe", "-n", namespace, literal)
    read = kube.json("get", "secret", "probe", "-n", namespace)["data"]["T"]
    assert base64.b64decode(read).decode() == sentinel  # the API decrypts
    envelope = re.compile(
        rf"/registry/secrets/{namespace}/probe.{{0,64}}k8s:enc:secretbox:v1:key1".encode(),
        re.DOTALL,
    )
    key = f"/registry/secrets/{namespace}/probe".encode()
    stored = b""
    deadline = time.monotonic() + 20
    while key not in stored:  # etcd's WAL has it at once, its db within ~100 ms
        assert time.monotonic() < deadline, "the Secret never reached etcd's files"
        time.sleep(0.2)
        stored = _etcd_bytes(kwok_cluster.cluster_dir / "etcd")
    assert sentinel.encode() not in stored, "the Secret's value is in etcd in plaintext"
    assert envelope.search(stored), "the Secret is not in etcd with a k8s:enc: prefix"
