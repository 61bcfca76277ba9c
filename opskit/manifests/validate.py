"""Validate rendered manifests: strict schemas + the platform's policies, all problems at once.

Schemas of built-in kinds are the OpenAPI definitions of the Kubernetes minor version in
opskit.yaml, as shipped (offline) by the `kubernetes-validate` package in its
`v<minor>.0-local-strict` folder (every object definition has additionalProperties: false).
They are walked here directly: one JSON load, no per-kind files, kubectl-style paths.
CRD kinds this repo uses get a hand-written schema of the fields it relies on
(opskit/manifests/policies/crds.py).
Every problem is one line: `<target>/<Kind>/<name>: <path>: <message>`.
"""

from __future__ import annotations

import functools
import importlib.util
import json
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from opskit.core.errors import OpsError
from opskit.manifests.policies import crds
from opskit.manifests.target import Target

if TYPE_CHECKING:
    from opskit.core.config import Config, Overlay

SCHEMA_PACKAGE = "kubernetes-validate"
Problem = tuple[str, str]  # (path, message)


@dataclass(frozen=True, order=True)
class Violation:
    origin: str  # overlay name, "argocd", or a file path for problems found in git
    kind: str
    name: str
    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.origin}/{self.kind}/{self.name}: {self.path}: {self.message}"


@dataclass
class Report:
    targets: list[str]
    objects: int = 0
    violations: list[Violation] = field(default_factory=list)


# -- schemas -------------------------------------------------------------------------------

_TYPES: dict[str, type | tuple[type, ...]] = {
    "string": str,
    "object": dict,
    "array": list,
    "boolean": bool,
    "integer": int,
    "number": (int, float),
}


class Schemas:
    """Definitions of one Kubernetes version, by (apiVersion, kind)."""

    def __init__(self, version: str, definitions: dict[str, dict]) -> None:
        self.version = version
        self.defs = definitions
        self.kinds: dict[tuple[str, str], dict] = {}
        for schema in definitions.values():
            for gvk in schema.get("x-kubernetes-group-version-kind", ()):
                api = f"{gvk['group']}/{gvk['version']}" if gvk["group"] else gvk["version"]
                self.kinds.setdefault((api, gvk["kind"]), schema)

    def check(self, obj: dict) -> list[Problem]:
        key = (str(obj.get("apiVersion")), str(obj.get("kind")))
        schema = self.kinds.get(key) or crds.SCHEMAS.get(key)
        if schema is None:
            return [
                (
                    "apiVersion",
                    f"no schema for {key[0]} {key[1]} in Kubernetes "
                    f"{self.version} or the CRDs this repo uses",
                )
            ]
        problems: list[Problem] = []
        self._walk(schema, obj, "", problems)
        return problems

    def _walk(self, schema: dict, value: Any, path: str, out: list[Problem]) -> None:
        while "$ref" in schema:
            schema = self.defs[schema["$ref"].rsplit("/", 1)[1]]
        choices = schema.get("oneOf") or [schema]
        allowed = [t for s in choices for t in _as_list(s.get("type"))]
        if allowed and not any(_is_type(value, t) for t in allowed):
            wanted = " or ".join(dict.fromkeys(t for t in allowed if t != "null"))
            out.append((path or "(object)", f"expected {wanted}, got {_type_name(value)}"))
            return
        if "enum" in schema and value is not None and value not in schema["enum"]:
            out.append((path, f'"{value}" is not one of: {", ".join(map(str, schema["enum"]))}'))
        if isinstance(value, dict):
            self._walk_mapping(schema, value, path, out)
        elif isinstance(value, list) and "items" in schema:
            for index, item in enumerate(value):
                self._walk(schema["items"], item, f"{path}[{index}]", out)

    def _walk_mapping(self, schema: dict, value: dict, path: str, out: list[Problem]) -> None:
        properties = schema.get("properties", {})
        extra = schema.get("additionalProperties")
        for name in schema.get("required", ()):
            if value.get(name) is None:
                out.append((_join(path, name), "required field is missing"))
        for key, item in value.items():
            where = _join(path, str(key))
            if key in properties:
                self._walk(properties[key], item, where, out)
            elif extra is False:
                out.append((where, f'unknown field "{key}"'))
            elif isinstance(extra, dict):
                self._walk(extra, item, where, out)


def _as_list(value: Any) -> list[str]:
    return value if isinstance(value, list) else [value] if value else []


def _is_type(value: Any, name: str) -> bool:
    if name == "null":
        return value is None
    return isinstance(value, _TYPES[name]) and not (isinstance(value, bool) and name != "boolean")


def _type_name(value: Any) -> str:
    names = {
        dict: "object",
        list: "array",
        str: "string",
        bool: "boolean",
        int: "integer",
        float: "number",
        type(None): "null",
    }
    return names.get(type(value), type(value).__name__)


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def schema_folder(version: str) -> Path:
    """The strict schema folder of `version`'s minor release inside kubernetes-validate."""
    minor = ".".join(version.lstrip("v").split(".")[:2])
    spec = importlib.util.find_spec("kubernetes_validate")  # found, not imported: it is slow
    if spec is None or not spec.submodule_search_locations:
        raise OpsError(
            f"the {SCHEMA_PACKAGE} package (Kubernetes schemas) is not installed",
            "run `pip install -e .` in the project's virtualenv",
        )
    base = Path(spec.submodule_search_locations[0]) / "kubernetes-json-schema"
    folder = base / f"v{minor}.0-local-strict"
    if not folder.is_dir():
        have = sorted(p.name.split("-")[0] for p in base.glob("v*-local-strict"))
        raise OpsError(
            f"{SCHEMA_PACKAGE} has no schemas for Kubernetes {minor} (it has {', '.join(have)})",
            "change kubernetes.version in opskit.yaml or upgrade kubernetes-validate",
        )
    return folder


@functools.cache
def load_schemas(version: str) -> Schemas:
    data = json.loads((schema_folder(version) / "_definitions.json").read_bytes())
    return Schemas(".".join(version.lstrip("v").split(".")[:2]), data["$defs"])


# -- running the checks ----------------------------------------------------------------------


def check_target(
    cfg: Config, target: Target, objects: list[dict], schemas: Schemas | None = None
) -> list[Violation]:
    """Schema and policy problems of one target's objects."""
    from opskit.manifests.policies import checks

    schemas = schemas or load_schemas(cfg.kubernetes.version)
    found = []
    for obj in objects:
        for path, message in [*schemas.check(obj), *checks.check_object(cfg, target, obj)]:
            found.append(_violation(target.name, obj, path, message))
    for obj, path, message in checks.check_together(cfg, target, objects):
        found.append(_violation(target.name, obj, path, message))
    return found


def _violation(origin: str, obj: dict, path: str, message: str) -> Violation:
    name = (obj.get("metadata") or {}).get("name", "?")
    return Violation(origin, str(obj.get("kind", "?")), str(name), path, message)


def schema_problems(cfg: Config, overlay: Overlay, objects: list[dict]) -> list[str]:
    """Schema problems, and a namespace other than the overlay's, for the decrypted Secrets
    (which kustomize does not render, so nothing set their namespace, and policies do not
    apply to): the apply would write one without a namespace into the context's default."""
    schemas = load_schemas(cfg.kubernetes.version)
    found = [
        _violation(overlay.name, obj, path, message)
        for obj in objects
        for path, message in schemas.check(obj)
    ]
    for obj in objects:
        namespace = (obj.get("metadata") or {}).get("namespace")
        if namespace != overlay.namespace:
            where = f"is {namespace}" if namespace else "is not set"
            message = f"{where}; a Secret of {overlay.name} names {overlay.namespace}"
            found.append(_violation(overlay.name, obj, "metadata.namespace", message))
    return [str(v) for v in found]


def validate_objects(cfg: Config, overlay: Overlay, objects: list[dict]) -> list[str]:
    """Problems of one rendered overlay, one line each (empty: valid)."""
    return [str(v) for v in check_target(cfg, Target.of(overlay), objects)]


def validate_all(cfg: Config, names: list[str] | None = None) -> Report:
    """Render and check the named overlays (default: every overlay, plus k8s/argocd), and
    scan all of k8s/ for Secrets in plaintext."""
    from opskit.manifests import kustomize
    from opskit.manifests.policies import checks

    overlays = [cfg.overlay(n) for n in names] if names else list(cfg.overlays.values())
    with ThreadPoolExecutor(max_workers=2) as pool:  # Python work while kustomize runs
        schemas = pool.submit(load_schemas, cfg.kubernetes.version)
        scanned = pool.submit(lambda: list(checks.scan_tree(cfg.root, cfg.root / "k8s")))
        rendered = kustomize.render_many(cfg, overlays)
        loaded = schemas.result()
    targets = [(Target.of(ov), rendered[ov.name]) for ov in overlays]
    if not names and cfg.argocd is not None:
        targets.append((Target("argocd", cfg.argocd.namespace), argocd_objects(cfg)))
    report = Report([t.name for t, _ in targets])
    for target, objects in targets:
        report.objects += len(objects)
        report.violations += check_target(cfg, target, objects, loaded)
    report.violations += [Violation(*found) for found in scanned.result()]
    return report


def argocd_objects(cfg: Config, folder: Path | None = None) -> list[dict]:
    """The ArgoCD objects of `folder` (default: what the committed root renders, k8s/platform),
    read from the files its kustomization lists, a listed folder through its own (they
    transform nothing; tests/manifests checks this equals `kubectl kustomize`)."""
    from opskit.core import yamlio
    from opskit.manifests import kustomize

    folder = folder or kustomize.rendered_folder(cfg.root)
    kustomization = yamlio.load_file(folder / "kustomization.yaml")
    objects: list[dict] = []
    for name in kustomization.get("resources", []):
        path = (folder / name).resolve()
        objects += argocd_objects(cfg, path) if path.is_dir() else yamlio.load_file_all(path)
    return objects
