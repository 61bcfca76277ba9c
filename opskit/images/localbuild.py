"""Images built on this machine with buildah, for the embedded cluster's real node (no
registry answers here): a Python base on the Debian base, the project's own images from
their Dockerfiles as they are with that base passed as their base argument, and stand-ins
for third-party images built from Debian packages (named as stand-ins, never as upstream).
buildah's layer cache makes a rebuild of an unchanged image start no build step."""

from __future__ import annotations

import hashlib
import tempfile
from dataclasses import dataclass
from pathlib import Path

from opskit.core import paths, shell
from opskit.images import debian

PYTHON_REPOSITORY = "localhost/gitops-lab/python"
STANDINS = paths.root() / "services" / "standins"
STANDIN_SUFFIX = "-standin"  # localhost/gitops-lab/<upstream name>-standin:<digest>
HOST_CERTS = Path("/etc/ssl/certs")  # this machine's trust store (its HTTPS proxy's CA too)
PIP_CONF = "[global]\ncert = /etc/ssl/certs/ca-certificates.crt\n"


def _key(*parts: str) -> str:
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()[:10]


def bud_argv(tag: str, context: Path, *options: str) -> list[str]:
    return [
        "buildah",
        "bud",
        "--quiet",
        "--layers",
        "--network=host",
        *options,
        "-t",
        tag,
        str(context),
    ]


def python_base(report=print) -> str:
    """Debian's Python 3.11 (python3, venv) on the Debian base, `python` on PATH like the
    python:3.11-slim image the telemetry Dockerfile names."""
    base = debian.ensure_base(report=report)
    containerfile = (
        f"FROM {base}\n"
        "RUN apt-get update && apt-get install -y --no-install-recommends python3 python3-venv"
        " && rm -rf /var/lib/apt/lists/* && ln -s /usr/bin/python3 /usr/local/bin/python\n"
    )
    image = f"{PYTHON_REPOSITORY}:3.11-{_key(containerfile)}"
    if debian.present(image):
        return image
    report(f"building the Python base {image} (Debian's python3)")
    with tempfile.TemporaryDirectory(prefix="opskit-python-") as work:
        (Path(work) / "Containerfile").write_text(containerfile)
        shell.run(bud_argv(image, Path(work)), mutates=True, timeout=900)
    return image


@dataclass(frozen=True)
class ProjectImage:
    """One of the project's images (opskit.yaml `images:`) built from its Dockerfile."""

    name: str
    context: Path
    base_arg: str = "PYTHON_IMAGE"  # the Dockerfile's ARG naming its base

    def build_argv(self, tag: str, base: str, revision: str, pip_conf: Path) -> list[str]:
        """The Dockerfile unchanged; only its base argument differs. The build (not the
        image) trusts this machine's certificates, so pip reaches PyPI through its proxy."""
        return bud_argv(
            tag,
            self.context,
            "--build-arg",
            f"{self.base_arg}={base}",
            "--build-arg",
            f"REVISION={revision}",
            "--volume",
            f"{HOST_CERTS}:/etc/ssl/certs:ro",
            "--volume",
            f"{pip_conf}:/etc/pip.conf:ro",
        )


def build_project_image(image: ProjectImage, tag: str, revision: str, report=print) -> str:
    base = python_base(report)
    report(f"building {tag} from {image.context.name}/Dockerfile on {base}")
    with tempfile.TemporaryDirectory(prefix="opskit-pip-") as work:
        pip_conf = Path(work) / "pip.conf"
        pip_conf.write_text(PIP_CONF)
        argv = image.build_argv(tag, base, revision, pip_conf)
        shell.run(argv, mutates=True, timeout=1800, hint="is PyPI reachable? (pip download pip)")
    return tag


def standin_image(name: str) -> str:
    """`localhost/gitops-lab/<name>-standin:<digest of its build context>`: a change to
    its Containerfile or entrypoint is a new tag (k8s/components/embedded-standins names it)."""
    files = sorted(p for p in (STANDINS / name).iterdir() if p.is_file())
    digest = _key(*(f.name + f.read_text() for f in files))
    return f"localhost/gitops-lab/{name}{STANDIN_SUFFIX}:{digest}"


def build_standin(name: str, report=print) -> str:
    """A stand-in for the upstream image `name` (postgres, redis, mosquitto) from Debian
    packages on the Debian base, keeping the upstream image's contract (see its Containerfile)."""
    image = standin_image(name)
    if debian.present(image):
        return image
    base = debian.ensure_base(report=report)
    report(f"building the stand-in {image} from Debian packages")
    context = STANDINS / name
    shell.run(bud_argv(image, context, "--build-arg", f"BASE={base}"), mutates=True, timeout=900)
    return image
