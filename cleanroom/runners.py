"""What each CI runner image holds, and the clean room's PATH built from this machine.

An image is the host's ordinary commands minus everything a project tool could come from
(Go, Python, kubectl, age, sops, ...), plus the few the image really ships. `apt-get install`
in a job exposes the host's command of that package, as the real install would.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path

HOST_DIRS = ("/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin")
PYENV = Path("/root/.pyenv/versions")
APT = {  # Debian/Ubuntu package -> the commands it installs
    "git": ("git",),
    "curl": ("curl",),
    "openssl": ("openssl",),
    "age": ("age", "age-keygen"),
    "mkcert": ("mkcert",),
    "shellcheck": ("shellcheck",),
    "elixir": ("elixir", "elixirc", "iex", "mix", "erl", "erlc", "escript"),
    "make": ("make",),
    "python3-venv": (),  # with python3: see Image.apt_python
    # the telemetry tests' broker and database, ArgoCD's cache (bootstrap.sh installs them)
    "mosquitto": ("mosquitto", "mosquitto_passwd"),
    "mosquitto-clients": ("mosquitto_pub", "mosquitto_sub"),
    "postgresql": (),  # initdb/pg_ctl live in /usr/lib/postgresql/<major>/bin
    "redis-server": ("redis-server", "redis-cli"),
}
PROJECT_TOOLS = {  # never taken from the host unless an image or a setup step provides them
    *(c for cmds in APT.values() for c in cmds),
    *("go", "gofmt", "kubectl", "docker", "k3d", "helm", "sops", "kind", "minikube"),
    *("kwok", "kwokctl", "etcd", "actionlint", "uv", "uvx", "nox", "invoke", "pip", "pip3"),
    *("python", "python3", "pyenv", "node", "npm", "gcloud", "gsutil", "aws"),
}


@dataclass(frozen=True)
class Image:
    """One runner image: what it ships of the tools this project needs."""

    name: str
    packages: tuple[str, ...]  # apt packages preinstalled
    python: str = ""  # version of its python3 ("" = none)
    apt_python: str = "3.11"  # the python3 `apt-get install python3-venv` brings
    go: str = ""  # a Go the tools can be built with ("" = none, or too old)
    docker: bool = False  # a Docker CLI and engine (its commands are asserted)
    kubectl: str = ""  # version of a preinstalled kubectl ("" = none)


IMAGES = {
    image.name: image
    for image in (
        # GitHub's image: its Go (1.24 at this date) is older than the tools need
        Image(
            "ubuntu-24.04",
            ("git", "curl", "openssl", "make", "shellcheck"),
            python="3.12",
            apt_python="3.12",
            docker=True,
            kubectl="v1.36.0",
        ),
        Image("golang:1.26-bookworm", ("git", "curl", "make"), go="1.26"),
        Image("python:3.11-bookworm", ("git", "curl", "make", "openssl"), python="3.11"),
        # Bitbucket's self-hosted shell runner of cluster-e2e: Docker and Go installed
        Image(
            "self.hosted,linux.shell",
            ("git", "curl", "make", "openssl"),
            python="3.11",
            go="1.26",
            docker=True,
        ),
    )
}


def host_command(name: str) -> str | None:
    for folder in HOST_DIRS:
        path = Path(folder, name)
        if path.is_file() and os.access(path, os.X_OK):
            return str(path)
    return None


def base_bin(folder: Path) -> None:
    """Links to every ordinary host command (coreutils, bash, sed, tar, ...)."""
    folder.mkdir(parents=True, exist_ok=True)
    for directory in reversed(HOST_DIRS):  # earlier folders win, as on PATH
        for entry in Path(directory).iterdir() if Path(directory).is_dir() else ():
            if entry.name in PROJECT_TOOLS or entry.name.startswith(("python", "pip")):
                continue
            link = folder / entry.name
            if link.is_symlink() or link.exists():
                link.unlink()
            link.symlink_to(entry)


def link(folder: Path, name: str, target: str | Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    if path.is_symlink() or path.exists():
        path.unlink()
    path.symlink_to(target)


def install_packages(folder: Path, packages: list[str], image: Image) -> list[str]:
    """Expose the host's commands of these apt packages; the unknown ones, for the error.
    Python goes to the `image-python` folder beside `folder` (after setup-python's on PATH)."""
    unknown = []
    for package in packages:
        if package == "python3-venv":
            provide_python(folder.parent / "image-python", image.apt_python)
        elif package in APT:
            for command in APT[package]:
                if target := host_command(command):
                    link(folder, command, target)
        else:
            unknown.append(package)
    return unknown


def provide_python(folder: Path, version: str) -> bool:
    """python3 (and python3.X, python) of `version` from this machine's interpreters."""
    matches = sorted(PYENV.glob(f"{version}.*"), key=lambda p: p.name) if PYENV.is_dir() else []
    real = matches[-1] / "bin" / f"python{version}" if matches else host_command(f"python{version}")
    if not real:
        return False
    for name in ("python", "python3", f"python{version}"):
        link(folder, name, real)
    return True


def provide_go(folder: Path, spec: str) -> str | None:
    """The host's Go when it satisfies `spec` (1.26 = any 1.26.x; 1.26.3 = exactly); else None."""
    go = shutil.which("go", path="/usr/local/go/bin") or host_command("go")
    if not go:
        return None
    version = (Path(go).resolve().parent.parent / "VERSION").read_text().split()[0]
    have = version.removeprefix("go")
    if have != spec and not have.startswith(f"{spec}."):
        return None
    for name in ("go", "gofmt"):
        link(folder, name, Path(go).resolve().parent / name)
    return have


def image_bin(folder: Path, image: Image) -> None:
    """The commands the image ships, on top of the base."""
    install_packages(folder, list(image.packages), image)
    if image.python:
        provide_python(folder.parent / "image-python", image.python)
    if image.go:
        provide_go(folder, image.go)
