"""The CRD kinds this repo uses: their schemas, and checks of how they refer to the rest.

Not the whole CRDs (they are not installed where validation runs): the fields this repo
writes, strict (additionalProperties: false) at the levels it writes, with the real CRD
field names at those levels so a typo is caught and a valid field is not refused.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from opskit.core.config import Config

Problem = tuple[str, str]  # (path, message)


# The CRD kinds this repo uses: strict at the levels it writes (real CRD field names only).
def _obj(props: dict, required: tuple[str, ...] = (), strict: bool = True) -> dict:
    schema: dict = {"type": "object", "properties": props, "required": list(required)}
    if strict:
        schema["additionalProperties"] = False
    return schema


_S, _B, _ANY = {"type": "string"}, {"type": "boolean"}, {"type": "object"}
_STRINGS = {"type": "array", "items": _S}
_LABELS = {"type": "object", "additionalProperties": _S}
_META = _obj(
    {"name": _S, "namespace": _S, "labels": _LABELS, "annotations": _LABELS},
    ("name",),
    strict=False,
)
_SOURCE = _obj(
    {
        "repoURL": _S,
        "targetRevision": _S,
        "path": _S,
        "kustomize": _ANY,
        "helm": _ANY,
        "chart": _S,
        "directory": _ANY,
        "plugin": _ANY,
        "ref": _S,
        "name": _S,
    },
    ("repoURL",),
)
_ENDPOINT = _obj(
    {
        "port": _S,
        "targetPort": {"oneOf": [_S, {"type": "integer"}]},
        "path": _S,
        "scheme": {"enum": ["http", "https"]},
        "interval": _S,
        "scrapeTimeout": _S,
        "honorLabels": _B,
        "relabelings": {"type": "array"},
        "metricRelabelings": {"type": "array"},
        "tlsConfig": _ANY,
    },
    ("port", "path"),
)
_TOP = {"apiVersion": _S, "kind": _S, "metadata": _META}
SCHEMAS: dict[tuple[str, str], dict] = {
    ("monitoring.coreos.com/v1", "ServiceMonitor"): _obj(
        {
            **_TOP,
            "spec": _obj(
                {
                    "selector": _obj(
                        {"matchLabels": _LABELS, "matchExpressions": {"type": "array"}}
                    ),
                    "namespaceSelector": _ANY,
                    "jobLabel": _S,
                    "endpoints": {"type": "array", "items": _ENDPOINT},
                },
                ("selector", "endpoints"),
            ),
        },
        ("spec",),
    ),
    ("argoproj.io/v1alpha1", "Application"): _obj(
        {
            **_TOP,
            "spec": _obj(
                {
                    "project": _S,
                    "source": _SOURCE,
                    "sources": {"type": "array", "items": _SOURCE},
                    "destination": _obj(
                        {"server": _S, "name": _S, "namespace": _S}, ("namespace",)
                    ),
                    "syncPolicy": _obj(
                        {
                            "automated": _obj({"prune": _B, "selfHeal": _B, "allowEmpty": _B}),
                            "syncOptions": _STRINGS,
                            "retry": _ANY,
                            "managedNamespaceMetadata": _ANY,
                        }
                    ),
                    "ignoreDifferences": {"type": "array"},
                    "info": {"type": "array"},
                    "revisionHistoryLimit": {"type": "integer"},
                },
                ("project", "destination"),
            ),
        },
        ("spec",),
    ),
    ("argoproj.io/v1alpha1", "AppProject"): _obj(
        {
            **_TOP,
            "spec": _obj(
                {
                    "description": _S,
                    "sourceRepos": _STRINGS,
                    "destinations": {
                        "type": "array",
                        "items": _obj({"server": _S, "name": _S, "namespace": _S}),
                    },
                    "clusterResourceWhitelist": {
                        "type": "array",
                        "items": _obj({"group": _S, "kind": _S}, ("group", "kind")),
                    },
                    "namespaceResourceWhitelist": {"type": "array"},
                    "namespaceResourceBlacklist": {"type": "array"},
                    "orphanedResources": _ANY,
                    "roles": {"type": "array"},
                    "syncWindows": {"type": "array"},
                    "sourceNamespaces": _STRINGS,
                    "signatureKeys": {"type": "array"},
                },
                ("sourceRepos", "destinations"),
            ),
        },
        ("spec",),
    ),
}


# -- checks across objects ---------------------------------------------------------------


def check_service_monitor(obj: dict, services: list[dict]) -> Iterator[Problem]:
    spec = obj.get("spec") or {}
    wanted = (spec.get("selector") or {}).get("matchLabels") or {}
    chosen = [
        s
        for s in services
        if wanted and wanted.items() <= ((s.get("metadata") or {}).get("labels") or {}).items()
    ]
    if not chosen:
        yield ("spec.selector.matchLabels", "selects no Service of this overlay")
        return
    ports = {p.get("name") for s in chosen for p in (s.get("spec") or {}).get("ports") or []}
    for index, endpoint in enumerate(spec.get("endpoints") or []):
        if endpoint.get("port") not in ports:
            yield (
                f"spec.endpoints[{index}].port",
                f'"{endpoint.get("port")}" is not a port name of the selected Service',
            )


def check_argocd(cfg: Config, objects: list[dict]) -> Iterator[tuple[dict, str, str]]:
    """Applications and AppProjects agree with opskit.yaml; every overlay has one."""
    from opskit.manifests.policies import platform

    projects = {o["metadata"].get("name"): o for o in objects if o.get("kind") == "AppProject"}
    deployed: dict[str, str] = {}
    # project: the repositories and namespaces its Applications should use (what it must allow)
    needs: dict[str | None, tuple[set[str], set[str]]] = {}
    for app in (o for o in objects if o.get("kind") == "Application"):
        project = (app.get("spec") or {}).get("project")
        if project not in projects:
            yield (app, "spec.project", f'AppProject "{project}" is not defined in k8s/argocd')
        repos, namespaces = needs.setdefault(project, ({cfg.project.repo_url}, set()))
        if platform.is_chart_application(app):
            problems = platform.check_monitoring(cfg, app, repos, namespaces)
        else:
            problems = _application(cfg, app, deployed, namespaces)
        for path, message in problems:
            yield (app, path, message)
    for name, overlay in cfg.overlays.items():
        if name not in deployed:
            stub = {"kind": "Application", "metadata": {"name": f"{cfg.project.name}-{name}"}}
            yield (
                stub,
                "spec.sources",
                f"missing: no Application deploys overlay {name} "
                f"({overlay.path.relative_to(cfg.root)})",
            )
    for name, project in projects.items():
        for path, message in _app_project(cfg, project, *needs.get(name, (set(), set()))):
            yield (project, path, message)


def _application(
    cfg: Config, app: dict, deployed: dict[str, str], namespaces: set[str]
) -> Iterator[Problem]:
    spec = app.get("spec") or {}
    key = "sources" if spec.get("sources") else "source"
    sources = spec.get("sources") or [spec.get("source") or {}]
    by_path = {str(ov.path.relative_to(cfg.root)): ov for ov in cfg.overlays.values()}
    overlay = None
    for index, source in enumerate(sources):
        where = f"spec.sources[{index}]" if key == "sources" else "spec.source"
        for field, wanted, name in (
            ("repoURL", cfg.project.repo_url, "project.repo_url"),
            ("targetRevision", cfg.project.revision, "project.revision"),
        ):
            if source.get(field) != wanted:
                yield (
                    f"{where}.{field}",
                    f'is "{source.get(field)}", expected "{wanted}" ({name} in opskit.yaml)',
                )
        path = str(source.get("path") or "")
        if not path or not (cfg.root / path).is_dir():
            yield (f"{where}.path", f'"{path}" is not a folder of this repository')
        overlay = by_path.get(path, overlay)
    if overlay is None:
        yield (f"spec.{key}", "deploys no overlay path of opskit.yaml")
        return
    deployed[overlay.name] = overlay.namespace
    namespaces.add(overlay.namespace)
    namespace = (spec.get("destination") or {}).get("namespace")
    if namespace != overlay.namespace:
        yield ("spec.destination.namespace", f'is "{namespace}", expected "{overlay.namespace}"')
    automated = (spec.get("syncPolicy") or {}).get("automated")
    if overlay.protected and automated is not None:
        yield (
            "spec.syncPolicy.automated",
            f"{overlay.name} is protected in opskit.yaml: it is synced by hand",
        )
    for flag in () if overlay.protected else ("prune", "selfHeal"):
        if (automated or {}).get(flag) is not True:
            yield (
                f"spec.syncPolicy.automated.{flag}",
                f"must be true: {overlay.name} syncs automatically",
            )


def _app_project(
    cfg: Config, project: dict, repos: set[str], namespaces: set[str]
) -> Iterator[Problem]:
    spec = project.get("spec") or {}
    listed = spec.get("sourceRepos") or []
    if cfg.project.repo_url not in listed:
        yield ("spec.sourceRepos", f"does not list {cfg.project.repo_url} (project.repo_url)")
    for repo in sorted(repos - set(listed) - {cfg.project.repo_url}):
        yield ("spec.sourceRepos", f"does not list {repo}, a source of its Applications")
    allowed = {d.get("namespace") for d in spec.get("destinations") or []}
    for namespace in sorted(namespaces - allowed):
        yield ("spec.destinations", f"does not allow namespace {namespace}")
