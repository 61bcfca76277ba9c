"""What the real node's daemons change on the host, and how `cluster.down` undoes it:
kernel settings (sysctls), mounts below the node's folder, the CNI bridge, and the
iptables chains and nftables tables the kubelet, kube-proxy, kube-router and CNI add."""

from __future__ import annotations

import json
from pathlib import Path

from opskit.core import paths, shell

# kubelet (protectKernelDefaults off), kube-proxy, the CNI bridge and kube-router change these
SYSCTLS = (
    "vm.overcommit_memory",
    "vm.panic_on_oom",
    "kernel.panic",
    "kernel.panic_on_oops",
    "kernel.keys.root_maxkeys",
    "kernel.keys.root_maxbytes",
    "net.ipv4.ip_forward",
    "net.ipv4.conf.all.route_localnet",
    "net.bridge.bridge-nf-call-iptables",
    "net.bridge.bridge-nf-call-ip6tables",
    "net.netfilter.nf_conntrack_max",
    "net.netfilter.nf_conntrack_tcp_timeout_established",
    "net.netfilter.nf_conntrack_tcp_timeout_close_wait",
    "net.netfilter.nf_conntrack_tcp_be_liberal",
)
OUR_CHAINS = ("KUBE-", "CNI-", "KUBE-ROUTER-")
CONTAINER_LOG_LINKS = Path("/var/log/containers")  # the kubelet's, fixed in its source


def drop_container_log_links(pod_logs: Path, existed: bool | None) -> None:
    """The kubelet's links in /var/log/containers to our pods' logs; the folder too when
    it was not there before and is empty now."""
    if not CONTAINER_LOG_LINKS.is_dir():
        return
    for link in CONTAINER_LOG_LINKS.iterdir():
        if link.is_symlink() and str(link.readlink()).startswith(str(pod_logs)):
            link.unlink(missing_ok=True)
    if existed is False and not any(CONTAINER_LOG_LINKS.iterdir()):
        CONTAINER_LOG_LINKS.rmdir()


def _sysctl_file(key: str) -> Path:
    return Path("/proc/sys") / key.replace(".", "/")


def read_sysctls() -> dict[str, str]:
    values = {}
    for key in SYSCTLS:
        try:
            values[key] = _sysctl_file(key).read_text().strip()
        except OSError:
            continue  # a module not loaded: nothing to restore
    return values


def save_host(file: Path) -> None:
    """Record the host as it is before the node starts; kept when present (a `cluster.up`
    after a crash must not record the crashed node's changes as the original)."""
    if file.is_file():
        return
    state = {
        "sysctls": read_sysctls(),
        "nft_tables": nft_tables(),
        "run_containerd": Path("/run/containerd").exists(),
        "var_log_containers": CONTAINER_LOG_LINKS.exists(),
    }
    paths.write_atomic(file, json.dumps(state, indent=1, sort_keys=True) + "\n")


def restore_sysctls(saved: dict[str, str], report) -> None:
    for key, value in saved.items():
        try:
            if _sysctl_file(key).read_text().strip() != value:
                _sysctl_file(key).write_text(value + "\n")
                report(f"restored {key} = {value}")
        except OSError as exc:
            report(f"could not restore {key} = {value}: {exc.strerror}")


def mounts_below(folder: Path) -> list[str]:
    """Mount points at or below `folder`, deepest (last mounted) first."""
    try:
        lines = Path("/proc/self/mountinfo").read_text().splitlines()
    except OSError:
        return []
    prefix = str(folder)
    found = []
    for line in lines:
        point = line.split()[4].replace("\\040", " ")
        if point == prefix or point.startswith(prefix + "/"):
            found.append(point)
    return list(reversed(found))


def unmount_below(folder: Path) -> None:
    for point in mounts_below(folder):
        result = shell.run(["umount", point], check=False, mutates=True, timeout=30)
        if result.returncode != 0:
            shell.run(["umount", "--lazy", point], check=False, mutates=True, timeout=30)


def delete_link(name: str) -> None:
    if Path(f"/sys/class/net/{name}").exists():
        shell.run(["ip", "link", "delete", name], check=False, mutates=True, timeout=15)


def without_our_chains(saved: str) -> str:
    """iptables-save text less our chains and every rule that names one of them."""
    kept = []
    for line in saved.splitlines():
        if line.startswith(":") and line[1:].startswith(OUR_CHAINS):
            continue
        words = line.split()
        if line.startswith("-A") and any(w.startswith(OUR_CHAINS) for w in words[1:]):
            continue
        kept.append(line)
    return "\n".join(kept) + "\n"


def remove_our_chains() -> None:
    """Drop the KUBE-*, CNI-* and KUBE-ROUTER-* chains (IPv4 and IPv6) left behind."""
    for save, restore in (
        ("iptables-save", "iptables-restore"),
        ("ip6tables-save", "ip6tables-restore"),
    ):
        current = shell.run([save], check=False, timeout=30)
        if current.returncode != 0 or not any(c in current.stdout for c in OUR_CHAINS):
            continue
        shell.run([restore], stdin=without_our_chains(current.stdout), mutates=True, timeout=30)


def our_ipsets() -> list[str]:
    """kube-router's ipsets (KUBE-SRC-*, KUBE-DST-*, ...; inet6: for IPv6)."""
    result = shell.run(["ipset", "list", "-n"], check=False, timeout=15)
    names = result.stdout.split() if result.returncode == 0 else []
    return [n for n in names if n.removeprefix("inet6:").startswith(OUR_CHAINS)]


def remove_our_ipsets() -> None:
    """After the chains that name them are gone (a set in use cannot be destroyed)."""
    for name in our_ipsets():
        shell.run(["ipset", "destroy", name], check=False, mutates=True, timeout=15)


def nft_tables() -> list[str]:
    """`family name` of every nftables table (iptables-nft's tables included)."""
    result = shell.run(["nft", "list", "tables"], check=False, timeout=15)
    lines = result.stdout.splitlines() if result.returncode == 0 else []
    return [line.removeprefix("table ").strip() for line in lines if line.startswith("table ")]


def drop_new_empty_tables(before: list[str]) -> None:
    """Tables the node's daemons created (absent before `cluster.up`) once they hold no
    rule: iptables-nft leaves its tables behind even when every chain is gone."""
    for table in nft_tables():
        if table in before:
            continue
        listing = shell.run(["nft", "-j", "list", "table", *table.split()], check=False, timeout=15)
        if listing.returncode != 0:
            continue
        items = json.loads(listing.stdout or "{}").get("nftables", [])
        if not any("rule" in item or "set" in item for item in items):
            shell.run(["nft", "delete", "table", *table.split()], check=False, mutates=True)
