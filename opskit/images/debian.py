"""A Debian base image built here from Debian packages (no registry answers): mmdebstrap
of a pinned suite into a tarball, committed by buildah as `localhost/gitops-lab/debian`.
The image is rebuilt only when its recipe changes (the recipe's digest is its tag)."""

from __future__ import annotations

import hashlib
import tempfile
from dataclasses import dataclass
from pathlib import Path

from opskit.core import shell

REPOSITORY = "localhost/gitops-lab/debian"
MIRROR = "http://deb.debian.org/debian"
SECURITY = "http://deb.debian.org/debian-security"


@dataclass(frozen=True)
class BaseRecipe:
    """What the base is made of; its digest tags the image."""

    suite: str = "bookworm"
    variant: str = "minbase"
    include: tuple[str, ...] = ("ca-certificates",)
    epoch: int = 1747699200  # SOURCE_DATE_EPOCH: file times in the image (2025-05-20)

    def sources(self) -> tuple[str, ...]:
        return (
            f"deb {MIRROR} {self.suite} main",
            f"deb {MIRROR} {self.suite}-updates main",
            f"deb {SECURITY} {self.suite}-security main",
        )

    @property
    def tag(self) -> str:
        parts = (self.suite, self.variant, *self.include, str(self.epoch), *self.sources())
        text = "\0".join(parts)
        return f"{self.suite}-{hashlib.sha256(text.encode()).hexdigest()[:10]}"

    @property
    def image(self) -> str:
        return f"{REPOSITORY}:{self.tag}"

    def mmdebstrap_argv(self, tarball: Path) -> list[str]:
        include = [f"--include={','.join(self.include)}"] if self.include else []
        return [
            "mmdebstrap",
            f"--variant={self.variant}",
            "--mode=root",
            "--format=tar",
            "--quiet",
            *include,
            self.suite,
            str(tarball),
            *self.sources(),
        ]


def present(image: str) -> bool:
    result = shell.run(["buildah", "images", "--quiet", image], check=False, timeout=60)
    return result.returncode == 0 and bool(result.stdout.strip())


def ensure_base(recipe: BaseRecipe | None = None, report=print) -> str:
    """The base image's name; built first when buildah's store lacks it (~2 min)."""
    recipe = recipe or BaseRecipe()
    if present(recipe.image):
        return recipe.image
    report(f"building the Debian base {recipe.image} (mmdebstrap {recipe.suite}, ~2 min)")
    with tempfile.TemporaryDirectory(prefix="opskit-debian-") as work:
        tarball = Path(work) / "rootfs.tar"
        shell.run(
            recipe.mmdebstrap_argv(tarball),
            env={"SOURCE_DATE_EPOCH": str(recipe.epoch)},
            mutates=True,
            timeout=1800,
            hint=f"is the Debian mirror reachable? (curl -I {MIRROR})",
        )
        containerfile = 'FROM scratch\nADD rootfs.tar /\nCMD ["bash"]\n'
        (Path(work) / "Containerfile").write_text(containerfile)
        shell.run(
            ["buildah", "bud", "--quiet", "--layers=false", "-t", recipe.image, work],
            mutates=True,
            timeout=600,
        )
    return recipe.image
