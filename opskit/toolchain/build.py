"""Build the pinned Go tools (tools/<module>/go.mod) into <root>/.tools/bin.

Versions come from opskit.yaml `tools:` and must agree with the go.mod pins. A stamp
(<root>/.tools/stamp.json) records what was built from which inputs, so a second run
starts no process. A tool already on PATH at the pinned version is linked instead.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import shutil
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from opskit.core import lock, paths, shell
from opskit.core.errors import OpsError
from opskit.core.progress import Notify

GO_ENV = {"GOTOOLCHAIN": "local", "CGO_ENABLED": "0"}
GO_1_27 = "go1.27.3"  # fetched by the go command itself (module proxy) for modules needing it
BUILD_TIMEOUT = 3600.0
HEARTBEAT_SECONDS = 60.0
_KUBE_VERSION_PKGS = ("k8s.io/component-base/version", "k8s.io/client-go/pkg/version")


def _kube_ldflags(version: str) -> tuple[str, ...]:
    """Version stamps of a Kubernetes build (hack/lib/version.sh); kwokctl reads them."""
    stamp = re.match(r"v(\d+)\.(\d+)", version)
    if stamp is None:
        raise OpsError(f"{version!r} is not a Kubernetes version", "pin it as vMAJOR.MINOR.PATCH")
    major, minor = stamp.groups()
    values = {"gitVersion": version, "gitMajor": major, "gitMinor": minor}
    values["gitTreeState"] = "archive"
    return tuple(
        f"-X {pkg}.{key}={value}" for pkg in _KUBE_VERSION_PKGS for key, value in values.items()
    )


def _kwok_ldflags(version: str) -> tuple[str, ...]:
    return (f"-X sigs.k8s.io/kwok/pkg/consts.Version={version}",)


def _kube_score_ldflags(version: str) -> tuple[str, ...]:
    return (f"-X main.version={version.lstrip('v')}",)


def _skaffold_ldflags(version: str) -> tuple[str, ...]:
    return (f"-X {SKAFFOLD}/pkg/skaffold/version.version={version}",)


def _containerd_ldflags(version: str) -> tuple[str, ...]:
    pkg = f"{CONTAINERD}/version"
    return (f"-X {pkg}.Version={version}", f"-X {pkg}.Package={CONTAINERD}")


def _crictl_ldflags(version: str) -> tuple[str, ...]:
    return (f"-X sigs.k8s.io/cri-tools/pkg/version.Version={version}",)


def _kube_router_ldflags(version: str) -> tuple[str, ...]:
    return (f"-X {KUBE_ROUTER}/pkg/version.Version={version}",)


def _helm_ldflags(version: str) -> tuple[str, ...]:
    return (f"-X {HELM}/internal/version.version={version}",)  # as helm's Makefile sets it


def _ksops_ldflags(version: str) -> tuple[str, ...]:
    return (f"-X main.sopsVersion={version.lstrip('v')}",)


def _prometheus_ldflags(version: str) -> tuple[str, ...]:
    """prometheus/common's version stamps (.promu.yml); `--version` prints them."""
    return (f"-X {PROMETHEUS_COMMON}/version.Version={prometheus_release(version)}",)


def prometheus_release(version: str) -> str:
    """Prometheus 3.x is published to the module proxy as v0.3MM.P: v0.313.1 is 3.13.1."""
    match = re.fullmatch(r"v0\.3(\d\d)\.(\d+)", version)
    return f"3.{int(match.group(1))}.{match.group(2)}" if match else version.lstrip("v")


def _operator_ldflags(version: str) -> tuple[str, ...]:
    return (f"-X {PROMETHEUS_COMMON}/version.Version={version.lstrip('v')}",)


def _traefik_ldflags(version: str) -> tuple[str, ...]:
    return (f"-X {TRAEFIK}/pkg/version.Version={version}",)


def _argocd_ldflags(version: str) -> tuple[str, ...]:
    return (f"-X github.com/argoproj/argo-cd/v3/common.version={version.lstrip('v')}",)


@dataclass(frozen=True)
class GoTool:
    """One binary: which tools/ module builds it, from which package, with which flags."""

    name: str  # output file in .tools/bin
    pin: str  # key of opskit.yaml `tools:`
    module_dir: str  # folder under tools/
    requires: str  # the module in go.mod whose version is the pin
    package: str
    tags: tuple[str, ...] = ()
    ldflags: Callable[[str], tuple[str, ...]] = lambda version: ()
    toolchain: str = ""  # a Go toolchain newer than the local one (GOTOOLCHAIN)
    optional: bool = False  # built only when named (--only), not by a plain tools.install
    release: Callable[[str], str] = lambda version: version.lstrip("v")  # what --version says

    def env(self) -> dict[str, str]:
        return {**GO_ENV, "GOTOOLCHAIN": self.toolchain} if self.toolchain else dict(GO_ENV)

    def argv(self, version: str, output: Path) -> list[str]:
        flags = " ".join(("-s", "-w", *self.ldflags(version)))
        tags = ["-tags", ",".join(self.tags)] if self.tags else []
        return [
            "go",
            "build",
            "-trimpath",
            *tags,
            "-ldflags",
            flags,
            "-o",
            str(output),
            self.package,
        ]


def _kube(name: str, optional: bool = False) -> GoTool:
    package = f"k8s.io/kubernetes/cmd/{name}"
    tags = ("selinux", "notest")
    return GoTool(
        name,
        "kubernetes",
        "kube",
        "k8s.io/kubernetes",
        package,
        tags,
        _kube_ldflags,
        optional=optional,
    )


def _containerd(name: str) -> GoTool:
    # the tags of containerd's static release build; the shim's gRPC is off as upstream's
    tags: tuple[str, ...] = ("urfave_cli_no_docs", "osusergo", "netgo", "static_build")
    if name.startswith("containerd-shim"):
        tags = (*tags, "no_grpc")
    package = f"{CONTAINERD}/cmd/{name}"
    return GoTool(
        name,
        "containerd",
        "containerd",
        CONTAINERD,
        package,
        tags,
        _containerd_ldflags,
        optional=True,
    )


def _operator(name: str, command: str) -> GoTool:
    package = f"{PROMETHEUS_OPERATOR}/cmd/{command}"
    pin = "prometheus-operator"
    return GoTool(
        name, pin, pin, PROMETHEUS_OPERATOR, package, ldflags=_operator_ldflags, optional=True
    )


def _kwok(name: str) -> GoTool:
    package = f"sigs.k8s.io/kwok/cmd/{name}"
    return GoTool(name, "kwok", "kwok", "sigs.k8s.io/kwok", package, ldflags=_kwok_ldflags)


SOPS = "github.com/getsops/sops/v3"
ETCD = "go.etcd.io/etcd/server/v3"
ACTIONLINT = "github.com/rhysd/actionlint"
KUBE_SCORE = "github.com/zegl/kube-score"
ARGOCD = "github.com/argoproj/argo-cd/v3"
KUSTOMIZE = "sigs.k8s.io/kustomize/kustomize/v5"
SKAFFOLD = "github.com/GoogleContainerTools/skaffold/v2"
CONTAINERD = "github.com/containerd/containerd/v2"
COREDNS = "github.com/coredns/coredns"
CRI_TOOLS = "sigs.k8s.io/cri-tools"
KUBE_ROUTER = "github.com/cloudnativelabs/kube-router/v2"
HELM = "helm.sh/helm/v3"
PROMETHEUS = "github.com/prometheus/prometheus"
PROMETHEUS_OPERATOR = "github.com/prometheus-operator/prometheus-operator"
PROMETHEUS_COMMON = "github.com/prometheus/common"
TRAEFIK = "github.com/traefik/traefik/v3"

GO_TOOLS: tuple[GoTool, ...] = (
    _kube("kube-apiserver"),
    _kube("kube-controller-manager"),
    _kube("kube-scheduler"),
    _kube("kubectl"),
    GoTool("etcd", "etcd", "etcd", ETCD, ETCD),
    _kwok("kwok"),
    _kwok("kwokctl"),
    GoTool("sops", "sops", "sops", SOPS, f"{SOPS}/cmd/sops"),
    GoTool("actionlint", "actionlint", "actionlint", ACTIONLINT, f"{ACTIONLINT}/cmd/actionlint"),
    GoTool(
        "kube-score",
        "kube-score",
        "kube-score",
        KUBE_SCORE,
        f"{KUBE_SCORE}/cmd/kube-score",
        ldflags=_kube_score_ldflags,
    ),
    GoTool(
        "helm",
        "helm",
        "helm",
        HELM,
        f"{HELM}/cmd/helm",
        ldflags=_helm_ldflags,
        optional=True,  # only `monitoring.install` (and CI's cluster-e2e) runs it
    ),
    GoTool(
        "argocd",
        "argocd",
        "argocd",
        ARGOCD,
        f"{ARGOCD}/cmd",
        ldflags=_argocd_ldflags,
        toolchain=GO_1_27,
        optional=True,
    ),
    # the project's KSOPS-compatible plugin (tools/ksops/main.go, on sops's library at the sops
    # pin): upstream KSOPS's module is refused by the proxy; its image serves ArgoCD's repo-server
    GoTool(
        "ksops",
        "sops",
        "ksops",
        SOPS,
        "gitops-lab/tools/ksops",
        ldflags=_ksops_ldflags,
        optional=True,
    ),
    GoTool(
        "kustomize",
        "kustomize",
        "kustomize",
        KUSTOMIZE,
        KUSTOMIZE,
        toolchain=GO_1_27,
        optional=True,
    ),
    GoTool(
        "skaffold",
        "skaffold",
        "skaffold",
        SKAFFOLD,
        f"{SKAFFOLD}/cmd/skaffold",
        ldflags=_skaffold_ldflags,
        optional=True,
    ),
    # the embedded cluster's real node (opt-in: `--only=node`)
    _kube("kubelet", optional=True),
    _kube("kube-proxy", optional=True),
    _containerd("containerd"),
    _containerd("containerd-shim-runc-v2"),
    _containerd("ctr"),
    GoTool("coredns", "coredns", "coredns", COREDNS, COREDNS, optional=True),
    GoTool(
        "crictl",
        "crictl",
        "crictl",
        CRI_TOOLS,
        f"{CRI_TOOLS}/cmd/crictl",
        ldflags=_crictl_ldflags,
        optional=True,
    ),
    GoTool(
        "kube-router",
        "kube-router",
        "kube-router",
        KUBE_ROUTER,
        f"{KUBE_ROUTER}/cmd/kube-router",
        ldflags=_kube_router_ldflags,
        optional=True,
    ),
    # Prometheus and its operator as pods on the real node (opt-in: `--only=monitoring`);
    # no builtinassets: the web UI is not in the module, the API is
    GoTool(
        "prometheus",
        "prometheus",
        "prometheus",
        PROMETHEUS,
        f"{PROMETHEUS}/cmd/prometheus",
        ("netgo", "remove_all_sd", "enable_kubernetes_sd"),
        _prometheus_ldflags,
        optional=True,
        release=prometheus_release,
    ),
    _operator("prometheus-operator", "operator"),
    _operator("prometheus-config-reloader", "prometheus-config-reloader"),
    # the real node's Ingress controller (opt-in: `--only=ingress`)
    GoTool(
        "traefik",
        "traefik",
        "traefik",
        TRAEFIK,
        f"{TRAEFIK}/cmd/traefik",
        ldflags=_traefik_ldflags,
        optional=True,
    ),
)
NODE = (
    "kubelet",
    "kube-proxy",
    "containerd",
    "containerd-shim-runc-v2",
    "ctr",
    "coredns",
    "crictl",
    "kube-router",
)
MONITORING = ("prometheus", "prometheus-operator", "prometheus-config-reloader")
# Names that stand for several tools in `--only`.
GROUPS: dict[str, tuple[str, ...]] = {
    "node": NODE,  # the embedded cluster's real node
    "gitops": ("argocd", "kustomize", "ksops"),
    "peers": ("skaffold", "kustomize"),  # `nox -s bench -- --peers`
    "monitoring": MONITORING,  # `invoke monitoring.install` on the real node
    "ingress": ("traefik",),  # `invoke ingress.install` on the real node
}


@dataclass(frozen=True)
class Outcome:
    name: str
    version: str
    action: str  # "up to date" | "built" | "linked" | "would build"
    seconds: float = 0.0
    path: str = ""


def stamp_file() -> Path:
    return paths.tools_bin().parent / "stamp.json"


def select(names: tuple[str, ...] = ()) -> tuple[GoTool, ...]:
    """The named tools or groups (the non-optional tools when empty); an unknown name is a
    one-line error."""
    known = {tool.name: tool for tool in GO_TOOLS}
    names = tuple(dict.fromkeys(n for name in names for n in GROUPS.get(name, (name,))))
    unknown = [name for name in names if name not in known]
    if unknown:
        choices = ", ".join((*known, *GROUPS))
        raise OpsError(f"unknown tool {unknown[0]!r}", f"use one of: {choices}")
    if names:
        return tuple(known[name] for name in names)
    return tuple(tool for tool in GO_TOOLS if not tool.optional)


def pinned_version(tool: GoTool, pins: dict[str, str], tools_dir: Path) -> str:
    """The pin from opskit.yaml, checked against the module's go.mod."""
    version = pins.get(tool.pin)
    if not version:
        raise OpsError(
            f"opskit.yaml: tools.{tool.pin}: missing key",
            f"add `{tool.pin}: <version>` (see tools/{tool.module_dir}/go.mod)",
        )
    gomod = tools_dir / tool.module_dir / "go.mod"
    match = re.search(
        rf"^\s*(?:require\s+)?{re.escape(tool.requires)} (\S+)", gomod.read_text(), re.MULTILINE
    )
    if match is None or match.group(1) != version:
        found = match.group(1) if match else "nothing"
        raise OpsError(
            f"opskit.yaml pins {tool.pin} {version} but tools/{tool.module_dir}/go.mod "
            f"requires {tool.requires} {found}",
            "make them agree (edit opskit.yaml `tools:` or the go.mod, then `go mod tidy`)",
        )
    return version


def input_key(tool: GoTool, version: str, tools_dir: Path) -> str:
    """What the binary depends on: pin, flags, the module's go.mod/go.sum and its own Go
    sources (tools/ksops has some; the other modules only name upstream packages)."""
    digest = hashlib.sha256()
    module = tools_dir / tool.module_dir
    for part in (version, " ".join(tool.argv(version, Path("out"))), str(tool.env())):
        digest.update(part.encode() + b"\0")
    for name in ("go.mod", "go.sum"):
        file = module / name
        digest.update(file.read_bytes() if file.is_file() else b"")
    for source in sorted(module.glob("*.go")):
        digest.update(source.name.encode() + b"\0" + source.read_bytes())
    return digest.hexdigest()[:16]


def read_stamp() -> dict[str, dict[str, str]]:
    """Per tool: version, input key, source (built | linked) and linked path."""
    from opskit.core import yamlio

    tools = yamlio.read_json_cache(stamp_file()).get("tools")
    return tools if isinstance(tools, dict) else {}


def _write_stamp(entries: dict[str, dict[str, str]]) -> None:
    paths.write_atomic(
        stamp_file(), json.dumps({"tools": entries}, indent=2, sort_keys=True) + "\n"
    )


def up_to_date(tool: GoTool, key: str, stamp: dict[str, dict[str, str]]) -> bool:
    entry = stamp.get(tool.name, {})
    binary = paths.tools_bin() / tool.name
    return entry.get("key") == key and binary.exists() and os.access(binary, os.X_OK)


def on_path(tool: GoTool, version: str) -> str | None:
    """A binary on PATH (outside .tools/bin) reporting exactly the pinned version."""
    from opskit.core import tools

    own = str(paths.tools_bin())
    search = os.pathsep.join(p for p in os.environ.get("PATH", "").split(os.pathsep) if p != own)
    found = shutil.which(tool.name, path=search)
    if found is None or tool.name not in tools.TOOLS:
        return None
    return found if reported_version(tool.name, found) == tool.release(version) else None


def reported_version(name: str, binary: str) -> str | None:
    """The version a binary prints (registry's version flags and pattern)."""
    from opskit.core import tools

    spec = tools.TOOLS[name]
    quiet = {"SOPS_DISABLE_VERSION_CHECK": "1"}  # else `sops --version` calls out
    result = shell.run([binary, *spec.version_args], check=False, timeout=30, env=quiet)
    match = re.search(spec.version_regex, result.stdout + result.stderr)
    return match.group(1) if match else None


def install(
    pins: dict[str, str],
    names: tuple[str, ...] = (),
    force: bool = False,
    report: Notify = print,
    dry_run: bool = False,
) -> list[Outcome]:
    """Make every selected tool present at its pinned version; return what was done.
    A dry run prints the builds it would run and writes nothing (no stamp, no lock)."""
    tools_dir = paths.root() / "tools"
    pinned = [(tool, pinned_version(tool, pins, tools_dir)) for tool in select(names)]
    plans = [(tool, version, input_key(tool, version, tools_dir)) for tool, version in pinned]
    stamp = read_stamp()
    if not force and all(up_to_date(tool, key, stamp) for tool, _v, key in plans):
        return [Outcome(tool.name, version, "up to date") for tool, version, _k in plans]
    guard = (
        contextlib.nullcontext()
        if dry_run
        else lock.exclusive(
            stamp_file().with_name("install.lock"),
            wait=BUILD_TIMEOUT,
            what="tools.install",
            notify=report,
        )
    )
    with guard:  # two installs at once would race on the same binaries
        return [
            _ensure(tool, version, key, force, tools_dir, report, dry_run)
            for tool, version, key in plans
        ]


def _ensure(
    tool: GoTool,
    version: str,
    key: str,
    force: bool,
    tools_dir: Path,
    report: Notify,
    dry_run: bool,
) -> Outcome:
    stamp = read_stamp()  # re-read: a concurrent install may have just built it
    if not force and up_to_date(tool, key, stamp):
        return Outcome(tool.name, version, "up to date")
    if dry_run:
        report(f"{tool.name} {version}: would build from tools/{tool.module_dir}")
        shell.run(tool.argv(version, paths.tools_bin() / tool.name), mutates=True, dry_run=True)
        return Outcome(tool.name, version, "would build")
    outcome = _provide(tool, version, tools_dir, report)
    if outcome.action in ("built", "linked"):
        source = {
            "source": outcome.action,
            "path": outcome.path if outcome.action == "linked" else "",
        }
        stamp[tool.name] = {"version": version, "key": key, **source}
        _write_stamp(stamp)
    return outcome


def _provide(tool: GoTool, version: str, tools_dir: Path, report: Notify) -> Outcome:
    target = paths.tools_bin() / tool.name
    found = on_path(tool, version)
    if found is not None:
        target.parent.mkdir(parents=True, exist_ok=True)
        target.unlink(missing_ok=True)
        target.symlink_to(found)
        report(f"{tool.name} {version}: using {found} (already on PATH)")
        return Outcome(tool.name, version, "linked", path=found)
    report(f"{tool.name} {version}: building from tools/{tool.module_dir} ...")
    started = time.monotonic()
    _build(tool, version, tools_dir, target, report)
    seconds = time.monotonic() - started
    got = reported_version(tool.name, str(target))
    if got != tool.release(version):
        target.unlink(missing_ok=True)
        raise OpsError(
            f"built {tool.name} reports version {got}, expected {version}",
            f"check the version ldflags of {tool.name} in opskit/toolchain/build.py",
        )
    report(f"{tool.name} {version}: built in {_elapsed(seconds)}")
    return Outcome(tool.name, version, "built", seconds, str(target))


def _build(tool: GoTool, version: str, tools_dir: Path, target: Path, report: Notify) -> None:
    """go build into a temporary name, then rename: an interrupted build leaves nothing."""
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{tool.name}.partial")
    done = threading.Event()
    started = time.monotonic()

    def heartbeat() -> None:
        while not done.wait(HEARTBEAT_SECONDS):
            report(f"{tool.name}: still building ({_elapsed(time.monotonic() - started)})")

    ticker = threading.Thread(target=heartbeat, daemon=True)
    ticker.start()
    try:
        shell.run(
            tool.argv(version, partial),
            cwd=str(tools_dir / tool.module_dir),
            env=tool.env(),
            mutates=True,
            timeout=BUILD_TIMEOUT,
            hint=f"the Go build of {tool.name} failed; `go version` must be at least "
            f"the `go` line of tools/{tool.module_dir}/go.mod",
        )
        os.replace(partial, target)
    finally:
        done.set()
        partial.unlink(missing_ok=True)


def _elapsed(seconds: float) -> str:
    minutes, rest = divmod(round(seconds), 60)
    return f"{minutes}m{rest:02d}s" if minutes else f"{seconds:.1f}s"
