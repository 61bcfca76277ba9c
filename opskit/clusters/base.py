"""The one interface every cluster provider implements, and what they share."""

from __future__ import annotations

import shutil
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from opskit.core import args, paths, toolcheck
from opskit.core.errors import OpsError
from opskit.kube.kubectl import Kube

if TYPE_CHECKING:
    from opskit.core.config import Config


def state_dir_of(context: str) -> Path:
    """Where the suite keeps a cluster's own kubeconfig and state, by kube context."""
    return paths.state_dir() / "clusters" / context


@dataclass(frozen=True)
class Status:
    """What `cluster.status` reports: `state` is running, stopped or absent."""

    provider: str
    name: str
    context: str
    kubeconfig: Path
    state: str
    nodes: tuple[str, ...] = ()
    detail: str = ""
    real_nodes: tuple[str, ...] = ()  # of `nodes`, those running containers (not simulated)

    @property
    def running(self) -> bool:
        return self.state == "running"

    def lines(self) -> list[str]:
        rows = [
            f"provider:   {self.provider}",
            f"name:       {self.name}",
            f"state:      {self.state}",
            f"context:    {self.context}",
            f"kubeconfig: {self.kubeconfig}",
        ]
        if self.nodes:
            kinds = [f"{n} ({'real' if n in self.real_nodes else 'simulated'})" for n in self.nodes]
            rows.append(f"nodes:      {', '.join(kinds if self.real_nodes else self.nodes)}")
        if self.detail:
            rows.append(f"detail:     {self.detail}")
        return rows


class Cluster(ABC):
    """A local cluster the suite creates, deletes, inspects and loads images into.

    Every provider writes its kubeconfig to <root>/.opskit/clusters/<context>/kubeconfig;
    none touches the user's ~/.kube/config.
    """

    provider: ClassVar[str]
    runs_containers: ClassVar[bool]
    tools_needed: ClassVar[tuple[str, ...]]
    context_prefix: ClassVar[str]  # the provider names its kube context <prefix><name>

    def __init__(self, cfg: Config, name: str | None = None) -> None:
        self.cfg = cfg
        self.name = args.cluster_name(name or cfg.cluster.name, "")

    @classmethod
    def context_for(cls, name: str) -> str:
        """The kube context this provider gives a cluster called `name`."""
        return f"{cls.context_prefix}{name}"

    @classmethod
    def name_in(cls, context: str) -> str | None:
        """The cluster name inside one of this provider's contexts (None: not one of them)."""
        name = context.removeprefix(cls.context_prefix)
        if not context.startswith(cls.context_prefix):
            return None
        try:
            return args.cluster_name(name, "")
        except OpsError:
            return None

    @property
    def context(self) -> str:
        """The kube context name in this cluster's kubeconfig."""
        return self.context_for(self.name)

    @property
    def state_dir(self) -> Path:
        return state_dir_of(self.context)

    @property
    def kubeconfig(self) -> Path:
        return self.state_dir / "kubeconfig"

    def kube(self) -> Kube:
        return Kube(self.kubeconfig, self.context)

    @abstractmethod
    def up(self, report=print, dry_run: bool = False) -> Status:
        """Create (or resume) the cluster; a no-op when it already runs."""

    @abstractmethod
    def down(self, report=print, dry_run: bool = False) -> None:
        """Delete the cluster and everything `up` created; a no-op when absent."""

    @abstractmethod
    def status(self) -> Status:
        """Inspect without changing anything."""

    @abstractmethod
    def load_image(self, image: str, dry_run: bool = False) -> None:
        """Make a locally built image available to the cluster's nodes."""

    @abstractmethod
    def ingress_address(self) -> str:
        """Base URL where the cluster's ingress answers ("" when there is none)."""

    def has_real_node(self) -> bool:
        """A node of this cluster runs containers built and loaded here (the embedded
        cluster's real node); False for the providers whose nodes are all real or none."""
        return False

    def prepare(self, objects: list[dict], namespace: str, report, dry_run: bool = False) -> None:
        """Before `objects` are applied: what their pods need of the nodes that the cluster
        does not make itself (the embedded cluster's real node: local volumes)."""
        return None

    def image_loaded(self, image: str) -> bool:
        """Whether `load_image` is known to have put `image` into the nodes already."""
        return False

    def components(self) -> tuple[Path, ...]:
        """Kustomize components every overlay gets on this cluster (on top of its own)."""
        return ()

    def preflight(self) -> None:

        toolcheck.require(*self.tools_needed)

    def _status(
        self,
        state: str,
        nodes: tuple[str, ...] = (),
        detail: str = "",
        real_nodes: tuple[str, ...] = (),
    ) -> Status:
        return Status(
            self.provider,
            self.name,
            self.context,
            self.kubeconfig,
            state,
            nodes,
            detail,
            real_nodes,
        )

    def _forget(self) -> None:
        """Remove this cluster's folder under .opskit (kubeconfig included), and the
        folders above it that are left empty; and what deploys recorded of it."""
        from opskit.kube import applied

        shutil.rmtree(self.state_dir, ignore_errors=True)
        paths.prune_empty(self.state_dir.parent)
        applied.forget_cluster(self.context)


def ready_nodes(kube: Kube) -> tuple[str, ...]:
    """Names of the nodes whose Ready condition is True (empty when unreachable)."""
    template = (
        '{range .items[*]}{.metadata.name}{"="}'
        '{.status.conditions[?(@.type=="Ready")].status}{"\\n"}{end}'
    )
    result = kube.run("get", "nodes", "-o", f"jsonpath={template}", check=False, timeout=15)
    if result.returncode != 0:
        return ()
    pairs = (line.split("=", 1) for line in result.stdout.splitlines() if "=" in line)
    return tuple(name for name, ready in pairs if ready == "True")


def node_kinds(kube: Kube) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(Ready nodes, the real ones among them): kwok's simulated nodes carry the annotation
    kwok.x-k8s.io/node=fake."""
    template = (
        '{range .items[*]}{.metadata.name}{"="}'
        '{.status.conditions[?(@.type=="Ready")].status}{"="}'
        '{.metadata.annotations.kwok\\.x-k8s\\.io/node}{"\\n"}{end}'
    )
    result = kube.run("get", "nodes", "-o", f"jsonpath={template}", check=False, timeout=15)
    if result.returncode != 0:
        return (), ()
    rows = [line.split("=", 2) for line in result.stdout.splitlines() if line.count("=") >= 2]
    ready = tuple(name for name, status, _fake in rows if status == "True")
    return ready, tuple(name for name, status, fake in rows if status == "True" and fake != "fake")


DOCKER_INFO = ("docker", "info", "--format", "{{.ServerVersion}}")


def docker_answers() -> bool:
    """True when a Docker engine answers (`docker info`); False when absent or down."""
    from opskit.core import shell
    from opskit.core.errors import ToolMissing

    try:
        return shell.run(DOCKER_INFO, check=False, timeout=20).returncode == 0
    except ToolMissing:
        return False


def require_docker(provider: str) -> None:
    if not docker_answers():
        raise OpsError(
            f"{provider} needs a Docker engine, and `docker info` got no answer",
            "start Docker (Docker Desktop, or `sudo systemctl start docker`), "
            "or use `invoke cluster.up --provider kwok`",
        )
