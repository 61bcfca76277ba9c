"""What each CI runner image holds, and the clean room's PATH built from this machine.

A model lists what its image's own documentation says it ships (`source`), no more and no
less: a job's PATH holds the host's ordinary commands minus everything a project tool could
come from (Go, Python, kubectl, helm, ...), plus what the model ships. A tool the image ships
that runs here is this machine's command; one that cannot (docker, helm, kind, an older Go)
is a stand-in (`cleanroom.shims`) that exists only on the images that ship it.
`apt-get install` in a job exposes the host's commands of that package, as the real install
would.
"""

from __future__ import annotations

import os
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

HOST_DIRS = ("/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin")
PYENV = Path("/root/.pyenv/versions")
APT = {  # Debian/Ubuntu package -> the commands it installs (bootstrap.sh's APT_PACKAGES)
    "git": ("git",),
    "curl": ("curl",),
    "wget": ("wget",),
    "openssl": ("openssl",),
    "age": ("age", "age-keygen"),
    "mkcert": ("mkcert",),
    "shellcheck": ("shellcheck",),
    "jq": ("jq",),
    "elixir": ("elixir", "elixirc", "iex", "mix", "erl", "erlc", "escript"),
    "make": ("make",),
    "gcc": ("gcc", "cc"),
    "libc6-dev": (),
    "python3-venv": (),  # with python3: see Image.apt_python
    # the telemetry tests' broker and database, ArgoCD's cache (bootstrap.sh installs them)
    "mosquitto": ("mosquitto", "mosquitto_passwd"),
    "mosquitto-clients": ("mosquitto_pub", "mosquitto_sub"),
    "postgresql": (),  # initdb/pg_ctl live in /usr/lib/postgresql/<major>/bin
    "redis-server": ("redis-server", "redis-cli"),
    # the embedded cluster's real node and its images
    "runc": ("runc",),
    "containernetworking-plugins": (),  # in /usr/lib/cni
    "iptables": ("iptables", "iptables-save", "iptables-restore", "ip6tables"),
    "nftables": ("nft",),
    "ipset": ("ipset",),
    "mmdebstrap": ("mmdebstrap",),
    "buildah": ("buildah",),
}
STAND_INS = ("docker", "helm", "kind", "minikube", "k3d", "kustomize")  # cannot run here
PROJECT_TOOLS = {  # never taken from the host unless an image or a setup step provides them
    *(c for cmds in APT.values() for c in cmds),
    *STAND_INS,
    *("go", "gofmt", "kubectl", "sops", "yamllint", "sudo", "java"),
    *("kwok", "kwokctl", "etcd", "actionlint", "uv", "uvx", "nox", "invoke", "pip", "pip3"),
    *("python", "python3", "pyenv", "node", "npm", "gcloud", "gsutil", "aws"),
}
RUNNER_UID = "1001"  # GitHub's `runner` user; a shell runner's own user (not root)


@dataclass(frozen=True)
class Image:
    """One runner image: what its documentation says it ships of the tools this project needs."""

    name: str
    source: str  # the documentation this model follows: repository, file, tag or commit
    packages: tuple[str, ...]  # apt packages of APT preinstalled
    python: str = ""  # version of its python3 ("" = none)
    venv: bool = False  # its python3 makes venvs (python3-venv installed)
    apt_python: str = "3.11"  # the python3 `apt-get install python3-venv` brings
    go: str = ""  # the Go on PATH: "1.26" = a 1.26.x, "1.24.13" = exactly ("" = none)
    tools: tuple[tuple[str, str], ...] = ()  # (command, version) of preinstalled tools
    root: bool = True  # steps run as root; else as a user with passwordless sudo

    @property
    def versions(self) -> dict[str, str]:
        return dict(self.tools)

    @property
    def docker(self) -> bool:
        return "docker" in self.versions

    @property
    def kubectl(self) -> str:
        return self.versions.get("kubectl", "")


UBUNTU_2404 = (
    "actions/runner-images images/ubuntu/Ubuntu2404-Readme.md, toolsets/toolset-2404.json, "
    "scripts/build/install-python.sh, Configure-Toolset.ps1 at tag ubuntu24/20260816.277 "
    "(3b5f596ffecb076aa5f3c3ded95b145f6daeb016)"
)
GOLANG = (
    "docker-library/golang 1.26/bookworm/Dockerfile at 7c8c182bfc19ee3169d0596ae63917d2c7166f94 "
    "(FROM buildpack-deps:bookworm-scm + gcc libc6-dev make; GOLANG_VERSION 1.26.7), "
    "docker-library/buildpack-deps debian/bookworm/{curl,scm}/Dockerfile at "
    "8330ca1d2319b779c8b7a8aa64bb40dbe568e1e2 (curl wget git mercurial ...); Debian bookworm's "
    "mercurial 6.3.2-1+deb12u1 Depends python3 (>= 3.11~, << 3.12), so python3 without "
    "python3-venv or pip; ca-certificates Depends openssl"
)
SHELL_RUNNER = (
    "support.atlassian.com/bitbucket-cloud/docs/set-up-runners-for-linux-shell/ (the runner "
    "needs OpenJDK 11, Git >= 2.35, Bash) + what this project asks of it in docs/ci.md"
)

IMAGES = {
    image.name: image
    for image in (
        # GitHub's image: its default Go (1.24, on PATH) is older than the tools need
        Image(
            "ubuntu-24.04",
            UBUNTU_2404,
            ("git", "curl", "wget", "openssl", "make", "gcc", "jq", "shellcheck", "buildah"),
            python="3.12",
            venv=True,
            apt_python="3.12",
            go="1.24.13",
            tools=(
                ("docker", "28.0.4"),
                ("helm", "v3.21.4"),
                ("kind", "v0.32.0"),
                ("kubectl", "v1.36.3"),
                ("kustomize", "v5.8.1"),
                ("minikube", "v1.38.1"),
                ("yamllint", "1.38.0"),
            ),
            root=False,
        ),
        Image(
            "golang:1.26-bookworm",
            GOLANG,
            ("git", "curl", "wget", "openssl", "make", "gcc", "libc6-dev"),
            python="3.11",
            venv=False,
            go="1.26",
        ),
        # Bitbucket's self-hosted Linux shell runner of cluster-e2e: what docs/ci.md asks
        Image(
            "self.hosted,linux.shell",
            SHELL_RUNNER,
            ("git", "curl"),
            python="3.11",
            venv=True,
            go="1.26",
            tools=(("docker", "27.5.1"), ("java", "11")),
            root=False,
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


def python_interpreter(version: str) -> str | None:
    """This machine's newest interpreter of `version` (3.11 = its newest 3.11.x)."""
    matches = sorted(PYENV.glob(f"{version}.*"), key=lambda p: p.name) if PYENV.is_dir() else []
    return (
        str(matches[-1] / "bin" / f"python{version}")
        if matches
        else host_command(f"python{version}")
    )


def provide_python(folder: Path, version: str, venv: bool = True) -> bool:
    """python3 (and python3.X, python) of `version` from this machine's interpreters.
    venv=False: Debian's python3 without python3-venv and python3-pip (no ensurepip, no pip)."""
    real = python_interpreter(version)
    if not real:
        return False
    for name in ("python", "python3", f"python{version}"):
        if venv:
            link(folder, name, real)
        else:
            _write_python_without_venv(folder, name, real)
    return True


MISSING_MODULE = (
    "raise ModuleNotFoundError(\"No module named '{0}' (Debian's python3 without "
    "python3-venv/python3-pip)\", name='{0}')\n"
)


WITHOUT_VENV = """#!/usr/bin/env bash
# Debian's python3 as the image has it: no ensurepip, so no venv with pip, and no pip
if [ "${1:-} ${2:-}" = "-m venv" ] && [[ " $* " != *" --without-pip "* ]]; then
  echo "The virtual environment was not created successfully because ensurepip is not" >&2
  echo "available.  On Debian/Ubuntu systems, you need to install the python3-venv" >&2
  echo "package using the following command.  apt install python3-venv" >&2
  exit 1
fi
PYTHONPATH="@HIDDEN@${PYTHONPATH:+:$PYTHONPATH}" exec "@REAL@" "$@"
"""


def _write_python_without_venv(folder: Path, name: str, real: str) -> None:
    hidden = folder / "without-venv"
    for module in ("ensurepip", "pip"):
        (hidden / module).mkdir(parents=True, exist_ok=True)
        (hidden / module / "__init__.py").write_text(MISSING_MODULE.format(module))
    path = folder / name
    if path.is_symlink() or path.exists():
        path.unlink()
    path.write_text(WITHOUT_VENV.replace("@HIDDEN@", str(hidden)).replace("@REAL@", real))
    path.chmod(0o755)


def host_go() -> tuple[Path, str] | None:
    """This machine's Go: its bin folder and version."""
    go = shutil.which("go", path="/usr/local/go/bin") or host_command("go")
    if not go:
        return None
    folder = Path(go).resolve().parent
    return folder, (folder.parent / "VERSION").read_text().split()[0].removeprefix("go")


def go_matches(have: str, spec: str) -> bool:
    return have == spec or have.startswith(f"{spec}.")


def provide_go(folder: Path, spec: str) -> str | None:
    """The host's Go when it satisfies `spec` (1.26 = any 1.26.x; 1.26.3 = exactly); else None."""
    found = host_go()
    if not found or not go_matches(found[1], spec):
        return None
    for name in ("go", "gofmt"):
        link(folder, name, found[0] / name)
    return found[1]


def run_here(image: Image) -> dict[str, str]:
    """The image's preinstalled tools that run as this machine's command: name -> path."""
    found = {}
    for name in image.versions:
        if name == "yamllint":  # pipx's on the image; the one beside this Python here
            path = host_command(name) or str(Path(sys.executable).parent / name)
            found[name] = path if Path(path).is_file() else ""
        elif name not in STAND_INS and name != "kubectl":
            found[name] = host_command(name) or ""
    return {name: path for name, path in found.items() if path}


def image_bin(folder: Path, image: Image) -> bool:
    """The commands the image ships, on top of the base; False when its Go is not this
    machine's (the room puts a stand-in that reports it)."""
    install_packages(folder, list(image.packages), image)
    if image.python:
        provide_python(folder.parent / "image-python", image.python, venv=image.venv)
    for name, path in run_here(image).items():
        link(folder, name, path)
    return not image.go or provide_go(folder, image.go) is not None
