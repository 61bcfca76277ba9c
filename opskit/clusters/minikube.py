"""minikube: one profile per cluster, with the ingress and registry addons."""

from __future__ import annotations

import json

from opskit.clusters.base import Cluster, Status, ready_nodes, require_docker
from opskit.core import paths, shell

START_TIMEOUT = 900.0
PROFILE_NOT_FOUND = 85  # minikube's exit code for an unknown profile


class MinikubeCluster(Cluster):
    provider = "minikube"
    runs_containers = True
    tools_needed = ("docker", "minikube", "kubectl")
    context_prefix = ""  # minikube names the context after the profile

    def _env(self) -> dict[str, str]:
        """minikube writes the context into $KUBECONFIG: point it at the suite's file."""
        return {"KUBECONFIG": str(self.kubeconfig)}

    def start_argv(self) -> list[str]:
        mk = self.cfg.cluster.minikube
        return [
            "minikube",
            "start",
            "--profile",
            self.name,
            "--driver",
            mk.driver,
            "--cpus",
            str(mk.cpus),
            "--memory",
            f"{mk.memory}mb",
            "--nodes",
            str(self.cfg.cluster.nodes),
            "--kubernetes-version",
            f"v{mk.kubernetes}",  # the newest the pinned minikube knows, offline
            "--addons",
            "ingress",
            "--addons",
            "registry",
            "--wait",
            "all",
        ]

    def up(self, report=print, dry_run: bool = False) -> Status:
        require_docker(self.provider)
        self.preflight()
        current = self.status()
        if current.running:
            report(f"minikube profile {self.name} already running (context {self.context})")
            return current
        report(f"starting minikube profile {self.name} (ingress + registry addons)")
        if not dry_run:
            paths.ensure_dir(self.state_dir)
        shell.run(
            self.start_argv(),
            env=self._env(),
            mutates=True,
            dry_run=dry_run,
            timeout=START_TIMEOUT,
            hint=f"see `minikube logs --profile {self.name}`; `invoke cluster.down` cleans up",
        )
        return self.status()

    def down(self, report=print, dry_run: bool = False) -> None:
        if self.status().state == "absent":
            report(f"minikube profile {self.name} is not there: nothing to delete")
        else:
            report(f"deleting minikube profile {self.name}")
            shell.run(
                ["minikube", "delete", "--profile", self.name],
                env=self._env(),
                mutates=True,
                dry_run=dry_run,
                timeout=300,
            )
        if not dry_run:
            self._forget()

    def status(self) -> Status:
        result = shell.run(
            ["minikube", "status", "--profile", self.name, "--output", "json"],
            env=self._env(),
            check=False,
            timeout=60,
        )
        if result.returncode == PROFILE_NOT_FOUND or not result.stdout.strip():
            return self._status("absent")
        try:
            info = json.loads(result.stdout)
        except ValueError:
            return self._status("stopped", detail=result.stdout.strip()[:200])
        info = info[0] if isinstance(info, list) else info  # one entry per node
        if info.get("APIServer") != "Running":
            return self._status("stopped", detail=f"host {info.get('Host', '?')}")
        nodes = ready_nodes(self.kube()) if self.kubeconfig.exists() else ()
        return self._status("running", nodes)

    def load_image(self, image: str, dry_run: bool = False) -> None:
        shell.run(
            ["minikube", "image", "load", image, "--profile", self.name],
            mutates=True,
            dry_run=dry_run,
            timeout=600,
            hint="build the image first: `invoke image.build`",
        )

    def ingress_address(self) -> str:
        result = shell.run(["minikube", "ip", "--profile", self.name], timeout=30)
        return f"http://{result.stdout.strip()}"
