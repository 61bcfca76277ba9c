"""Pod-level policies: the restricted Pod Security level and then some, probes that differ,
ephemeral-storage bounds, and replicas spread over nodes.

Each check yields (path, message) for one workload object (Deployment, StatefulSet, ...).
"""

from __future__ import annotations

from collections.abc import Iterator

from opskit.manifests.kustomize import containers

Problem = tuple[str, str]
PROBE_HANDLERS = ("exec", "httpGet", "tcpSocket", "grpc")
SECCOMP_OK = {"RuntimeDefault", "Localhost"}
ADDABLE_CAPABILITIES = {"NET_BIND_SERVICE"}  # the only one the restricted level allows
HOST_NAMESPACES = ("hostNetwork", "hostPID", "hostIPC")
SPREAD_KINDS = {"Deployment", "StatefulSet"}


def pod_spec(obj: dict) -> dict:
    """The pod template's spec of a workload (the spec itself for a Pod)."""
    spec = obj.get("spec") or {}
    if obj.get("kind") == "CronJob":
        spec = (spec.get("jobTemplate") or {}).get("spec") or {}
    return spec if obj.get("kind") == "Pod" else (spec.get("template") or {}).get("spec") or {}


def pod_path(obj: dict) -> str:
    return {"Pod": "spec", "CronJob": "spec.jobTemplate.spec.template.spec"}.get(
        str(obj.get("kind")), "spec.template.spec"
    )


def check(obj: dict) -> Iterator[Problem]:
    pod = pod_spec(obj)
    if not pod:
        return
    yield from _host_access(obj, pod)
    for path, container in containers(obj):
        yield from _restricted(path, container, pod)
        yield from _ephemeral_storage(path, container)
    for index, volume in enumerate(pod.get("volumes") or []):
        empty_dir = volume.get("emptyDir")
        if isinstance(empty_dir, dict) and not empty_dir.get("sizeLimit"):
            yield (
                f"{pod_path(obj)}.volumes[{index}].emptyDir.sizeLimit",
                "missing; bound every emptyDir (it is node disk or memory)",
            )
    yield from _spread(obj, pod)


def _host_access(obj: dict, pod: dict) -> Iterator[Problem]:
    for name in HOST_NAMESPACES:
        if pod.get(name):
            yield (f"{pod_path(obj)}.{name}", "must not be true (restricted Pod Security)")
    for index, volume in enumerate(pod.get("volumes") or []):
        if "hostPath" in volume:
            yield (
                f"{pod_path(obj)}.volumes[{index}].hostPath",
                "not allowed (restricted Pod Security); use an emptyDir or a PVC",
            )


def _restricted(path: str, container: dict, pod: dict) -> Iterator[Problem]:
    """The restricted Pod Security level, plus a read-only root filesystem."""
    context = container.get("securityContext") or {}
    pod_context = pod.get("securityContext") or {}
    where = f"{path}.securityContext"
    if context.get("privileged"):
        yield (f"{where}.privileged", "must not be true")
    if context.get("allowPrivilegeEscalation") is not False:
        yield (f"{where}.allowPrivilegeEscalation", "must be false")
    capabilities = context.get("capabilities") or {}
    if "ALL" not in (capabilities.get("drop") or []):
        yield (f"{where}.capabilities.drop", "must contain ALL")
    extra = sorted(set(capabilities.get("add") or []) - ADDABLE_CAPABILITIES)
    if extra:
        yield (
            f"{where}.capabilities.add",
            f"{', '.join(extra)} not allowed; only NET_BIND_SERVICE",
        )
    seccomp = (context.get("seccompProfile") or pod_context.get("seccompProfile") or {}).get("type")
    if seccomp not in SECCOMP_OK:
        yield (
            f"{where}.seccompProfile.type",
            "must be RuntimeDefault (on the container or the pod)",
        )
    if context.get("readOnlyRootFilesystem") is not True:
        yield (
            f"{where}.readOnlyRootFilesystem",
            "must be true; mount an emptyDir where the image writes (e.g. /tmp)",
        )


def _ephemeral_storage(path: str, container: dict) -> Iterator[Problem]:
    resources = container.get("resources") or {}
    for section in ("requests", "limits"):
        if (resources.get(section) or {}).get("ephemeral-storage") is None:
            yield (
                f"{path}.resources.{section}.ephemeral-storage",
                "missing; bound the container's logs and writable layer",
            )


def probes_differ(path: str, container: dict) -> Iterator[Problem]:
    """A readiness check that fails under load must not also restart the container."""
    liveness, readiness = container.get("livenessProbe"), container.get("readinessProbe")
    if not liveness or not readiness:
        return
    if _handler(liveness) == _handler(readiness):
        yield (
            f"{path}.livenessProbe",
            "is the same check as readinessProbe: a busy container would be restarted; "
            "make liveness a cheaper, more patient check",
        )


def _handler(probe: dict) -> dict:
    return {key: probe[key] for key in PROBE_HANDLERS if key in probe}


def _spread(obj: dict, pod: dict) -> Iterator[Problem]:
    """Replicas on one node make a PodDisruptionBudget meaningless."""
    replicas = (obj.get("spec") or {}).get("replicas", 1)
    if obj.get("kind") not in SPREAD_KINDS or not isinstance(replicas, int) or replicas < 2:
        return
    labels = ((obj["spec"].get("template") or {}).get("metadata") or {}).get("labels") or {}
    if not any(_selects(selector, labels) for selector in _spread_selectors(pod)):
        yield (
            pod_path(obj),
            f"{replicas} replicas without topologySpreadConstraints or podAntiAffinity on "
            "kubernetes.io/hostname selecting its own pods; spread them over nodes",
        )


def _spread_selectors(pod: dict) -> Iterator[dict]:
    for constraint in pod.get("topologySpreadConstraints") or []:
        if constraint.get("topologyKey") == "kubernetes.io/hostname":
            yield constraint.get("labelSelector") or {}
    anti = (pod.get("affinity") or {}).get("podAntiAffinity") or {}
    terms = list(anti.get("requiredDuringSchedulingIgnoredDuringExecution") or [])
    for preferred in anti.get("preferredDuringSchedulingIgnoredDuringExecution") or []:
        terms.append(preferred.get("podAffinityTerm") or {})
    for term in terms:
        if term.get("topologyKey") == "kubernetes.io/hostname":
            yield term.get("labelSelector") or {}


def _selects(selector: dict, labels: dict) -> bool:
    match = selector.get("matchLabels") or {}
    return bool(match) and all(labels.get(k) == v for k, v in match.items())
