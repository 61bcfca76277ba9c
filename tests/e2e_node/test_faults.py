"""Faults met by `invoke cluster.up` on this machine, as a user meets them: the kubelet's port
taken (the session's real node holds it), a state folder on a nearly full file system. Each
is one line naming what and how to fix it, exit 1, and leaves nothing running or mounted."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from opskit.clusters import node_host
from opskit.clusters.node import MARKER

INVOKE = str(Path(sys.executable).parent / "invoke")
OTHER = "gitops-lab-fault"


def _rules() -> list[str]:
    """iptables' and ip6tables' tables, chains and rules (no dated comments, no counters)."""
    saved = (
        node_host.shell.run([t], check=False).stdout for t in ("iptables-save", "ip6tables-save")
    )
    lines = (line for text in saved for line in text.splitlines() if not line.startswith("#"))
    return [re.sub(r" \[\d+:\d+\]$", "", line) for line in lines]  # no packet counters


def _mentioning(text: str) -> list[str]:
    """Command lines of live processes naming `text` (this test's own excepted)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            environ = (entry / "environ").read_bytes()
        except OSError:
            continue
        if text in argv or f"{MARKER}=".encode() + text.encode() in environ:
            found.append(argv)
    return found


def _up(env: dict[str, str]) -> subprocess.CompletedProcess:
    argv = [INVOKE, "cluster.up", "--provider", "kwok", "--name", OTHER]
    return subprocess.run(argv, check=False, env=env, capture_output=True, text=True, timeout=300)


@pytest.fixture
def state() -> Iterator[Path]:
    """A short state folder of its own (the containerd socket's path below it must stay short
    of the 100 bytes the probe allows); whatever a failing test started there is removed."""
    folder = Path(tempfile.mkdtemp(prefix="f29-", dir="/tmp"))
    yield folder
    down = [INVOKE, "cluster.down", "--provider", "kwok", "--name", OTHER]
    env = {**os.environ, "OPSKIT_STATE_DIR": str(folder / "state")}
    subprocess.run(down, check=False, env=env, capture_output=True, timeout=300)
    if not node_host.mounts_below(folder):
        shutil.rmtree(folder, ignore_errors=True)


def _assert_refused(result: subprocess.CompletedProcess, state: Path, *said: str) -> None:
    lines = (result.stdout + result.stderr).strip().splitlines()
    assert result.returncode == 1, lines
    assert len(lines) == 1 and lines[0].startswith("opskit: error: "), lines
    assert all(part in lines[0] for part in said), lines[0]
    assert _mentioning(OTHER) == []
    assert not [p for p in state.rglob("*") if OTHER in p.name]  # no cluster folder made


def test_the_kubelets_port_in_use_refuses_a_second_real_node(real_cluster, state):
    assert real_cluster.real_node().daemons.pid("kubelet")  # it holds port 10250
    rules = _rules()
    env = {**os.environ, "OPSKIT_KWOK_NODE": "auto", "OPSKIT_STATE_DIR": str(state / "state")}
    result = _up(env)
    _assert_refused(
        result,
        state / "state",
        f"kwok cluster {OTHER}: cannot start its real node: port 10250 (the kubelet's) is "
        "already in use",
        "OPSKIT_KWOK_NODE=simulated",
    )
    assert _rules() == rules


@pytest.fixture
def tiny_fs(state) -> Iterator[Path]:
    """A 32 MiB tmpfs holding the state folder: far too little free space for a node."""
    mount = ["mount", "-t", "tmpfs", "-o", "size=32m", "tmpfs", str(state)]
    subprocess.run(mount, check=True, timeout=30)
    try:
        yield state
    finally:
        subprocess.run(["umount", str(state)], check=True, timeout=60)


def test_a_state_folder_on_a_full_file_system_is_refused_before_anything_starts(
    real_cluster, tiny_fs
):
    rules = _rules()
    env = {**os.environ, "OPSKIT_KWOK_NODE": "real", "OPSKIT_STATE_DIR": str(tiny_fs / "state")}
    result = _up(env)
    _assert_refused(
        result,
        tiny_fs / "state",
        f"MiB free below {tiny_fs}",
        "(a real node needs 2048 MiB",
        "set OPSKIT_STATE_DIR to a folder on a larger file system",
    )
    assert node_host.mounts_below(tiny_fs) == [str(tiny_fs)]  # the tmpfs alone
    assert _rules() == rules
