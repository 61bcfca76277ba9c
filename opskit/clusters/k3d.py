"""k3d: k3s in Docker, with Traefik as ingress and a k3d-managed local registry.

The host pushes to the registry as `localhost:<registry_port>` (the names opskit.yaml
`images:` pins and a release writes into the overlay); inside a node that name is the node
itself. k3d v5.9.0 (pkg/client/registry.go RegistryGenerateK3sConfig) mirrors only the
registry's container name, `<registry>:<port>`, to `http://<registry>:5000`, and merges a
`--registry-config` file into that: ours mirrors `localhost:<port>` and `127.0.0.1:<port>`
too, so an image pinned as it was pushed pulls in pods.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from opskit.clusters.base import Cluster, Status, ready_nodes, require_docker
from opskit.core import paths, shell

if TYPE_CHECKING:
    from pathlib import Path

CREATE_TIMEOUT = 600.0
REGISTRY_INTERNAL_PORT = 5000  # k3d's DefaultRegistryPort: the registry listens here in-cluster
LOCAL_HOSTS = ("localhost", "127.0.0.1")


class K3dCluster(Cluster):
    provider = "k3d"
    runs_containers = True
    tools_needed = ("docker", "k3d", "kubectl")
    context_prefix = "k3d-"

    @property
    def registry(self) -> str:
        """Registry container name: k3d names it as `--registry-create` says (no prefix)."""
        return f"{self.name}-registry"

    @property
    def registry_config_file(self) -> Path:
        return self.state_dir / "registries.yaml"

    def registry_config(self) -> dict:
        """k3s registries.yaml: the host's names of the registry, mirrored to its in-cluster one."""
        port = self.cfg.cluster.k3d.registry_port
        endpoint = [f"http://{self.registry}:{REGISTRY_INTERNAL_PORT}"]
        return {"mirrors": {f"{host}:{port}": {"endpoint": endpoint} for host in LOCAL_HOSTS}}

    def create_argv(self) -> list[str]:
        k3d = self.cfg.cluster.k3d
        return [
            "k3d",
            "cluster",
            "create",
            self.name,
            "--agents",
            str(max(self.cfg.cluster.nodes - 1, 0)),
            "--image",
            f"rancher/k3s:v{self.cfg.kubernetes.version}-k3s1",
            "--port",
            f"{k3d.http_port}:80@loadbalancer",
            "--port",
            f"{k3d.https_port}:443@loadbalancer",
            "--registry-create",
            f"{self.registry}:0.0.0.0:{k3d.registry_port}",
            "--registry-config",
            str(self.registry_config_file),
            "--kubeconfig-update-default=false",
            "--kubeconfig-switch-context=false",
            "--wait",
        ]

    def up(self, report=print, dry_run: bool = False) -> Status:
        require_docker(self.provider)
        self.preflight()
        current = self.status()
        if current.state == "stopped":
            report(f"starting stopped k3d cluster {self.name}")
            shell.run(
                ["k3d", "cluster", "start", self.name, "--wait"],
                mutates=True,
                dry_run=dry_run,
                timeout=CREATE_TIMEOUT,
            )
        elif current.state == "absent":
            report(
                f"creating k3d cluster {self.name} (Traefik ingress, registry "
                f"localhost:{self.cfg.cluster.k3d.registry_port})"
            )
            if not dry_run:
                paths.ensure_dir(self.state_dir)
                text = json.dumps(self.registry_config(), indent=2)  # JSON is YAML
                self.registry_config_file.write_text(text + "\n")
            shell.run(
                self.create_argv(),
                mutates=True,
                dry_run=dry_run,
                timeout=CREATE_TIMEOUT,
                hint=f"see `docker ps -a --filter name=k3d-{self.name}`; "
                "`invoke cluster.down` cleans up",
            )
        else:
            report(f"k3d cluster {self.name} already running (context {self.context})")
        self._write_kubeconfig(dry_run)
        return self.status()

    def _write_kubeconfig(self, dry_run: bool) -> None:
        if not dry_run:
            paths.ensure_dir(self.state_dir)
        shell.run(
            ["k3d", "kubeconfig", "write", self.name, "--output", str(self.kubeconfig)],
            mutates=True,
            dry_run=dry_run,
            timeout=60,
        )

    def down(self, report=print, dry_run: bool = False) -> None:
        require_docker(self.provider)
        if self.status().state == "absent":
            report(f"k3d cluster {self.name} is not there: nothing to delete")
        else:
            report(f"deleting k3d cluster {self.name} and its registry")
            shell.run(
                ["k3d", "cluster", "delete", self.name], mutates=True, dry_run=dry_run, timeout=300
            )
        if not dry_run:
            self._forget()

    def status(self) -> Status:
        result = shell.run(["k3d", "cluster", "list", "--output", "json"], timeout=30)
        clusters = {c.get("name"): c for c in json.loads(result.stdout or "[]")}
        found = clusters.get(self.name)
        if found is None:
            return self._status("absent")
        if not found.get("serversRunning"):
            return self._status("stopped")
        nodes = ready_nodes(self.kube()) if self.kubeconfig.exists() else ()
        return self._status("running", nodes)

    def load_image(self, image: str, dry_run: bool = False) -> None:
        shell.run(
            ["k3d", "image", "import", image, "--cluster", self.name],
            mutates=True,
            dry_run=dry_run,
            timeout=600,
            hint="build the image first: `invoke image.build`",
        )

    def ingress_address(self) -> str:
        return f"http://localhost:{self.cfg.cluster.k3d.http_port}"
