"""Runs last (file order): `cluster.down` leaves nothing of the real node behind."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import sh

from opskit.clusters import node_host
from opskit.clusters.node import MARKER

INVOKE = sh.Command(str(Path(sys.executable).parent / "invoke"))


def invoke(*args: str):
    return INVOKE(*args, _env=dict(os.environ), _timeout=120, _return_cmd=True)


def test_status_names_the_real_node(real_cluster):
    result = invoke("cluster.status", "--json", "--provider", "kwok", "--name", real_cluster.name)
    status = json.loads(result.stdout)
    assert status["real_nodes"] == [f"{real_cluster.name}-real"]
    assert len(status["nodes"]) == 2  # and one simulated


def _ours(home: Path) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        try:
            environ = (entry / "environ").read_bytes()
        except OSError:
            continue
        if f"{MARKER}={home}".encode() in environ:
            found.append(int(entry.name))
    return found


def test_down_leaves_nothing_behind(real_cluster, host_before):
    home = real_cluster.real_node().layout.home
    real_cluster.down(report=print)
    assert _ours(home) == []
    assert node_host.mounts_below(home.parent) == []
    assert not home.exists()
    assert not Path("/sys/class/net/opskit0").exists()
    assert node_host.read_sysctls() == host_before["sysctls"]
    saved = "\n".join(
        node_host.shell.run([tool], check=False).stdout
        for tool in ("iptables-save", "ip6tables-save")
    )
    assert not any(chain in saved for chain in node_host.OUR_CHAINS)
    assert node_host.nft_tables() == host_before["tables"]
    assert node_host.our_ipsets() == host_before["ipsets"]
    netns = node_host.shell.run(["ip", "netns", "list"], check=False).stdout
    assert "cni-" not in netns
