"""A node daemon that died comes back with the next `cluster.up` (it converges)."""

from __future__ import annotations

import os
import signal
import sys
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
