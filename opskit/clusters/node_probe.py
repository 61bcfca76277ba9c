"""Can this machine run the embedded cluster's real node? One reason why not, or None.

cluster.kwok.node (or $OPSKIT_KWOK_NODE): `auto` falls back to simulated nodes and says
this reason in one line; `real` makes it an error (exit 1, nothing started).

`in_the_way` is of another kind: the machine can run containers, but something here stops
the node now (the kubelet's port taken, too little free disk). That is an error in both
modes: the user of `auto` expects a real node on such a machine, not a silent fallback."""

from __future__ import annotations

import errno
import os
import shutil
import socket
from pathlib import Path

from opskit.clusters.node_files import CNI_BIN_DIRS, SOCKET_MAX, NodeLayout
from opskit.core import shell, tools
from opskit.core.errors import ToolMissing

NODE_TOOLS: tuple[str, ...] = ("kubelet", "kube-proxy", "containerd", "containerd-shim-runc-v2")
NODE_TOOLS += ("ctr", "coredns", "crictl", "kube-router")
HOST_TOOLS = {
    "runc": "runc",
    "iptables": "iptables",
    "nft": "nftables",
    "ipset": "ipset",
    "buildah": "buildah",
    "start-stop-daemon": "dpkg",
    "unshare": "util-linux",
    "gcc": "gcc",
}
CNI_PLUGINS = ("bridge", "host-local", "portmap", "loopback")
KERNEL_FS = ("overlay",)
CGROUP_CONTROLLERS = ("cpu", "memory", "pids")  # what the kubelet puts each pod under
PROC = Path("/proc")
SYS = Path("/sys")
KUBELET_PORT = 10250
MIN_FREE = 2 * 1024**3  # images, containerd's snapshots, logs


def why_not(layout: NodeLayout) -> str | None:
    """The first thing that stops a real node here, with its fix; None when all is there."""
    for check in (_root, _tools, _host_tools, _cni, _kernel, _socket_path):
        reason = check(layout)
        if reason:
            return reason
    return _namespaces()


def in_the_way(layout: NodeLayout) -> str | None:
    """What stops the node on a machine that can run it, with its fix; None when nothing."""
    for check in (_disk, _port):
        reason = check(layout)
        if reason:
            return reason
    return None


def _root(_layout: NodeLayout) -> str | None:
    if os.geteuid() != 0:
        return "not root (the kubelet, containerd and runc need root)"
    return None


def _tools(_layout: NodeLayout) -> str | None:
    missing = [name for name in NODE_TOOLS if tools.which(name) is None]
    if missing:
        return f"{missing[0]} is not built: run `invoke tools.install --only=node`"
    return None


def _host_tools(_layout: NodeLayout) -> str | None:
    for name, package in HOST_TOOLS.items():
        if shutil.which(name) is None:
            return f"{name} is missing: apt-get install {package} (./bootstrap.sh setup does)"
    return None


def _cni(_layout: NodeLayout) -> str | None:
    for plugin in CNI_PLUGINS:
        if not any((Path(d) / plugin).is_file() for d in CNI_BIN_DIRS):
            return (
                f"CNI plugin {plugin} not found in {' or '.join(CNI_BIN_DIRS)}: "
                "apt-get install containernetworking-plugins"
            )
    return None


def _kernel(_layout: NodeLayout) -> str | None:
    try:
        filesystems = (PROC / "filesystems").read_text()
    except OSError:
        return f"{PROC / 'filesystems'} is unreadable (no /proc?)"
    for fs in KERNEL_FS:
        if fs not in filesystems.split():
            return f"the kernel lacks {fs} (try `modprobe {fs}`)"
    cgroup = SYS / "fs" / "cgroup"
    if not cgroup.is_dir() or not any(cgroup.iterdir()):
        return f"no cgroup file system at {cgroup}"
    missing = [name for name in CGROUP_CONTROLLERS if name not in _controllers(cgroup)]
    if missing:
        return (
            f"the cgroup controller {missing[0]} is not available at {cgroup} "
            f"(enable it on the kernel command line: cgroup_enable={missing[0]})"
        )
    if not (PROC / "sys" / "net" / "bridge").is_dir():
        return "the kernel's bridge netfilter is off (try `modprobe br_netfilter`)"
    return None


def _controllers(cgroup: Path) -> set[str]:
    """The controllers a pod can be put under: v2's cgroup.controllers, v1's (or a hybrid's)
    hierarchies mounted below `cgroup` (cpu,cpuacct counts as cpu)."""
    try:
        return set((cgroup / "cgroup.controllers").read_text().split())
    except OSError:
        pass
    found: set[str] = set()
    for entry in cgroup.iterdir():
        if entry.is_dir():
            found.update(entry.name.split(","))
    return found


def _socket_path(layout: NodeLayout) -> str | None:
    if len(str(layout.socket)) > SOCKET_MAX:
        return (
            f"the containerd socket path {layout.socket} is longer than {SOCKET_MAX} bytes: "
            "set OPSKIT_STATE_DIR to a shorter folder"
        )
    return None


def _disk(layout: NodeLayout) -> str | None:
    folder = layout.home
    while not folder.exists():
        folder = folder.parent
    free = shutil.disk_usage(folder).free
    if free < MIN_FREE:
        return (
            f"only {free // 1024**2} MiB free below {folder} (a real node needs "
            f"{MIN_FREE // 1024**2} MiB for images, snapshots and logs): free space there, "
            "or set OPSKIT_STATE_DIR to a folder on a larger file system"
        )
    return None


def _port(_layout: NodeLayout) -> str | None:
    return kubelet_port()


def kubelet_port() -> str | None:
    """Why the kubelet could not listen on its port now, with the fix; None when it can."""
    if port_in_use(KUBELET_PORT, "0.0.0.0"):
        return (
            f"port {KUBELET_PORT} (the kubelet's) is already in use: stop what listens there "
            f"(`ss -ltnp 'sport = :{KUBELET_PORT}'` names it; another cluster's real node: "
            "`invoke cluster.down` it), or use simulated nodes: OPSKIT_KWOK_NODE=simulated"
        )
    return None


def port_in_use(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind((host, port))
        except OSError as exc:
            return exc.errno == errno.EADDRINUSE
    return False


def _namespaces() -> str | None:
    """What runc needs of the kernel: new mount, pid, network, ipc and uts namespaces."""
    argv = ["unshare", "--mount", "--pid", "--net", "--ipc", "--uts", "--fork", "true"]
    try:
        result = shell.run(argv, check=False, timeout=20)
    except ToolMissing:
        return "unshare is missing: apt-get install util-linux"
    if result.returncode != 0:
        detail = (result.stderr.strip().splitlines() or ["no output"])[-1]
        return f"cannot create Linux namespaces ({detail}): containers cannot run here"
    return None
