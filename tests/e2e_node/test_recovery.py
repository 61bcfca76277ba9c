"""A node daemon that died, or a `cluster.up` killed half-way, converges with the next
`cluster.up`."""

from __future__ import annotations

import os
import signal
import sys
import time
from pathlib import Path

import sh

INVOKE = sh.Command(str(Path(sys.executable).parent / "invoke"))


def test_a_killed_kubelet_comes_back_with_the_next_up(real_cluster, kube):
    node = real_cluster.real_node()
    killed = node.daemons.pid("kubelet")
    assert killed is not None
    os.kill(killed, signal.SIGKILL)
    up = INVOKE(
        "cluster.up", "--provider", "kwok", "--name", real_cluster.name,
        _env=dict(os.environ), _timeout=300, _err_to_out=True, _return_cmd=True,
    )  # fmt: skip
    assert "starting kubelet" in str(up)
    restarted = node.daemons.pid("kubelet")
    assert restarted not in (None, killed)
    ready = kube.run(
        "get", "node", node.name, "-o", "jsonpath={.status.conditions[?(@.type=='Ready')].status}"
    )
    assert ready.stdout == "True"


def test_an_interrupted_up_converges_on_the_next_up(real_cluster, kube):
    """`cluster.up` killed outright (no cleanup) while its node starts: the next one ends it."""
    node = real_cluster.real_node()
    real_cluster.down(report=print)
    args = ("cluster.up", "--provider", "kwok", "--name", real_cluster.name)
    first = INVOKE(*args, _env=dict(os.environ), _bg=True, _bg_exc=False)
    deadline = time.monotonic() + 600
    while node.daemons.pid("kubelet") is None and time.monotonic() < deadline:
        time.sleep(0.2)
    os.kill(first.pid, signal.SIGKILL)
    INVOKE(*args, _env=dict(os.environ), _timeout=600)
    ready = kube.run(
        "get", "node", node.name, "-o", "jsonpath={.status.conditions[?(@.type=='Ready')].status}"
    )
    assert ready.stdout == "True"
    assert set(node.running()) == {"containerd", "kubelet", "kube-proxy", "kube-router"}
    dns = kube.run("rollout", "status", "-n", "kube-system", "deployment/coredns", "--timeout=5s")
    assert dns.returncode == 0
