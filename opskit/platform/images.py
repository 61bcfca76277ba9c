"""Images of the platform's binaries, built here (no registry answers): each pinned binary of
.tools/bin on an empty base, at the path and with the entrypoint and user of its upstream
image, named `localhost/gitops-lab/<name>:<version>-<digest of the binary>` and substituted
for the upstream image by name only."""

from __future__ import annotations

import hashlib
import tempfile
from dataclasses import dataclass
from pathlib import Path

from opskit.core import shell, tools
from opskit.core.errors import OpsError

REPOSITORY = "localhost/gitops-lab"
NOBODY = "65534"


@dataclass(frozen=True)
class PlatformImage:
    """One upstream image and the binary that replaces it."""

    upstream: str  # repository the upstream manifests name (the tag is ignored)
    binary: str  # tool name in .tools/bin
    path: str  # where the upstream image has it (its ENTRYPOINT)

    def containerfile(self) -> str:
        return (
            "FROM scratch\n"
            f"COPY {self.binary} {self.path}\n"
            f"USER {NOBODY}\n"
            f'ENTRYPOINT ["{self.path}"]\n'
        )

    def name(self, version: str, binary: Path) -> str:
        digest = hashlib.sha256(binary.read_bytes() + self.containerfile().encode())
        return f"{REPOSITORY}/{self.binary}:{version.lstrip('v')}-{digest.hexdigest()[:10]}"


PROMETHEUS = PlatformImage("quay.io/prometheus/prometheus", "prometheus", "/bin/prometheus")
OPERATOR = PlatformImage(
    "quay.io/prometheus-operator/prometheus-operator", "prometheus-operator", "/bin/operator"
)
RELOADER = PlatformImage(
    "quay.io/prometheus-operator/prometheus-config-reloader",
    "prometheus-config-reloader",
    "/bin/prometheus-config-reloader",
)
TRAEFIK = PlatformImage("docker.io/library/traefik", "traefik", "/usr/local/bin/traefik")
ALL = (PROMETHEUS, OPERATOR, RELOADER, TRAEFIK)


def built_binary(image: PlatformImage) -> Path:
    found = tools.which(image.binary)
    if found is None or not Path(found).is_file():
        raise OpsError(f"{image.binary} is not built", tools.install_hint(image.binary))
    return Path(found)


def bud_argv(name: str, context: Path) -> list[str]:
    return ["buildah", "bud", "--quiet", "--layers=false", "-t", name, str(context)]


def ensure(image: PlatformImage, version: str, report, dry_run: bool = False) -> str:
    """The image's name, built into buildah's store unless it is there already."""
    from opskit.images import debian

    binary = built_binary(image)
    name = image.name(version, binary)
    if not dry_run and debian.present(name):
        return name
    report(f"{'would build' if dry_run else 'building'} image {name}")
    with tempfile.TemporaryDirectory(prefix="opskit-platform-") as context:
        if not dry_run:
            (Path(context) / image.binary).write_bytes(binary.read_bytes())
            (Path(context) / image.binary).chmod(0o755)
            (Path(context) / "Containerfile").write_text(image.containerfile())
        shell.run(bud_argv(name, Path(context)), mutates=True, dry_run=dry_run, timeout=300)
    return name


def substitute(objects: list[dict], names: dict[str, str]) -> list[dict]:
    """Every container image, Prometheus `image` and `--<x>=<image>` argument naming an
    upstream repository of `names` (any tag) now names the image built here; nothing else
    changes. An upstream image left over is an error: no registry could serve it."""
    from opskit.manifests.kustomize import containers, split_image

    def swap(ref: str) -> str:
        repository, _tag, _digest = split_image(ref)
        return names.get(repository, ref)

    for obj in objects:
        for _path, container in containers(obj):
            container["image"] = swap(container["image"])
            container["imagePullPolicy"] = "IfNotPresent"
            args = container.get("args") or []
            container_args = [_swap_arg(arg, swap) for arg in args]
            if args:
                container["args"] = container_args
        if obj.get("kind") == "Prometheus" and "image" in obj.get("spec", {}):
            obj["spec"]["image"] = swap(obj["spec"]["image"])
    left = [ref for ref in _images(objects) if not ref.startswith(f"{REPOSITORY}/")]
    if left:
        raise OpsError(
            f"image {left[0]} is not built here and no registry can serve it",
            "give it a PlatformImage in opskit/platform/images.py",
        )
    return objects


def _swap_arg(arg: str, swap) -> str:
    flag, sep, value = arg.partition("=")
    return f"{flag}={swap(value)}" if sep and flag.startswith("--") and "/" in value else arg


def _images(objects: list[dict]) -> list[str]:
    """Container images, Prometheus's image and image-valued `--flag=` arguments."""
    from opskit.manifests.kustomize import containers, split_image

    upstream = {image.upstream for image in ALL}
    found = []
    for obj in objects:
        for _path, container in containers(obj):
            found.append(container["image"])
            values = (arg.partition("=")[2] for arg in container.get("args") or [])
            found += [v for v in values if split_image(v)[0] in upstream]
        if obj.get("kind") == "Prometheus":
            found.append(obj["spec"].get("image", ""))
    return found
