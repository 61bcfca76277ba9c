"""The platform's policies for rendered objects, and the scan of k8s/ for plaintext Secrets.

Each check yields (path, message) for one object; `check_together` looks across the
objects of one target (ServiceMonitor -> Service, Application -> AppProject, opskit.yaml).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from opskit.core.errors import OpsError
from opskit.core.yamlio import load_file_all
from opskit.manifests.kustomize import containers, split_image
from opskit.manifests.policies import crds, network, pods, services

if TYPE_CHECKING:
    from opskit.core.config import Config
    from opskit.manifests.target import Target

Problem = tuple[str, str]
MANAGED_BY = "opskit"
CLUSTER_SCOPED = {
    "Namespace",
    "ClusterRole",
    "ClusterRoleBinding",
    "CustomResourceDefinition",
    "PersistentVolume",
    "StorageClass",
    "IngressClass",
    "PriorityClass",
    "MutatingWebhookConfiguration",
    "ValidatingWebhookConfiguration",
    "APIService",
    "RuntimeClass",
    "CSIDriver",
    "Node",
}
RUN_ONCE = {"Job", "CronJob"}  # no probes expected
SOPS_VALUE = "ENC["


def check_object(cfg: Config, target: Target, obj: dict) -> Iterator[Problem]:
    yield from _labels(cfg, obj)
    yield from _namespace(target, obj)
    if obj.get("kind") == "Secret":
        field = "stringData" if "stringData" in obj and "data" not in obj else "data"
        yield (
            field,
            f"plaintext Secret in the rendered {target.name} manifests; keep Secrets "
            "SOPS-encrypted in the overlay's secrets/ folder (`invoke secrets.encrypt`)",
        )
    for path, container in containers(obj):
        yield from _image(path, container)
        yield from _resources(path, container)
        if ".containers[" in path and obj.get("kind") not in RUN_ONCE:
            yield from _probes(path, container)
            yield from pods.probes_differ(path, container)
    yield from _non_root(obj)
    yield from pods.check(obj)
    if obj.get("kind") == "NetworkPolicy":
        yield from network.check(obj)
    if obj.get("kind") == "Ingress":
        yield from _ingress(target, obj)


def _labels(cfg: Config, obj: dict) -> Iterator[Problem]:
    labels = (obj.get("metadata") or {}).get("labels") or {}
    wanted = {
        "app.kubernetes.io/part-of": cfg.project.name,
        "app.kubernetes.io/managed-by": MANAGED_BY,
    }
    for key, value in wanted.items():
        if labels.get(key) != value:
            yield ("metadata.labels", f"missing {key}: {value}")
    if "app.kubernetes.io/name" not in labels:
        yield ("metadata.labels", "missing app.kubernetes.io/name")


def _namespace(target: Target, obj: dict) -> Iterator[Problem]:
    kind, meta = obj.get("kind"), obj.get("metadata") or {}
    if kind == "Namespace":
        if meta.get("name") != target.namespace:
            yield (
                "metadata.name",
                f'Namespace "{meta.get("name")}" is not this target\'s '
                f'namespace "{target.namespace}"',
            )
    elif kind in CLUSTER_SCOPED:
        yield ("kind", f"cluster-scoped {kind} does not belong in {target.name}")
    elif meta.get("namespace") != target.namespace:
        found = f'is "{meta["namespace"]}"' if meta.get("namespace") else "is missing"
        yield ("metadata.namespace", f'{found}, expected "{target.namespace}"')


def _image(path: str, container: dict) -> Iterator[Problem]:
    ref = str(container.get("image") or "")
    _, tag, digest = split_image(ref)
    if digest:
        return
    if tag is None:
        yield (f"{path}.image", f'"{ref}" has no tag; pin a version tag or a digest')
    elif tag == "latest":
        yield (
            f"{path}.image",
            f'"{ref}" uses the mutable tag latest; pin a version tag or a digest',
        )


def _resources(path: str, container: dict) -> Iterator[Problem]:
    resources = container.get("resources") or {}
    for section in ("requests", "limits"):
        for name in ("cpu", "memory"):
            if (resources.get(section) or {}).get(name) is None:
                yield (
                    f"{path}.resources.{section}.{name}",
                    "missing; every container needs cpu and memory requests and limits",
                )


def _probes(path: str, container: dict) -> Iterator[Problem]:
    for probe in ("livenessProbe", "readinessProbe"):
        if not container.get(probe):
            yield (
                f"{path}.{probe}",
                "missing; every container needs liveness and readiness probes",
            )


def _non_root(obj: dict) -> Iterator[Problem]:
    pod = pods.pod_spec(obj)
    pod_context = pod.get("securityContext") or {}
    for path, container in containers(obj):
        context = container.get("securityContext") or {}
        non_root = context.get("runAsNonRoot", pod_context.get("runAsNonRoot"))
        user = context.get("runAsUser", pod_context.get("runAsUser"))
        if non_root is not True:
            yield (
                f"{path}.securityContext.runAsNonRoot",
                "must be true (on the container or the pod); containers run as non-root",
            )
        if user == 0:
            yield (f"{path}.securityContext.runAsUser", "is 0 (root); use a non-root uid")


def _ingress(target: Target, obj: dict) -> Iterator[Problem]:
    spec = obj.get("spec") or {}
    tls = spec.get("tls") or []
    if not tls:
        yield ("spec.tls", "missing; an Ingress serves HTTPS only (use the tls-ingress component)")
    covered: set[str] = set()
    for index, entry in enumerate(tls):
        covered.update(entry.get("hosts") or [])
        if not entry.get("secretName"):
            yield (f"spec.tls[{index}].secretName", "missing; name the certificate Secret")
    hosts = [rule.get("host") for rule in spec.get("rules") or []]
    for index, host in enumerate(hosts):
        if tls and host not in covered:
            yield (f"spec.rules[{index}].host", f'"{host}" has no entry in spec.tls')
    # each host must be one the overlay's certificate is issued for (certs.issue)
    known = target.overlay.hosts if target.overlay is not None else None
    strangers = [h for h in hosts if known is not None and h not in known]
    if known is not None and strangers:
        yield (
            "spec.rules",
            f"hosts {', '.join(map(str, strangers))} not in "
            f"overlays.{target.name}.hosts in opskit.yaml ({', '.join(known)})",
        )


# -- across objects ------------------------------------------------------------------------


def check_together(
    cfg: Config, target: Target, objects: list[dict]
) -> Iterator[tuple[dict, str, str]]:
    service_objects = [o for o in objects if o.get("kind") == "Service"]
    for obj in objects:
        if obj.get("kind") == "ServiceMonitor":
            yield from ((obj, p, m) for p, m in crds.check_service_monitor(obj, service_objects))
    if target.name == "argocd":
        yield from crds.check_argocd(cfg, objects)
    else:
        yield from network.check_together(objects)
    yield from services.check_selectors(target, objects)


# -- files in git --------------------------------------------------------------------------


def scan_tree(root: Path, folder: Path) -> Iterator[tuple[str, str, str, str, str]]:
    """(file, kind, name, path, message) for every Secret in plaintext under `folder`."""
    for file in sorted([*folder.rglob("*.yaml"), *folder.rglob("*.yml")]):
        origin = str(file.relative_to(root))
        try:
            documents = load_file_all(file)
        except OpsError:  # a YAML error: kustomize and yamllint report it in detail
            yield (origin, "File", file.name, "(file)", "invalid YAML; run yamllint on it")
            continue
        for doc in documents:
            if isinstance(doc, dict):
                name = str((doc.get("metadata") or {}).get("name", file.stem))
                kind = str(doc.get("kind", "?"))
                for path, message in _plaintext(file, doc):
                    yield (origin, kind, name, path, message)


def _plaintext(file: Path, doc: dict) -> Iterator[Problem]:
    kind = doc.get("kind")
    encrypted = isinstance(doc.get("sops"), dict)
    if kind == "Secret" and not encrypted:
        yield ("data", "plaintext Secret in git; encrypt it with `invoke secrets.encrypt`")
    elif file.name.endswith((".sops.yaml", ".sops.yml")) and not encrypted:
        yield ("sops", "missing: the file is not SOPS-encrypted (`invoke secrets.encrypt`)")
    if encrypted:
        yield from _unencrypted_values(doc)
    if kind in {"Kustomization", "Component"} and doc.get("secretGenerator"):
        yield (
            "secretGenerator",
            "makes a plaintext Secret from files in git; use SOPS "
            "files in the overlay's secrets/ folder",
        )
    if kind == "ksops":
        for index, name in enumerate(doc.get("files") or []):
            if not (file.parent / name).is_file():
                yield (
                    f"files[{index}]",
                    f"{name} does not exist (`invoke secrets.encrypt` creates it)",
                )


def _unencrypted_values(doc: dict) -> Iterator[Problem]:
    for section in ("data", "stringData"):
        for key, value in (doc.get(section) or {}).items():
            if not str(value).startswith(SOPS_VALUE):
                yield (f"{section}.{key}", "value is not encrypted")
