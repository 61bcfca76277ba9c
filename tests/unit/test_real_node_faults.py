"""The real node's faults, decided before anything starts: a port the node needs already
taken, too little free disk, no root, a missing kernel feature, a stale containerd socket.
Each is one line naming what and how to fix it; nothing is started."""

from __future__ import annotations

import errno
import socket
from collections import namedtuple
from pathlib import Path

import pytest

from opskit.clusters import node, node_probe
from opskit.clusters.kwok import KwokCluster
from opskit.clusters.node_files import NodeLayout
from opskit.core import config
from opskit.core.errors import OpsError
from opskit.kube.kubectl import Kube

ROOT = Path(__file__).resolve().parents[2]
CAPABLE = ("_root", "_tools", "_host_tools", "_cni", "_kernel", "_socket_path", "_namespaces")
Usage = namedtuple("Usage", "total used free")


@pytest.fixture
def cfg():
    return config.load(ROOT / "opskit.yaml")


@pytest.fixture
def capable(monkeypatch):
    """This machine can run the node, whatever it really is: only the faults under test
    decide (the probe's other checks are answered as passing)."""
    for check in CAPABLE[:-1]:
        monkeypatch.setattr(node_probe, check, lambda _layout: None)
    monkeypatch.setattr(node_probe, "_namespaces", lambda: None)


@pytest.fixture
def roomy(monkeypatch):
    monkeypatch.setattr(node_probe.shutil, "disk_usage", lambda _p: Usage(1, 0, 100 * 1024**3))


@pytest.fixture
def kubelet_port():
    """Something listening on the kubelet's port (unless something already does)."""
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("0.0.0.0", node_probe.KUBELET_PORT))
            sock.listen(1)
        except OSError as exc:
            assert exc.errno == errno.EADDRINUSE
        yield


@pytest.mark.parametrize("mode", ["auto", "real"])
def test_a_taken_kubelet_port_is_a_one_line_error_in_either_mode(
    cfg, monkeypatch, tmp_path, capable, roomy, kubelet_port, refuse_processes, mode
):
    monkeypatch.setenv("OPSKIT_KWOK_NODE", mode)
    monkeypatch.setenv("OPSKIT_STATE_DIR", str(tmp_path / "state"))
    said: list[str] = []
    with pytest.raises(OpsError) as caught:
        KwokCluster(cfg, "lab")._choose_node(report=said.append)
    message = str(caught.value)
    assert "\n" not in message and said == []
    assert "cannot start its real node: port 10250 (the kubelet's) is already in use" in message
    assert "`ss -ltnp 'sport = :10250'`" in message and "OPSKIT_KWOK_NODE=simulated" in message
    assert not (tmp_path / "state").exists()  # nothing written, nothing started


def test_a_free_kubelet_port_passes(monkeypatch, tmp_path, roomy):
    monkeypatch.setattr(node_probe, "port_in_use", lambda port, host: False)
    assert node_probe.in_the_way(NodeLayout(tmp_path / "node")) is None


@pytest.mark.parametrize(
    ("free", "refused"), [(node_probe.MIN_FREE - 1, True), (node_probe.MIN_FREE, False)]
)
def test_the_free_space_check_refuses_below_its_threshold(monkeypatch, tmp_path, free, refused):
    asked: list[Path] = []

    def usage(folder):
        asked.append(Path(folder))
        return Usage(free * 2, free, free)

    monkeypatch.setattr(node_probe.shutil, "disk_usage", usage)
    monkeypatch.setattr(node_probe, "port_in_use", lambda port, host: False)
    reason = node_probe.in_the_way(NodeLayout(tmp_path / "state" / "node"))
    assert asked == [tmp_path]  # the nearest existing folder the node will live below
    if refused:
        assert reason == (
            f"only 2047 MiB free below {tmp_path} (a real node needs 2048 MiB for images, "
            "snapshots and logs): free space there, or set OPSKIT_STATE_DIR to a folder on a "
            "larger file system"
        )
    else:
        assert reason is None


def test_a_full_disk_is_an_error_even_in_auto_mode(cfg, monkeypatch, tmp_path, capable):
    monkeypatch.setenv("OPSKIT_KWOK_NODE", "auto")
    monkeypatch.setenv("OPSKIT_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setattr(node_probe.shutil, "disk_usage", lambda _p: Usage(1, 1, 64 * 1024**2))
    with pytest.raises(OpsError, match=r"only 64 MiB free below .*OPSKIT_STATE_DIR"):
        KwokCluster(cfg, "lab")._choose_node(report=pytest.fail)


def test_no_root_falls_back_to_simulated_nodes_in_one_line(cfg, monkeypatch):
    monkeypatch.setenv("OPSKIT_KWOK_NODE", "auto")
    monkeypatch.setattr(node_probe.os, "geteuid", lambda: 1000)
    said: list[str] = []
    assert KwokCluster(cfg, "lab")._choose_node(report=said.append) is False
    assert said == ["simulated nodes only: not root (the kubelet, containerd and runc need root)"]


def _fake_kernel(tmp_path: Path, filesystems: str, cgroups: tuple[str, ...], bridge=True):
    proc, sys = tmp_path / "proc", tmp_path / "sys"
    proc.mkdir()
    (proc / "filesystems").write_text(filesystems)
    for name in cgroups:
        (sys / "fs" / "cgroup" / name).mkdir(parents=True)
    if bridge:
        (proc / "sys" / "net" / "bridge").mkdir(parents=True)
    return proc, sys


V1 = ("cpu,cpuacct", "memory", "pids", "devices", "unified")


@pytest.mark.parametrize(
    ("filesystems", "cgroups", "bridge", "reason"),
    [
        ("nodev\tproc\n\text4\n", V1, True, "the kernel lacks overlay (try `modprobe overlay`)"),
        (
            "nodev\toverlay\n",
            ("cpu,cpuacct", "pids", "unified"),
            True,
            "the cgroup controller memory is not available at {sys}/fs/cgroup "
            "(enable it on the kernel command line: cgroup_enable=memory)",
        ),
        (
            "nodev\toverlay\n",
            V1,
            False,
            "the kernel's bridge netfilter is off (try `modprobe br_netfilter`)",
        ),
        ("nodev\toverlay\n", V1, True, None),
    ],
    ids=["no-overlay", "no-memory-cgroup", "no-br-netfilter", "complete"],
)
def test_a_missing_kernel_feature_is_named_with_its_fix(
    monkeypatch, tmp_path, filesystems, cgroups, bridge, reason
):
    proc, sys = _fake_kernel(tmp_path, filesystems, cgroups, bridge)
    monkeypatch.setattr(node_probe, "PROC", proc)
    monkeypatch.setattr(node_probe, "SYS", sys)
    expected = reason.format(sys=sys) if reason else None
    assert node_probe._kernel(NodeLayout(tmp_path / "node")) == expected


def test_cgroup_v2_controllers_are_read_from_its_list(monkeypatch, tmp_path):
    proc, sys = _fake_kernel(tmp_path, "nodev\toverlay\n", ())
    (sys / "fs" / "cgroup").mkdir(parents=True)
    (sys / "fs" / "cgroup" / "cgroup.controllers").write_text("cpuset cpu io memory\n")
    monkeypatch.setattr(node_probe, "PROC", proc)
    monkeypatch.setattr(node_probe, "SYS", sys)
    reason = node_probe._kernel(NodeLayout(tmp_path / "node"))
    assert reason is not None and reason.startswith("the cgroup controller pids is not available")


def test_a_missing_kernel_feature_refuses_a_real_node_with_exit_1(cfg, monkeypatch, tmp_path):
    monkeypatch.setenv("OPSKIT_KWOK_NODE", "real")
    proc, sys = _fake_kernel(tmp_path, "nodev\toverlay\n", V1, bridge=False)
    for check in ("_root", "_tools", "_host_tools", "_cni"):
        monkeypatch.setattr(node_probe, check, lambda _layout: None)
    monkeypatch.setattr(node_probe, "PROC", proc)
    monkeypatch.setattr(node_probe, "SYS", sys)
    with pytest.raises(OpsError) as caught:
        KwokCluster(cfg, "lab")._choose_node(report=pytest.fail)
    assert caught.value.message == (
        "cluster.kwok.node is real, but the kernel's bridge netfilter is off "
        "(try `modprobe br_netfilter`)"
    )


@pytest.fixture
def real_node(tmp_path):
    kube = Kube(str(tmp_path / "kubeconfig"), "kwok-lab")
    made = node.RealNode(tmp_path / "cluster", tmp_path / "pki", kube, "lab-real")
    made.layout.socket.parent.mkdir(parents=True)
    return made


def _start_until_containerd(real_node, monkeypatch) -> list[str]:
    """`start` with its host steps recorded; it stops when containerd would start."""
    calls: list[str] = []
    monkeypatch.setattr(node.node_host, "save_host", lambda _file: calls.append("save"))
    monkeypatch.setattr(real_node, "_write_files", lambda: calls.append("files"))

    def start(name, _report):
        calls.append(f"start {name} (socket there: {real_node.layout.socket.exists()})")
        raise OpsError("stop here")

    monkeypatch.setattr(real_node, "_start", start)
    monkeypatch.setattr(real_node, "stop", lambda report: calls.append("stop"))
    with pytest.raises(OpsError) as caught:
        real_node.start({"kubernetes": "v1.37.2", "coredns": "v1.15.0"}, print)
    calls.append(caught.value.message)
    return calls


def test_a_stale_containerd_socket_is_removed_before_containerd_starts(real_node, monkeypatch):
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as dead:
        dead.bind(str(real_node.layout.socket))  # the file stays, nobody will answer
    assert real_node.layout.socket.is_socket()
    calls = _start_until_containerd(real_node, monkeypatch)
    assert calls == ["save", "files", "start containerd (socket there: False)", "stop", "stop here"]


def test_a_socket_someone_else_answers_on_is_a_one_line_error(real_node, monkeypatch):
    sock_path = real_node.layout.socket
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as other:
        other.bind(str(sock_path))
        other.listen(1)
        calls = _start_until_containerd(real_node, monkeypatch)
    assert calls == [
        "save",
        "files",
        "stop",
        f"something answers on {sock_path}, but no containerd of this node runs",
    ]


def test_a_taken_kubelet_port_refuses_the_restart_of_a_crashed_real_node(
    cfg, monkeypatch, tmp_path, kubelet_port, refuse_processes
):
    monkeypatch.setenv("OPSKIT_STATE_DIR", str(tmp_path / "state"))
    cluster = KwokCluster(cfg, "lab")
    cluster.real_marker.parent.mkdir(parents=True)
    cluster.real_marker.write_text("real node\n")
    stopped = cluster._status("stopped")
    monkeypatch.setattr(KwokCluster, "status", lambda self: stopped)
    monkeypatch.setattr(KwokCluster, "preflight", lambda self: None)
    monkeypatch.setattr(KwokCluster, "_restart", lambda self, report: pytest.fail("restarted"))
    with pytest.raises(OpsError) as caught:
        cluster.up(report=print)
    assert str(caught.value).startswith(
        "kwok cluster lab: cannot restart its real node: port 10250 (the kubelet's) is already "
        "in use: stop what listens there"
    )
