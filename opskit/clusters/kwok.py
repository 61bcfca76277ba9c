"""kwok: a real control plane (etcd, kube-apiserver, controller-manager, scheduler) as local
processes, with kwok simulating the nodes and the pods' lifecycle. No containers, no
downloads: every binary comes from .tools/bin (`invoke tools.install`).
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import NoReturn

from opskit.clusters import encryption, kwok_stages, node_files, node_wait, processes, volumes
from opskit.clusters.base import Cluster, Status, node_kinds
from opskit.clusters.node_probe import port_in_use
from opskit.core import paths, shell, tools
from opskit.core.errors import OpsError

NEVER_READY_LABEL = kwok_stages.NEVER_READY_LABEL
CONTROL_PLANE = ("kube-apiserver", "kube-controller-manager", "kube-scheduler", "etcd")
UP_TIMEOUT = 180.0
STANDINS_COMPONENT = Path("k8s") / "components" / "embedded-standins"
# Traefik's HTTPS entry point with a real node: websecure's hostPort (k8s/ingress/real-node,
# opskit.platform.ingress.ADDRESS, which a unit test holds equal)
INGRESS_ADDRESS = "127.0.0.1:8443"
FAKE_NODES = "type=kwok"  # the label of kwokctl's simulated nodes
NODE_EPHEMERAL_STORAGE = "100Gi"  # what pods may request (kwok nodes offer none by default)
STORAGE_CLASS = """apiVersion: storage.k8s.io/v1
kind: StorageClass
metadata:
  name: standard
  annotations: {storageclass.kubernetes.io/is-default-class: "true"}
provisioner: kubernetes.io/host-path
reclaimPolicy: Delete
volumeBindingMode: Immediate
"""


def never_ready_patch() -> str:
    """A strategic-merge patch that makes a Deployment's new pods never become Ready
    (`kubectl patch deployment X --patch <this>`); needs a kwok cluster from this module."""
    import json

    labels = {NEVER_READY_LABEL: "true"}
    return json.dumps({"spec": {"template": {"metadata": {"labels": labels}}}})


class KwokCluster(Cluster):
    provider = "kwok"
    runs_containers = False
    tools_needed = ("kwokctl", "kwok", *CONTROL_PLANE, "kubectl")
    context_prefix = "kwok-"

    @property
    def workdir(self) -> Path:
        """KWOK_WORKDIR: kwokctl keeps pids, certificates, logs and etcd data below it."""
        return paths.state_dir() / "kwok"

    @property
    def cluster_dir(self) -> Path:
        return self.workdir / "clusters" / self.name

    @property
    def config_file(self) -> Path:
        return self.state_dir / "kwokctl.yaml"

    @property
    def encryption_file(self) -> Path:
        """The apiserver's EncryptionConfiguration: this cluster's own key (0600)."""
        return self.state_dir / "encryption.yaml"

    def kwokctl(self, *args: str) -> list[str]:
        return ["kwokctl", "--name", self.name, *args]

    def _env(self) -> dict[str, str]:
        return {"KWOK_WORKDIR": str(self.workdir), "KUBECONFIG": str(self.kubeconfig)}

    @property
    def kube_version(self) -> str:
        return f"v{self.cfg.kubernetes.version}"

    @property
    def real_marker(self) -> Path:
        """Present when this cluster was created with a real node."""
        return self.state_dir / "real-node"

    def real_node(self):
        from opskit.clusters.node import RealNode

        return RealNode(self.state_dir, self.cluster_dir / "pki", self.kube(), f"{self.name}-real")

    def config_text(self, real: bool = False) -> str:
        """kwokctl's --config: the Kubernetes version (it picks component flags by it)
        and the Stages, failure injection included; with a real node, what its kubelet
        and pods need of the control plane."""
        options = (
            "apiVersion: config.kwok.x-k8s.io/v1alpha1\n"
            "kind: KwokctlConfiguration\n"
            "options:\n"
            f"  kubeVersion: {self.kube_version}\n"
            + (f"  kubeApiserverCertSANs: ['{node_files.API_SERVICE_IP}']\n" if real else "")
            + "componentsPatches:\n"
            "- name: kube-controller-manager\n"  # PVCs of StatefulSets get volumes
            "  extraArgs:\n"
            "  - {key: enable-hostpath-provisioner, value: 'true'}\n"
            "- name: kube-apiserver\n"  # Secrets encrypted at rest in etcd
            "  extraArgs:\n"
            f"  - {{key: encryption-provider-config, value: '{self.encryption_file}'}}\n"
            + (self._real_node_patches() if real else "")
        )
        return f"{options}---\n{kwok_stages.STAGES}"

    def _real_node_patches(self) -> str:
        """The apiserver reaches the kubelet (logs, exec) with the admin certificate and by
        InternalIP; Services get 10.96.0.0/16; kwok manages only its own (fake) nodes."""
        pki = self.cluster_dir / "pki"
        return (
            f"  - {{key: service-cluster-ip-range, value: '{node_files.SERVICE_CIDR}'}}\n"
            f"  - {{key: kubelet-client-certificate, value: '{pki / 'admin.crt'}'}}\n"
            f"  - {{key: kubelet-client-key, value: '{pki / 'admin.key'}'}}\n"
            "  - {key: kubelet-preferred-address-types, value: 'InternalIP,Hostname'}\n"
            "- name: kwok-controller\n"
            "  extraArgs:\n"
            "  - {key: manage-all-nodes, value: 'false'}\n"
            "  - {key: manage-nodes-with-annotation-selector, value: 'kwok.x-k8s.io/node=fake'}\n"
        )

    def _choose_node(self, report) -> bool:
        """Real node or simulated ones, by cluster.kwok.node (auto: real where it can run)."""
        from opskit.clusters import node_probe

        mode = self.cfg.cluster.kwok.node_mode
        if mode == "simulated":
            return False
        layout = self.real_node().layout
        reason = node_probe.why_not(layout)
        if reason is None:
            in_the_way = node_probe.in_the_way(layout)
            if in_the_way:  # the machine can run it: no silent fallback
                raise OpsError(
                    f"kwok cluster {self.name}: cannot start its real node: {in_the_way}"
                )
            return True
        if mode == "real":
            raise OpsError(
                f"cluster.kwok.node is real, but {reason}",
                "fix that, or set cluster.kwok.node: auto (or OPSKIT_KWOK_NODE=simulated)",
            )
        report(f"simulated nodes only: {reason}")
        return False

    def create_argv(self) -> list[str]:
        """`kwokctl create cluster` with every binary given: nothing is downloaded."""
        binary = {name: tools.which(name) or name for name in (*CONTROL_PLANE, "kwok")}
        port = self.cfg.cluster.kwok.apiserver_port
        return self.kwokctl(
            "create",
            "cluster",
            "--runtime",
            "binary",
            "--kubeconfig",
            str(self.kubeconfig),
            "--config",
            str(self.config_file),
            "--kube-apiserver-binary",
            binary["kube-apiserver"],
            "--kube-controller-manager-binary",
            binary["kube-controller-manager"],
            "--kube-scheduler-binary",
            binary["kube-scheduler"],
            "--etcd-binary",
            binary["etcd"],
            "--kwok-controller-binary",
            binary["kwok"],
            *(["--kube-apiserver-port", str(port)] if port else []),
            "--wait",
            "2m",
        )

    def up(self, report=print, dry_run: bool = False) -> Status:
        current = self.status()
        real = self.real_marker.exists()
        node_up = not real or len(self.real_node().running()) == len(_node_daemons())
        if current.running and len(current.nodes) >= self.cfg.cluster.nodes and node_up:
            report(f"kwok cluster {self.name} already running (context {self.context})")
            return current
        self.preflight()
        if dry_run:
            return self._plan_up(current, report)
        created = current.state == "absent"
        real = self._before_start(created, real, report)
        if current.state == "stopped":
            self._restart(report)
        try:
            if created:
                self._create(report, real)
            self._wait_api()
            if current.state == "stopped":
                self._release_fake_leases(report)
            self._scale_nodes(report, real)
            self.kube().run("apply", "-f", "-", stdin=STORAGE_CLASS, mutates=True, timeout=30)
            if real:
                self.real_node().start(self.cfg.tool_pins(), report)
        except BaseException:
            if created:
                self.down(report=lambda _msg: None)  # leave nothing half-created
            raise
        return self.status()

    def _before_start(self, created: bool, real: bool, report) -> bool:
        """What would stop `up` half-way, refused before anything starts; whether the
        cluster has (or gets) a real node."""
        from opskit.clusters import node_probe

        if created:
            self._check_port()
            return self._choose_node(report)
        if real and "kubelet" not in self.real_node().running():
            reason = node_probe.kubelet_port()
            if reason:
                raise OpsError(f"kwok cluster {self.name}: cannot restart its real node: {reason}")
        return real

    def _plan_up(self, current: Status, report) -> Status:
        """What `up` would run, printed; nothing started, nothing written."""
        if current.state == "absent":
            self._check_port()
            report(f"would start kwok cluster {self.name}")
            shell.run(self.create_argv(), env=self._env(), mutates=True, dry_run=True)
        else:
            report(f"would restart stopped kwok cluster {self.name}")
            for verb in ("stop", "start"):
                shell.run(self.kwokctl(verb, "cluster"), mutates=True, dry_run=True)
        shell.run(self._scale_argv(), mutates=True, dry_run=True)
        return current

    def _restart(self, report) -> None:
        """Processes gone (a reboot, a kill): stop what is left, start all again; the
        etcd data survives."""
        report(f"restarting stopped kwok cluster {self.name}")
        self._drop_stale_pids(report)
        for verb in ("stop", "start"):
            shell.run(
                self.kwokctl(verb, "cluster"),
                env=self._env(),
                mutates=True,
                timeout=UP_TIMEOUT,
                hint=f"its logs are in {self.cluster_dir / 'logs'}",
            )

    def _release_fake_leases(self, report) -> None:
        """kwok-controller takes a new identity at each start and would wait out the node
        leases its killed predecessor held before it manages (and heartbeats) a fake node
        again, which meanwhile goes NotReady: drop those leases, it makes them afresh."""
        kube = self.kube()
        names = kube.run("get", "nodes", "-l", FAKE_NODES, "-o", "name", timeout=30).stdout.split()
        leases = [name.removeprefix("node/") for name in names]
        if leases:
            report(f"releasing the node leases of the stopped kwok-controller: {', '.join(leases)}")
            delete = ("delete", "lease", "-n", "kube-node-lease", "--ignore-not-found", *leases)
            kube.run(*delete, mutates=True, timeout=30)

    def _wait_api(self) -> None:
        """Until the apiserver's /readyz passes (right after a start its hooks still run):
        as long as etcd's or the apiserver's log grows (a busy machine is slow, not stuck);
        without progress for a while, the apiserver's last log line says why."""
        logs = self.cluster_dir / "logs"
        apiserver = logs / "kube-apiserver.log"

        def give_up(why: str) -> NoReturn:
            raise OpsError(
                f"kwok cluster {self.name}: apiserver not ready ({why}); its last log line: "
                f"{node_wait.last_line(apiserver)}",
                f"see the logs in {logs}",
            )

        node_wait.until(
            self._ready, lambda: node_wait.log_sizes(apiserver, logs / "etcd.log"), give_up
        )

    def _ready(self) -> bool:
        return self.kube().run("get", "--raw", "/readyz", check=False, timeout=10).returncode == 0

    def _check_port(self) -> None:
        port = self.cfg.cluster.kwok.apiserver_port
        if port and port_in_use(port):
            raise OpsError(
                f"port {port} (cluster.kwok.apiserver_port) is already in use",
                "stop what listens there, or set cluster.kwok.apiserver_port: 0 in opskit.yaml "
                "to pick a free port",
            )

    def _create(self, report, real: bool = False) -> None:
        report(
            f"starting kwok cluster {self.name} (etcd, kube-apiserver, "
            "kube-controller-manager, kube-scheduler, kwok)"
        )
        paths.ensure_dir(self.state_dir)
        encryption.write_config(self.encryption_file)
        paths.write_atomic(self.config_file, self.config_text(real))
        if real:
            paths.write_atomic(self.real_marker, "real node\n")
        shell.run(
            self.create_argv(),
            env=self._env(),
            mutates=True,
            timeout=UP_TIMEOUT,
            hint=f"its logs are in {self.cluster_dir / 'logs'}",
        )

    def _scale_nodes(self, report, real: bool = False) -> None:
        count = self.cfg.cluster.nodes
        report(f"scaling to {count} simulated node(s)")
        shell.run(
            self._scale_argv(),
            env=self._env(),
            mutates=True,
            timeout=60,
        )
        log = self.cluster_dir / "logs" / "kwok-controller.log"
        node_wait.nodes_ready(self.kube(), None, None, "kwok-controller", report, FAKE_NODES, log)
        if real:  # no real workload lands on a fake node by accident
            from opskit.clusters.node import FAKE_TAINT

            taint = ("taint", "nodes", "-l", FAKE_NODES, FAKE_TAINT, "--overwrite")
            self.kube().run(*taint, mutates=True, timeout=30)

    def _scale_argv(self) -> list[str]:
        # kwok's node template has no ephemeral-storage: pods requesting it would not schedule
        return self.kwokctl(
            "scale",
            "node",
            "--replicas",
            str(self.cfg.cluster.nodes),
            "--param",
            f'.allocatable["ephemeral-storage"]="{NODE_EPHEMERAL_STORAGE}"',
        )

    def down(self, report=print, dry_run: bool = False) -> None:
        if not self.cluster_dir.exists() and not self.state_dir.exists():
            report(f"kwok cluster {self.name} is not there: nothing to delete")
            return
        folders = self._volume_folders()  # before kwokctl deletes etcd's data
        self._stop_argocd(report, dry_run)
        node = self.real_node()
        if node.present and dry_run:
            report(f"would stop the real node {node.name} and undo its host changes")
        elif node.present:
            node.stop(report)
        if self.cluster_dir.exists():
            report(f"deleting kwok cluster {self.name}")
            if not dry_run:
                self._drop_stale_pids(report)
            shell.run(
                self.kwokctl("delete", "cluster", "--kubeconfig", str(self.kubeconfig)),
                env=self._env(),
                mutates=True,
                dry_run=dry_run,
                timeout=120,
            )
        if dry_run:
            return
        shutil.rmtree(self.cluster_dir, ignore_errors=True)
        volumes.remove(folders)
        paths.prune_empty(self.cluster_dir.parent)
        self._forget()
        report(f"kwok cluster {self.name} deleted")

    def _stop_argocd(self, report, dry_run: bool) -> None:
        """ArgoCD's local processes (`invoke argocd.install`) go with the cluster."""
        from opskit.clusters import argocd_local

        argocd_local.LocalArgoCD(self.state_dir, self.kubeconfig).stop(report, dry_run=dry_run)

    def _drop_stale_pids(self, report) -> None:
        """kwokctl signals whatever its pid files name: drop the ones naming no process of
        this cluster (a pid recycled since a crash or a reboot) before it reads them."""
        for line in processes.drop_stale(self.cluster_dir / "pids", self.cluster_dir):
            report(line)

    def _volume_folders(self) -> list[Path]:
        """Folders of the volumes the hostPath provisioner made: from the API server when it
        answers, else from etcd's files (its processes died)."""
        if not self.cluster_dir.exists():
            return []
        if self._ready():
            return volumes.from_api(self.kube())
        return volumes.from_etcd(self.cluster_dir / "etcd")

    def status(self) -> Status:
        if not self.cluster_dir.exists():
            return self._status("absent")
        if not self._ready():
            return self._status(
                "stopped", detail=f"apiserver not answering; logs in {self.cluster_dir / 'logs'}"
            )
        ready, real = node_kinds(self.kube())
        return self._status("running", ready, real_nodes=real)

    def has_real_node(self) -> bool:
        return self.real_marker.exists() and "containerd" in self.real_node().running()

    def prepare(self, objects: list[dict], namespace: str, report, dry_run: bool = False) -> None:
        """With a real node: a local volume for each claim of the StatefulSets among
        `objects` (opskit.clusters.node_volumes)."""
        if self.has_real_node():
            self.real_node().prepare_volumes(objects, namespace, report, dry_run)

    def image_loaded(self, image: str) -> bool:
        return self.has_real_node() and self.real_node().has_image(image)

    def components(self) -> tuple[Path, ...]:
        """With a real node: the stand-ins for the images no registry here serves, and the
        api kept on a simulated node (k8s/components/embedded-standins)."""
        if not self.has_real_node():
            return ()
        return (self.cfg.root / STANDINS_COMPONENT,)

    def load_image(self, image: str, dry_run: bool = False) -> None:
        """Into the real node's containerd (from buildah's store); simulated nodes run no
        containers: pods only reference images, so there is nothing to load."""
        if self.has_real_node():
            self.real_node().load(image, dry_run=dry_run)

    def ingress_address(self) -> str:
        """With a real node: Traefik's HTTPS entry point on a port of this machine
        (`invoke ingress.install`, opskit.platform.ingress); simulated nodes have none."""
        return f"https://{INGRESS_ADDRESS}" if self.has_real_node() else ""


def _node_daemons() -> tuple[str, ...]:
    from opskit.clusters.node import DAEMONS

    return DAEMONS
