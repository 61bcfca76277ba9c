"""The project's container images (opskit.yaml `images:`): build, push, load into the cluster,
each tagged by the commit."""

from __future__ import annotations

from dataclasses import dataclass

from opskit.core import shell
from opskit.core.config import Config
from opskit.core.errors import OpsError

REVISION_LABEL = "org.opencontainers.image.revision"


@dataclass(frozen=True)
class ImageRef:
    repository: str
    tag: str

    def __str__(self) -> str:
        return f"{self.repository}:{self.tag}"


def refs(cfg: Config, tag: str, only: str = "") -> list[ImageRef]:
    """The project's images at `tag`, the app's first; `only` names one of them."""
    if only and only not in cfg.images:
        known = ", ".join(cfg.images)
        raise OpsError(f"unknown image {only!r}", f"use one of: {known} (opskit.yaml images:)")
    return [ImageRef(i.repository, tag) for i in cfg.images.values() if only in ("", i.name)]


def context(cfg: Config, ref: ImageRef) -> str:
    """The build context of the project image `ref` names (the app's for any other)."""
    found = (i.context for i in cfg.images.values() if i.repository == ref.repository)
    return next(found, cfg.app.context)


def build_step(cfg: Config, ref: ImageRef, commit: str) -> shell.Step:
    """`docker build` of the image's context with the OCI revision label and build argument."""
    return shell.Step(
        what=f"build image {ref}",
        argv=(
            "docker",
            "build",
            "--pull=false",
            "--label",
            f"{REVISION_LABEL}={commit}",
            "--build-arg",
            f"REVISION={commit}",
            "--tag",
            str(ref),
            str(cfg.root / context(cfg, ref)),
        ),
        mutates=True,
        timeout=1800,
        hint="is the Docker engine running? (`docker info`)",
    )


def push_step(ref: ImageRef) -> shell.Step:
    return shell.Step(
        what=f"push image {ref}",
        argv=("docker", "push", str(ref)),
        mutates=True,
        timeout=600,
        hint="is the registry up? (`invoke cluster.up` starts the k3d registry)",
    )


def exists_locally(ref: ImageRef) -> bool:
    result = shell.run(
        ["docker", "image", "inspect", "--format", "{{.Id}}", str(ref)], check=False, timeout=30
    )
    return result.returncode == 0
