"""Container images of the app: build, push, load into the cluster, tagged by the commit."""

from __future__ import annotations

from dataclasses import dataclass

from opskit import shell
from opskit.config import Config

REVISION_LABEL = "org.opencontainers.image.revision"


@dataclass(frozen=True)
class ImageRef:
    repository: str
    tag: str

    def __str__(self) -> str:
        return f"{self.repository}:{self.tag}"


def build_step(cfg: Config, ref: ImageRef, commit: str) -> shell.Step:
    """`docker build` of the app with the OCI revision label and build argument."""
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
            str(cfg.root / cfg.app.context),
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
