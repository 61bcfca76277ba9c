"""Registry of the external tools the suite drives: version probe, minimum, install hint."""

from __future__ import annotations

import contextlib
import json
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

from opskit import yamlio
from opskit.errors import OpsError, ToolMissing
from opskit.paths import state_dir, tools_bin, write_atomic

BUILT = "run `invoke tools.install` (builds it into .tools/bin from the pins in tools/)"
GITOPS = "run `invoke tools.install --only=gitops` (builds ArgoCD and kustomize, ~20 min cold)"
PEERS = "run `invoke tools.install --only=peers` (builds Skaffold for the benchmark, ~7 min cold)"


@dataclass(frozen=True)
class Tool:
    name: str
    version_args: tuple[str, ...]
    minimum: str
    hint: str
    version_regex: str = r"v?(\d+\.\d+(?:\.\d+)?)"


TOOLS: dict[str, Tool] = {
    t.name: t
    for t in (
        Tool("git", ("--version",), "2.30", "apt-get install git"),
        Tool("kubectl", ("version", "--client"), "1.31", BUILT),  # doctor: minor skew
        Tool("docker", ("--version",), "24.0", "install Docker Engine or Docker Desktop"),
        Tool("k3d", ("version",), "5.6", "see k3d.io (install.sh) or `brew install k3d`"),
        Tool("minikube", ("version", "--short"), "1.32", "see minikube.sigs.k8s.io/docs/start"),
        Tool("kwokctl", ("--version",), "0.8", BUILT, r"kwokctl version v?(\d+\.\d+\.\d+)"),
        Tool("kwok", ("--version",), "0.8", BUILT, r"kwok version v?(\d+\.\d+\.\d+)"),
        Tool("kube-apiserver", ("--version",), "1.37", BUILT),
        Tool("kube-controller-manager", ("--version",), "1.37", BUILT),
        Tool("kube-scheduler", ("--version",), "1.37", BUILT),
        Tool("etcd", ("--version",), "3.7", BUILT, r"etcd Version: (\d+\.\d+\.\d+)"),
        Tool("sops", ("--version", "--disable-version-check"), "3.8", BUILT),
        Tool("actionlint", ("-version",), "1.7", BUILT),
        Tool("kube-score", ("version",), "1.20", BUILT, r"kube-score version: (\d+\.\d+\.\d+)"),
        Tool("argocd", ("version", "--client", "--short"), "3.6", GITOPS, r"v(\d+\.\d+\.\d+)"),
        Tool("kustomize", ("version",), "5.8", GITOPS),
        Tool("skaffold", ("version",), "2.19", PEERS, r"v(\d+\.\d+\.\d+)"),
        Tool("redis-server", ("--version",), "6.0", "apt-get install redis-server", r"v=([\d.]+)"),
        Tool("age", ("--version",), "1.1", "apt-get install age"),
        Tool("age-keygen", ("--version",), "1.1", "apt-get install age"),
        Tool("mkcert", ("-version",), "1.4", "apt-get install mkcert"),
        Tool("helm", ("version", "--short"), "3.14", "see helm.sh/docs/intro/install"),
        Tool("curl", ("--version",), "7.80", "apt-get install curl"),
        Tool("openssl", ("version",), "3.0", "apt-get install openssl"),
        Tool("elixir", ("--version",), "1.14", "apt-get install elixir", r"Elixir (\d+\.\d+\.\d+)"),
        Tool(
            "shellcheck",
            ("--version",),
            "0.8",
            "apt-get install shellcheck",
            r"version: (\d+\.\d+\.\d+)",
        ),
        Tool("go", ("version",), "1.22", "install Go from go.dev/dl", r"go(\d+\.\d+(?:\.\d+)?)"),
    )
}

# What each cluster provider's deploy workflow needs; `invoke doctor` fails on these.
COMMON = ("git", "kubectl", "sops", "age", "mkcert")
WORKFLOW: dict[str, tuple[str, ...]] = {
    "kwok": (
        *COMMON,
        "kwokctl",
        "kwok",
        "kube-apiserver",
        "kube-controller-manager",
        "kube-scheduler",
        "etcd",
    ),
    "k3d": (*COMMON, "docker", "k3d"),
    "minikube": (*COMMON, "docker", "minikube"),
}


def which(name: str) -> str | None:
    """Path of an executable: the suite's built tools first, then PATH."""
    if "/" in name:
        return name if shutil.which(name) else None
    local = tools_bin() / name
    if local.is_file():
        return str(local)
    return shutil.which(name)


def install_hint(name: str) -> str:
    tool = TOOLS.get(name)
    return f"install it: {tool.hint}" if tool else f"install `{name}` and put it on PATH"


@dataclass(frozen=True)
class Probe:
    name: str
    path: str | None
    version: str | None
    ok: bool


def probe(name: str) -> Probe:
    """Find a tool and read its version (one short process)."""
    from opskit import shell

    tool = TOOLS[name]
    path = which(name)
    if path is None:
        return Probe(name, None, None, False)
    version = _cached_version(path)
    if version is None:
        result = shell.run([path, *tool.version_args], check=False, timeout=20)
        match = re.search(tool.version_regex, result.stdout + result.stderr)
        version = match.group(1) if match else None
        if version:
            _remember_version(path, version)
    return Probe(name, path, version, version is not None and _at_least(version, tool.minimum))


def _cache_file() -> Path:
    return state_dir() / "tool-versions.json"


def _fingerprint(path: str) -> str:
    """Identity of an executable's bytes: a rebuilt or upgraded tool is probed again."""
    info = Path(path).resolve().stat()
    return f"{info.st_mtime_ns}:{info.st_size}"


def _read_cache() -> dict:
    return yamlio.read_json_cache(_cache_file())


def _cached_version(path: str) -> str | None:
    entry = _read_cache().get(path)
    if not isinstance(entry, dict):
        return None
    return entry.get("version") if entry.get("fingerprint") == _fingerprint(path) else None


def _remember_version(path: str, version: str) -> None:
    """Version probes cost a process each; cache them so preflight stays fast."""
    cache = _read_cache()
    cache[path] = {"fingerprint": _fingerprint(path), "version": version}
    with contextlib.suppress(OpsError):  # a cache that cannot be written only costs speed
        write_atomic(_cache_file(), json.dumps(cache, indent=1, sort_keys=True))


def _at_least(version: str, minimum: str) -> bool:
    def parts(text: str) -> tuple[int, ...]:
        return tuple(int(p) for p in re.findall(r"\d+", text)[:3])

    return parts(version) >= parts(minimum)


def require(*names: str) -> None:
    """Preflight: every named tool is installed at a suitable version, else ToolMissing."""
    for name in names:
        if which(name) is None:
            raise ToolMissing(f"`{name}` not found", install_hint(name))
    for name in names:
        found = probe(name)
        if not found.ok:
            raise ToolMissing(
                f"`{name}` {found.version or 'unknown version'} is older than "
                f"{TOOLS[name].minimum}",
                install_hint(name),
            )
