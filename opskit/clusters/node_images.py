"""The real node's own images, built here (no registry answers): the sandbox (pause) from
the pause.c of the pinned Kubernetes module, and CoreDNS from the pinned binary; each an
OCI archive kept in .opskit/images (rebuilt only when its inputs change) and imported into
the node's containerd."""

from __future__ import annotations

import hashlib
import re
import shutil
import tempfile
from pathlib import Path

from opskit.clusters.node_files import COREDNS_IMAGE_REPO, PAUSE_IMAGE
from opskit.core import paths, shell, tools
from opskit.core.errors import OpsError

PAUSE_TAG = "3.10.2"  # build/pause/Makefile's TAG at the pinned Kubernetes release


def cache_dir() -> Path:
    return paths.state_dir() / "images"


def pause_source(kube_version: str) -> Path:
    modcache = shell.run(["go", "env", "GOMODCACHE"], timeout=30).stdout.strip()
    source = Path(modcache) / f"k8s.io/kubernetes@{kube_version}" / "build/pause/linux/pause.c"
    if not source.is_file():
        raise OpsError(
            f"{source} is missing (the pinned Kubernetes module's pause.c)",
            "run `invoke tools.install --only=node` (it downloads the module)",
        )
    return source


def _digest(*parts: bytes) -> str:
    digest = hashlib.sha256()
    for part in parts:
        digest.update(part + b"\0")
    return digest.hexdigest()[:12]


def _scratch_image(name: str, binary: Path, entry: list[str], archive: Path, report) -> None:
    """FROM scratch + one static binary, committed by buildah and saved as an OCI archive."""
    with tempfile.TemporaryDirectory(prefix="opskit-image-") as context:
        shutil.copy2(binary, Path(context) / binary.name)
        entrypoint = ", ".join(f'"{part}"' for part in entry)
        (Path(context) / "Containerfile").write_text(
            f"FROM scratch\nCOPY {binary.name} /{binary.name}\nENTRYPOINT [{entrypoint}]\n"
        )
        report(f"building image {name}")
        shell.run(
            ["buildah", "bud", "--quiet", "--layers=false", "-t", name, context],
            mutates=True,
            timeout=300,
        )
    partial = archive.with_name(archive.name + ".partial")
    partial.unlink(missing_ok=True)
    shell.run(
        ["buildah", "push", "--quiet", name, f"oci-archive:{partial}:{name}"],
        mutates=True,
        timeout=120,
    )
    partial.replace(archive)
    shell.run(["buildah", "rmi", name], check=False, mutates=True, timeout=60)


def pause_archive(kube_version: str, report) -> Path:
    source = pause_source(kube_version)
    key = _digest(source.read_bytes(), PAUSE_TAG.encode())
    archive = paths.ensure_dir(cache_dir()) / f"pause-{key}.oci.tar"
    if archive.is_file():
        return archive
    with tempfile.TemporaryDirectory(prefix="opskit-pause-") as work:
        binary = Path(work) / "pause"
        shell.run(
            [
                "gcc",
                "-Os",
                "-Wall",
                "-static",
                f"-DVERSION=v{PAUSE_TAG}",
                "-o",
                str(binary),
                str(source),
            ],
            mutates=True,
            timeout=120,
            hint="install a C compiler with static libc: apt-get install gcc libc6-dev",
        )
        _scratch_image(PAUSE_IMAGE, binary, ["/pause"], archive, report)
    return archive


def coredns_image(version: str) -> str:
    return f"{COREDNS_IMAGE_REPO}:{version.lstrip('v')}"


def coredns_archive(version: str, report) -> Path:
    binary = Path(tools.which("coredns") or "coredns")
    if not binary.is_file():
        raise OpsError("coredns is not built", tools.install_hint("coredns"))
    key = _digest(binary.read_bytes(), version.encode())
    archive = paths.ensure_dir(cache_dir()) / f"coredns-{key}.oci.tar"
    if not archive.is_file():
        _scratch_image(coredns_image(version), binary, ["/coredns"], archive, report)
    return archive


KEEP_PER_REPOSITORY = 2  # archives of older builds of an image go


def image_archive(image: str, dry_run: bool = False) -> Path:
    """`image` from buildah's store as an OCI archive in .opskit/images, named by its tag and
    image ID: pushed once (~30 s for a few hundred MB on a busy machine), reused after."""
    argv = ["buildah", "images", "--quiet", "--no-trunc", image]
    ids = shell.run(argv, check=False, timeout=60).stdout.split()
    if not ids and not dry_run:  # a dry run's image may be one it would build first
        raise OpsError(f"image {image} is not in buildah's store", "build it first")
    ident = (ids or ["unbuilt"])[0].removeprefix("sha256:")[:16]
    repository, _, tag = image.rpartition(":")
    prefix = re.sub(r"[^A-Za-z0-9_.-]+", "_", repository or image)
    # the name is in the archive: two tags of one image ID are two archives
    archive = cache_dir() / f"{prefix}--{tag}--{ident}.oci.tar"
    if archive.is_file():
        return archive
    if not dry_run:
        paths.ensure_dir(cache_dir())
    partial = archive.with_name(archive.name + ".partial")
    push = ["buildah", "push", "--quiet", image, f"oci-archive:{partial}:{image}"]
    shell.run(push, mutates=True, dry_run=dry_run, timeout=600)
    if not dry_run:
        partial.replace(archive)
        older = sorted(cache_dir().glob(f"{prefix}--*.oci.tar"), key=lambda p: p.stat().st_mtime)
        for old in older[:-KEEP_PER_REPOSITORY]:
            old.unlink(missing_ok=True)
    return archive


def import_argv(socket: Path, archive: Path) -> list[str]:
    return ["ctr", "--address", str(socket), "-n", "k8s.io", "images", "import", str(archive)]
