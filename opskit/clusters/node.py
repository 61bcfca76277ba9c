"""The embedded cluster's real node: containerd (runc, a CNI bridge), the kubelet,
kube-proxy, kube-router (NetworkPolicy only) and CoreDNS as a pod, registered with the
cluster's own apiserver beside kwok's fake nodes. Everything lives below
<cluster state>/node; `stop` undoes what the daemons changed on the host."""

from __future__ import annotations

import os
import shutil
import socket
import time
from pathlib import Path

from opskit.clusters import node_files, node_host, node_images, node_wait
from opskit.clusters.daemons import Daemon, Supervisor
from opskit.clusters.node_files import NodeLayout
from opskit.core import paths, shell, tools, yamlio
from opskit.core.errors import OpsError
from opskit.kube.kubectl import Kube, server_side_apply

MARKER = "OPSKIT_NODE"
DAEMONS = ("containerd", "kubelet", "kube-proxy", "kube-router")
REAL_LABEL = "opskit.dev/node"  # =real on the real node
FAKE_TAINT = "kwok.x-k8s.io/node=fake:NoSchedule"  # no real workload lands on a fake node


class RealNode:
    def __init__(self, cluster_state: Path, pki: Path, kube: Kube, name: str) -> None:
        self.layout = NodeLayout(cluster_state / "node")
        self.pki = pki  # kwokctl's: ca.crt/ca.key sign the kubelet's serving cert
        self.kube = kube
        self.name = name
        self.daemons = Supervisor(self.layout.home, MARKER)

    @property
    def present(self) -> bool:
        return self.layout.home.exists()

    def running(self) -> dict[str, int]:
        return {n: pid for n in DAEMONS if (pid := self.daemons.pid(n)) is not None}

    # --- up ----------------------------------------------------------------------------

    def start(self, versions: dict[str, str], report) -> None:
        """Start what is not running; wait for the node and CoreDNS to be Ready."""
        try:
            node_host.save_host(self.layout.sysctls)
            self._write_files()
            up = self.running()
            if "containerd" not in up:
                self._clear_socket()
                self._start("containerd", report)
                self._wait_socket()
            self._import_images(versions, report)
            for name in ("kubelet", "kube-proxy"):
                if name not in up:
                    self._start(name, report)
            node_wait.nodes_ready(self.kube, [self.name], self.daemons, "kubelet", report)
            if "kube-router" not in up:  # it looks its node up when it starts
                self._start("kube-router", report)
            self._coredns(versions["coredns"], report)
            self._check_alive()
        except BaseException:
            self.stop(report=lambda _m: None)  # nothing half-started is left running
            raise

    def _write_files(self) -> None:
        layout = self.layout
        for folder in (layout.containerd_root, layout.containerd_state, layout.cni_conf_dir):
            paths.ensure_dir(folder)
        paths.ensure_dir(layout.cni_data)
        paths.ensure_dir(layout.pki)
        paths.write_atomic(layout.containerd_config, node_files.containerd_toml(layout))
        paths.write_atomic(
            layout.cni_conf_dir / "10-opskit.conflist", node_files.cni_conflist(layout)
        )
        paths.write_atomic(
            layout.kubelet_config, node_files.kubelet_yaml(layout, self.pki / "ca.crt")
        )
        proxy = node_files.kube_proxy_yaml(Path(self.kube.kubeconfig), self.name, free_port())
        paths.write_atomic(layout.kube_proxy_config, proxy)
        if not (layout.pki / "kubelet.crt").is_file():
            self._serving_cert()

    def _serving_cert(self) -> None:
        """The kubelet's serving certificate, signed by the cluster CA (the apiserver
        verifies it for logs and exec)."""
        key, crt = self.layout.pki / "kubelet.key", self.layout.pki / "kubelet.crt"
        sans = f"subjectAltName=DNS:{self.name},DNS:localhost,IP:127.0.0.1,IP:{node_ip()}"
        shell.run(
            ["openssl", "req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
             "-nodes", "-keyout", str(key), "-subj", f"/CN={self.name}", "-out", str(key) + ".csr"],
            mutates=True, timeout=30,
        )  # fmt: skip
        shell.run(
            ["openssl", "x509", "-req", "-in", str(key) + ".csr", "-CA", str(self.pki / "ca.crt"),
             "-CAkey", str(self.pki / "ca.key"), "-CAcreateserial", "-days", "365",
             "-extfile", "/dev/stdin", "-out", str(crt)],
            stdin=sans + "\n", mutates=True, timeout=30,
        )  # fmt: skip
        Path(str(key) + ".csr").unlink(missing_ok=True)

    def _daemon(self, name: str) -> Daemon:
        layout, kubeconfig = self.layout, str(self.kube.kubeconfig)
        path = os.pathsep.join((str(paths.tools_bin()), os.environ.get("PATH", "")))
        argv: dict[str, tuple[str, ...]] = {
            "containerd": ("--config", str(layout.containerd_config)),
            "kubelet": (
                "--config", str(layout.kubelet_config), "--kubeconfig", kubeconfig,
                "--hostname-override", self.name, "--node-ip", node_ip(),
                "--root-dir", str(layout.kubelet_root), "--cert-dir", str(layout.pki),
                "--node-labels", f"{REAL_LABEL}=real",
            ),
            "kube-proxy": ("--config", str(layout.kube_proxy_config)),
            "kube-router": (
                "--run-firewall=true", "--run-router=false", "--run-service-proxy=false",
                "--enable-cni=false", "--kubeconfig", kubeconfig, "--hostname-override", self.name,
                "--metrics-port=0", "--health-port=0",
            ),
        }  # fmt: skip
        return Daemon(name, tools.exe(name), argv[name], (("PATH", path),))

    def _start(self, name: str, report) -> None:
        report(f"starting {name} (log: {self.daemons.logfile(name)})")
        self.daemons.start(self._daemon(name))

    def _check_alive(self) -> None:
        for name in DAEMONS:
            if self.daemons.exited(name):
                raise OpsError(
                    f"{name} exited: {self.daemons.last_line(name)}",
                    f"see {self.daemons.logfile(name)}",
                )

    def _clear_socket(self) -> None:
        """Before containerd starts: a socket file its crashed predecessor left (nobody
        answers on it) goes; one that answers is served by a process this node did not
        start, which containerd must not share its root with."""
        sock = self.layout.socket
        if _answers(sock):
            raise OpsError(
                f"something answers on {sock}, but no containerd of this node runs",
                f"stop the process listening there (`ss -xlp | grep {sock.name}` names it), "
                "then run `invoke cluster.up`",
            )
        sock.unlink(missing_ok=True)

    def _wait_socket(self, seconds: float = 60.0) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if self.daemons.pid("containerd") is None and time.monotonic() > deadline - seconds + 3:
                break
            if _answers(self.layout.socket):
                return
            time.sleep(0.1)
        last = self.daemons.last_line("containerd")
        raise OpsError(
            f"containerd did not answer on {self.layout.socket}: {last}",
            f"see {self.daemons.logfile('containerd')}",
        )

    def _import_images(self, versions: dict[str, str], report) -> None:
        archives = (
            node_images.pause_archive(versions["kubernetes"], report),
            node_images.coredns_archive(versions["coredns"], report),
        )
        for archive in archives:
            shell.run(
                node_images.import_argv(self.layout.socket, archive), mutates=True, timeout=120
            )

    def _coredns(self, version: str, report) -> None:
        from opskit.clusters import node_dns

        report("starting CoreDNS (Service kube-dns, 10.96.0.10)")
        manifest = node_dns.manifest(node_images.coredns_image(version))
        apply = server_side_apply()
        self.kube.run(*apply, stdin=manifest, mutates=True, timeout=60)
        node_wait.rollout(self.kube, "kube-system", "deployment/coredns", self.daemons, report)

    def load(self, image: str, dry_run: bool = False) -> None:
        """A buildah-built image into containerd's k8s.io namespace, through an OCI archive
        kept by image ID (opskit.clusters.node_images.image_archive): the next cluster's
        node imports it without pushing it again."""
        archive = node_images.image_archive(image, dry_run)
        load = node_images.import_argv(self.layout.socket, archive)
        shell.run(load, mutates=True, dry_run=dry_run, timeout=300)
        if not dry_run:
            with self.layout.loaded.open("a") as record:
                record.write(image + "\n")

    def has_image(self, image: str) -> bool:
        """Whether `load` put `image` into this node's containerd (a file read, no process:
        a no-op deploy stays fast)."""
        try:
            return image in self.layout.loaded.read_text().splitlines()
        except OSError:
            return False

    def prepare_volumes(self, objects: list[dict], namespace: str, report, dry_run=False) -> None:
        """A `local` volume below the node's home for each claim the StatefulSets among
        `objects` make (opskit.clusters.node_volumes); one left Released by a deleted claim
        is made afresh."""
        from opskit.clusters import node_volumes

        wanted = node_volumes.claims(objects, namespace)
        if not wanted:
            return
        root = self.layout.home / "volumes"
        listed = self.kube.json("get", "pv", "-l", node_volumes.LABEL, timeout=30)["items"]
        phase = {v["metadata"]["name"]: (v.get("status") or {}).get("phase") for v in listed}
        released = [c for c in wanted if phase.get(node_volumes.volume_name(c)) == "Released"]
        for claim in released:
            name = node_volumes.volume_name(claim)
            self.kube.run("delete", "pv", name, mutates=True, dry_run=dry_run, timeout=60)
            if not dry_run:
                shutil.rmtree(node_volumes.folder(root, claim), ignore_errors=True)
        todo = [c for c in wanted if node_volumes.volume_name(c) not in phase or c in released]
        if not todo:
            return
        report(f"local volumes on {self.name} for: {', '.join(c.name for c in todo)}")
        if not dry_run:
            for claim in todo:
                paths.ensure_dir(node_volumes.folder(root, claim))
        manifest = node_volumes.manifest(todo, root, self.name)
        apply = server_side_apply()
        self.kube.run(*apply, stdin=manifest, mutates=True, dry_run=dry_run, timeout=60)

    # --- down --------------------------------------------------------------------------

    def stop(self, report=print) -> None:
        """Stop every daemon and container, and undo what they changed on the host."""
        if not self.present:
            return
        report(f"stopping the real node {self.name}")
        self.daemons.stop("kubelet")
        if self.daemons.pid("containerd") is not None:
            crictl = ["crictl", "--runtime-endpoint", f"unix://{self.layout.socket}", "rmp", "-fa"]
            shell.run(crictl, check=False, mutates=True, timeout=120)
        for name in ("kube-router", "kube-proxy", "containerd"):
            self.daemons.stop(name)
        for pid in self.daemons.stray():  # containerd's shims, whatever outlived its parent
            from opskit.clusters.daemons import end

            end(pid, 5.0)
        self._clean_host(report)
        shutil.rmtree(self.layout.home, ignore_errors=True)

    def _clean_host(self, report) -> None:
        shell.run([tools.exe("kube-proxy"), "--cleanup"], check=False, mutates=True, timeout=60)
        router = [tools.exe("kube-router"), "--cleanup-config"]
        shell.run(router, check=False, mutates=True, timeout=60)
        node_host.unmount_below(self.layout.home)
        node_host.delete_link(node_files.BRIDGE)
        node_host.remove_our_chains()
        node_host.remove_our_ipsets()
        saved = _read_json(self.layout.sysctls)
        node_host.drop_new_empty_tables(saved.get("nft_tables", []))
        node_host.restore_sysctls(saved.get("sysctls", {}), report)
        if saved.get("run_containerd") is False:
            shutil.rmtree("/run/containerd", ignore_errors=True)
        node_host.drop_container_log_links(self.layout.pod_logs, saved.get("var_log_containers"))


def node_ip() -> str:
    """The address other hosts (and pods) reach this one at: the source of its default route."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        try:
            sock.connect(("8.8.8.8", 9))  # no packet is sent
            return str(sock.getsockname()[0])
        except OSError:
            return "127.0.0.1"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _answers(sock_path: Path) -> bool:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        try:
            sock.connect(str(sock_path))
        except OSError:
            return False
    return True


def _read_json(file: Path) -> dict:
    return yamlio.read_json_cache(file)  # {} when missing or unreadable
