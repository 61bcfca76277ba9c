"""ArgoCD's images for the embedded cluster's real node, built here with buildah (no registry
answers), each standing in for an image the release's install.yaml names:

  quay.io/argoproj/argocd               localhost/gitops-lab/argocd: the argocd and kustomize
                                        binaries `tools.install --only=gitops` built, git and
                                        gpg from Debian, the release's hack/ helpers
  viaductoss/ksops                      localhost/gitops-lab/ksops: the project's plugin
                                        (tools/ksops), `ksops install <dir>` like upstream's
  public.ecr.aws/docker/library/redis   the Redis stand-in (services/standins/redis)
  ghcr.io/dexidp/dex                    the dex stand-in (services/standins/dex: no dex)

Each is tagged by a digest of its inputs (Containerfile, the binaries' build keys in
.tools/stamp.json, the helpers), so an unchanged image is neither rebuilt nor reloaded.
"""

from __future__ import annotations

import hashlib
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from opskit.core import paths, shell, tools
from opskit.core.errors import OpsError
from opskit.images import debian, localbuild

PLATFORM = paths.root() / "services" / "platform"
STANDINS = localbuild.STANDINS
REPOSITORY = "localhost/gitops-lab"
HELPERS = ("hack/gpg-wrapper.sh", "hack/git-verify-wrapper.sh", "entrypoint.sh")


@dataclass(frozen=True)
class Image:
    """One image: the upstream repository it stands in for, where its Containerfile is,
    which built tools and release files go into its build context."""

    upstream: str
    name: str
    context: Path  # its Containerfile and any file of its own
    binaries: tuple[str, ...] = ()
    release_files: tuple[str, ...] = ()

    def tag(self, stamp: dict[str, dict[str, str]], release: Path) -> str:
        """<repository>/<name>:<version of its first binary>-<digest of the inputs>."""
        digest = hashlib.sha256()
        for file in sorted(f for f in self.context.iterdir() if f.is_file()):
            digest.update(file.name.encode() + b"\0" + file.read_bytes())
        for binary in self.binaries:
            digest.update(b"\0" + stamp.get(binary, {}).get("key", "").encode())
        for name in self.release_files:
            digest.update(b"\0" + (release / name).read_bytes())
        version = stamp.get(self.binaries[0], {}).get("version", "") if self.binaries else ""
        prefix = f"{version}-" if version else ""
        return f"{REPOSITORY}/{self.name}:{prefix}{digest.hexdigest()[:10]}"


IMAGES = (
    Image(
        "quay.io/argoproj/argocd",
        "argocd",
        PLATFORM / "argocd",
        ("argocd", "kustomize"),
        HELPERS,
    ),
    Image("viaductoss/ksops", "ksops", PLATFORM / "ksops", ("ksops",)),
    Image("ghcr.io/dexidp/dex", "dex-standin", STANDINS / "dex"),
)
REDIS_UPSTREAM = "public.ecr.aws/docker/library/redis"


def _stamp() -> dict[str, dict[str, str]]:
    from opskit.toolchain import build

    return build.read_stamp()


def planned(release: Path) -> dict[str, str]:
    """Upstream repository -> the local image that stands in for it (nothing is built)."""
    stamp = _stamp()
    names = {image.upstream: image.tag(stamp, release) for image in IMAGES}
    return {**names, REDIS_UPSTREAM: localbuild.standin_image("redis")}


def _require_binaries() -> None:
    for image in IMAGES:
        for binary in image.binaries:
            if tools.which(binary) is None:
                raise OpsError(f"`{binary}` is not built", tools.install_hint(binary))


def _build(image: Image, ref: str, release: Path, report) -> None:
    base = debian.ensure_base(report=report)
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix=f"opskit-{image.name}-") as work:
        context = Path(work)
        for file in (f for f in image.context.iterdir() if f.is_file()):
            shutil.copy2(file, context / file.name)
        for binary in image.binaries:
            shutil.copy2(str(tools.which(binary)), context / binary)
        for name in image.release_files:
            target = context / Path(name).name
            shutil.copy2(release / name, target)
            target.chmod(0o755)
        argv = localbuild.bud_argv(ref, context, "--build-arg", f"BASE={base}")
        shell.run(argv, mutates=True, timeout=900, hint="is the Debian mirror reachable?")
    report(f"built {ref} in {time.monotonic() - started:.1f}s")


def ensure_built(release: Path, report=print) -> dict[str, str]:
    """Build what buildah's store lacks; returns `planned`'s mapping."""
    _require_binaries()
    mapping = planned(release)
    for image in IMAGES:
        ref = mapping[image.upstream]
        if not debian.present(ref):
            report(f"building {ref} (stands in for {image.upstream})")
            _build(image, ref, release, report)
    if not debian.present(mapping[REDIS_UPSTREAM]):
        localbuild.build_standin("redis", report=report)
    return mapping


def load_missing(cluster, images: list[str], report=print) -> list[str]:
    """Load into the real node's containerd the images it does not hold yet."""
    missing = [image for image in images if not cluster.image_loaded(image)]
    for image in missing:
        started = time.monotonic()
        cluster.load_image(image)
        report(f"loaded {image} into the node in {time.monotonic() - started:.1f}s")
    return missing
