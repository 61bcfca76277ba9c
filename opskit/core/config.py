"""Load opskit.yaml into frozen dataclasses; every mistake is one line naming file and key."""

from __future__ import annotations

import dataclasses
import os
import re
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from opskit.core import args, paths
from opskit.core.errors import ConfigError, OpsError

# the one list of cluster providers (opskit/clusters/ has a module for each but auto)
Provider = Literal["auto", "kwok", "k3d", "minikube"]
PROVIDERS: tuple[str, ...] = typing.get_args(Provider)
# the embedded cluster's node: real where this machine runs containers (auto), or not
NodeMode = Literal["auto", "real", "simulated"]
NODE_MODES: tuple[str, ...] = typing.get_args(NodeMode)


def _checked(parse: Any, default: Any) -> Any:
    """A field whose loaded value goes through `parse(value, key)` (an opskit.core.args parser).
    A required one is `field(metadata={"parse": parse})`: written out, type checkers see it has
    no default."""
    return field(default=default, metadata={"parse": parse})


@dataclass(frozen=True)
class Project:
    name: str
    repo_url: str
    revision: str = "main"


@dataclass(frozen=True)
class App:
    name: str = field(metadata={"parse": args.k8s_name})
    image: str = ""  # the repository of images[name] (legacy spelling: app.image)
    port: int = _checked(args.port, 4000)
    tag_length: int = _checked(args.bounded(7, 40), 12)
    context: str = "app"


@dataclass(frozen=True)
class Image:
    """An image built from this repository and tagged by commit, like the app's."""

    name: str
    repository: str
    context: str


@dataclass(frozen=True)
class Kubernetes:
    """The one Kubernetes release of the project: tools/kube, schemas, k3s image, CI kubectl."""

    version: str  # X.Y.Z

    @property
    def minor(self) -> str:
        return ".".join(self.version.split(".")[:2])


@dataclass(frozen=True)
class Kwok:
    apiserver_port: int = _checked(args.port_or_free, 0)
    node: NodeMode = "auto"  # $OPSKIT_KWOK_NODE overrides

    @property
    def node_mode(self) -> str:
        """cluster.kwok.node, or $OPSKIT_KWOK_NODE when set (checked like the key)."""
        value = os.environ.get("OPSKIT_KWOK_NODE") or self.node
        return args.choice(value, "OPSKIT_KWOK_NODE", NODE_MODES)


@dataclass(frozen=True)
class K3d:
    version: str = "v5.9.0"  # installed by CI (ci/_lib.sh); a user installs k3d themselves
    registry_port: int = _checked(args.port, 5000)
    http_port: int = _checked(args.port, 8080)
    https_port: int = _checked(args.port, 8443)


@dataclass(frozen=True)
class Minikube:
    version: str = "v1.38.1"  # the minikube the suite is checked against (doctor says so)
    # the newest Kubernetes that minikube knows (pkg/minikube/constants NewestKubernetesVersion):
    # a newer one makes `minikube start` ask GitHub, and exit without a network
    kubernetes: str = "1.35.1"
    driver: str = "docker"
    cpus: int = _checked(args.positive_int, 2)
    memory: int = _checked(args.positive_int, 4096)  # MiB


@dataclass(frozen=True)
class Cluster:
    provider: Provider = "auto"
    name: str = _checked(args.cluster_name, "gitops-lab")
    nodes: int = _checked(args.positive_int, 1)
    kwok: Kwok = field(default_factory=Kwok)
    k3d: K3d = field(default_factory=K3d)
    minikube: Minikube = field(default_factory=Minikube)


@dataclass(frozen=True)
class Overlay:
    name: str
    path: Path
    namespace: str = field(metadata={"parse": args.dns_label})
    hosts: tuple[str, ...]
    contexts: tuple[str, ...]
    protected: bool = False
    missing_api: Literal["warn", "fail"] = "warn"


@dataclass(frozen=True)
class ArgoCD:
    version: str
    namespace: str = "argocd"
    # how the embedded cluster's local controller polls git (opskit/clusters/argocd_local.py): fast
    # (resync 10 s, refs cached 5 s) or upstream (ArgoCD's defaults; the bench compares them)
    local_polling: Literal["fast", "upstream"] = "fast"


@dataclass(frozen=True)
class Monitoring:
    chart: str
    version: str
    namespace: str = "monitoring"
    release: str = "kps"
    repo_url: str = "https://prometheus-community.github.io/helm-charts"


@dataclass(frozen=True)
class Config:
    root: Path
    project: Project
    app: App
    kubernetes: Kubernetes
    overlays: dict[str, Overlay]
    cluster: Cluster = field(default_factory=Cluster)
    argocd: ArgoCD | None = None
    monitoring: Monitoring | None = None
    tools: dict[str, str] = field(default_factory=dict)
    images: dict[str, Image] = field(default_factory=dict)  # the app's first

    def tool_pins(self) -> dict[str, str]:
        """`tools:` plus tools/kube's pin, which is kubernetes.version (named once)."""
        return {**self.tools, "kubernetes": f"v{self.kubernetes.version}"}

    def require_argocd(self) -> ArgoCD:
        """The argocd: section, or a one-line error saying how to add it."""
        if self.argocd is None:
            raise self._missing("argocd", "version: vX.Y.Z  # = tools.argocd")
        return self.argocd

    def require_monitoring(self) -> Monitoring:
        """The monitoring: section, or a one-line error saying how to add it."""
        if self.monitoring is None:
            raise self._missing("monitoring", "chart: kube-prometheus-stack, version: X.Y.Z")
        return self.monitoring

    def _missing(self, section: str, example: str) -> ConfigError:
        return ConfigError(
            f"{self.root / paths.CONFIG_NAME}: {section}: missing section",
            f"add `{section}:` with `{example}` (the repository's opskit.yaml has one)",
        )

    def overlay(self, name: str) -> Overlay:
        """The named overlay, or a one-line error listing the known ones."""
        if name not in self.overlays:
            known = ", ".join(sorted(self.overlays))
            raise ConfigError(
                f"{self.root / paths.CONFIG_NAME}: overlays: unknown overlay {name!r}",
                f"use one of: {known}",
            )
        return self.overlays[name]


def load(path: Path | str | None = None) -> Config:
    """Read and validate opskit.yaml (default: the project root's)."""
    from opskit.core import yamlio

    file = Path(path) if path else paths.root() / paths.CONFIG_NAME
    if not file.exists():
        raise ConfigError(f"{file}: not found", "run from the repository or set OPSKIT_ROOT")
    try:
        raw = yamlio.load_file(file) or {}
    except OpsError as exc:
        raise ConfigError(exc.message, exc.hint) from None
    reader = _Reader(file)
    data = reader.mapping(raw, "")
    if not data.get("overlays"):
        raise ConfigError(f"{file}: overlays: missing key", "define at least one overlay")
    overlays = {
        name: reader.build(
            Overlay, reader.mapping(ov, f"overlays.{name}"), f"overlays.{name}", name=str(name)
        )
        for name, ov in reader.mapping(data.pop("overlays", None), "overlays").items()
    }
    for ov in overlays.values():
        object.__setattr__(ov, "path", (file.parent / ov.path).resolve())
    raw_images = data.pop("images", None)
    if "root" in data:
        reader.fail("root", "unknown key", "remove it: the root is the folder of opskit.yaml")
    _check_kubernetes(reader, data)
    cfg = reader.build(Config, data, "", root=file.parent, overlays=overlays, images={})
    images = _images(reader, cfg.app, raw_images)  # after app: its name is checked first
    object.__setattr__(cfg, "images", images)
    object.__setattr__(cfg.app, "image", images[cfg.app.name].repository)
    object.__setattr__(cfg.app, "context", images[cfg.app.name].context)
    return cfg


def _images(reader: _Reader, app: App, raw: Any) -> dict[str, Image]:
    """`images:` (name -> repository, context), the app's first; without it, the app's alone.
    $OPSKIT_IMAGE (the app's) and $OPSKIT_IMAGE_<NAME> override a repository (a CI registry)."""
    name = app.name
    if raw is None:
        raw = {name: {"repository": app.image or None, "context": app.context}}
    entries = reader.mapping(raw, "images")
    if name not in entries:
        reader.fail("images", f"no entry for the app {name!r}", f"add `images: {{{name}: ...}}`")
    images = {}
    for key in sorted(entries, key=lambda k: k != name):
        fields = reader.mapping(entries[key], f"images.{key}")
        override = os.environ.get(f"OPSKIT_IMAGE_{key.upper().replace('-', '_')}")
        if key == name:
            override = os.environ.get("OPSKIT_IMAGE") or override
        if override:  # CI pushes to its own registry
            fields["repository"] = override
        images[key] = reader.build(Image, fields, f"images.{key}", name=str(key))
    return images


def _check_kubernetes(reader: _Reader, data: dict) -> None:
    """kubernetes.version is X.Y.Z and the only place naming the Kubernetes release."""
    version = (data.get("kubernetes") or {}).get("version") if isinstance(data, dict) else None
    if isinstance(version, str) and not re.fullmatch(r"\d+\.\d+\.\d+", version):
        reader.fail("kubernetes.version", f"{version!r} is not X.Y.Z", 'write e.g. "1.37.2"')
    if "kubernetes" in (data.get("tools") or {}):
        reader.fail(
            "tools.kubernetes",
            "the Kubernetes release is named once, in kubernetes.version",
            "remove tools.kubernetes (tools/kube is built at kubernetes.version)",
        )


class _Reader:
    """Builds dataclasses from plain YAML data, strictly: unknown, missing, wrong type."""

    def __init__(self, file: Path) -> None:
        self.file = file

    def fail(self, key: str, message: str, hint: str) -> typing.NoReturn:
        raise ConfigError(f"{self.file}: {key or '(top level)'}: {message}", hint)

    def mapping(self, value: Any, key: str) -> dict:
        if not isinstance(value, dict):
            self.fail(
                key, f"expected a mapping, got {_kind(value)}", "write it as `key: value` lines"
            )
        return dict(value)

    def build(self, cls: type, data: dict, key: str, **ready: Any) -> Any:
        """A `cls` from `data`; `ready` holds fields already built by the caller."""
        hints = typing.get_type_hints(cls)
        fields = {f.name: f for f in dataclasses.fields(cls) if f.name not in ready}
        unknown = sorted(set(data) - set(fields))
        if unknown:
            where = f"{key}.{unknown[0]}" if key else unknown[0]
            self.fail(where, "unknown key", f"allowed keys: {', '.join(fields)}")
        values = {}
        for name, spec in fields.items():
            where = f"{key}.{name}" if key else name
            if name in data:
                values[name] = self.convert(data[name], hints[name], where)
                if parse := spec.metadata.get("parse"):
                    values[name] = self.checked(parse, values[name], where)
            elif (
                spec.default is dataclasses.MISSING and spec.default_factory is dataclasses.MISSING
            ):
                self.fail(where, "missing key", f"add `{name}:` ({_describe(hints[name])})")
        return cls(**values, **ready)

    def checked(self, parse: Any, value: Any, where: str) -> Any:
        try:
            return parse(value, where)
        except OpsError as exc:
            raise ConfigError(f"{self.file}: {exc.message}", exc.hint) from None

    def convert(self, value: Any, kind: Any, where: str) -> Any:
        origin, args = typing.get_origin(kind), typing.get_args(kind)
        if origin in (typing.Union, types.UnionType):
            if value is None and type(None) in args:
                return None
            kind = next(a for a in args if a is not type(None))
            return self.convert(value, kind, where)
        if isinstance(kind, type) and dataclasses.is_dataclass(kind):
            return self.build(kind, self.mapping(value, where), where)
        if origin is Literal:
            if value not in args:
                self.fail(where, f"{value!r} is not allowed", f"use one of: {', '.join(args)}")
            return value
        return self.container(value, kind, where) if origin else self.scalar(value, kind, where)

    def container(self, value: Any, kind: Any, where: str) -> Any:
        if typing.get_origin(kind) is dict:
            return {str(k): str(v) for k, v in self.mapping(value, where).items()}
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            self.fail(where, f"expected a list of strings, got {_kind(value)}", "write `[a, b]`")
        return tuple(value)

    def scalar(self, value: Any, kind: Any, where: str) -> Any:
        expected = str if kind is Path else kind
        if not isinstance(value, expected) or (expected is int and isinstance(value, bool)):
            self.fail(
                where,
                f"expected {_describe(kind)}, got {_kind(value)}",
                f"write a {_describe(kind)}",
            )
        return value


def _kind(value: Any) -> str:
    return {
        dict: "a mapping",
        list: "a list",
        str: "a string",
        bool: "a boolean",
        int: "a number",
        float: "a number",
        type(None): "nothing",
    }.get(type(value), "a value")


def _describe(kind: Any) -> str:
    names = {str: "string", int: "integer", bool: "true/false", Path: "path"}
    if kind in names:
        return names[kind]
    if typing.get_origin(kind) is Literal:
        return "one of " + ", ".join(typing.get_args(kind))
    return "mapping" if dataclasses.is_dataclass(kind) else str(kind)
