"""A node daemon that died, a `cluster.up` killed half-way, or a crash of every process of
the cluster converges with the next `cluster.up`; the deploy after that succeeds at once."""

from __future__ import annotations

import os
import signal
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sh

from opskit.clusters import processes
from opskit.clusters.daemons import alive
from opskit.clusters.kwok import CONTROL_PLANE
from opskit.clusters.node import DAEMONS
from opskit.core import config
from tests.e2e.project import Project, make_project
from tests.e2e_node.conftest import leave_no_overlay_behind

NAMESPACE = config.load().overlay("dev").namespace
SOURCE = "services/telemetry/src/telemetry/__init__.py"
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


@pytest.fixture
def deployed(tmp_path, real_cluster) -> Iterator[Project]:
    """The dev overlay deployed from a scratch copy (its pods real), removed afterwards."""
    project = make_project(tmp_path / "repo", real_cluster.name)
    project.invoke("deploy", "--overlay=dev")
    yield project
    leave_no_overlay_behind(real_cluster.kube())


def _kill_everything(cluster) -> list[int]:
    """kill -9 every daemon of the node and every process of the control plane (proved ours
    first), as a crash leaves them; returns their pids once all are gone."""
    node = cluster.real_node()
    pids = [node.daemons.pid(name) for name in DAEMONS]
    for name in (*CONTROL_PLANE, "kwok-controller"):
        pid_file = cluster.cluster_dir / "pids" / f"{name}.pid"
        pids.append(processes.owner_pid(pid_file, name, cluster.cluster_dir))
    assert None not in pids, pids
    for pid in pids:
        os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 30
    while any(alive(pid) for pid in pids):
        assert time.monotonic() < deadline, [p for p in pids if alive(p)]
        time.sleep(0.1)
    return pids


def test_after_a_crash_of_everything_up_converges_and_the_next_deploy_succeeds_at_once(
    deployed, real_cluster, kube
):
    node = real_cluster.real_node()
    killed = _kill_everything(real_cluster)
    up = INVOKE(
        "cluster.up", "--provider", "kwok", "--name", real_cluster.name,
        _env=dict(os.environ), _timeout=600, _err_to_out=True, _return_cmd=True,
    )  # fmt: skip
    assert "Traceback" not in str(up)
    assert f"restarting stopped kwok cluster {real_cluster.name}" in str(up)
    running = node.running()
    assert set(running) == set(DAEMONS) and not set(running.values()) & set(killed)
    ready = kube.run(
        "get", "node", node.name, "-o", "jsonpath={.status.conditions[?(@.type=='Ready')].status}"
    )
    assert ready.stdout == "True"
    source = deployed.path / SOURCE
    mark = uuid.uuid4().hex
    source.write_text(source.read_text() + f'\nRECOVERY_MARK = "{mark}"\n')
    deployed.commit_all("test: a change after the crash")
    again = deployed.invoke("deploy", "--overlay=dev", ok=(0, 1, 2, 3))
    said = str(again.stdout, "utf-8", "replace") + str(again.stderr, "utf-8", "replace")
    assert again.exit_code == 0 and "Traceback" not in said, said[-3000:]
    pods = kube.json(
        "get", "pods", "-n", NAMESPACE, "-l", "app.kubernetes.io/name=telemetry", timeout=30
    )["items"]
    serving = [p for p in pods if not p["metadata"].get("deletionTimestamp")]
    assert [p["spec"]["nodeName"] for p in serving] == [node.name]
    code = "import telemetry; print(telemetry.RECOVERY_MARK)"
    name = serving[0]["metadata"]["name"]
    ran = kube.run("exec", "-n", NAMESPACE, name, "--", "python", "-c", code, timeout=60)
    assert ran.stdout.strip() == mark
