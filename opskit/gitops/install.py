"""What `argocd.install` applies, from the pinned release in the Go module cache.

The release module (github.com/argoproj/argo-cd/v3 at the pin, the same one tools/argocd
builds) holds manifests/crds, manifests/base/config and manifests/install.yaml; nothing
is fetched from GitHub. Both installs enable kustomize exec plugins, so the overlays'
KSOPS generators render inside the repo-server:
  k3d / minikube    install.yaml with the repo-server given upstream KSOPS (an init
                    container runs `ksops install` into a shared volume: the image is
                    distroless, no shell, no cp) and the age key as a Secret
  embedded cluster  the same install.yaml, KSOPS wiring and Secret, its images replaced by
  with a real node  name with the ones built here (opskit.images.argocd) and pulled only if
                    not present (nothing can be pulled); Ingress health and the API groups
                    the cluster lacks as for the local processes below
  embedded cluster  CRDs + base config; the controllers run as local processes
  (no containers)   (argocd_local), `ksops` is opskit.secrets.ksops, the age key is a file
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import TYPE_CHECKING

import yaml

from opskit.core import paths, shell, yamlio
from opskit.core.errors import OpsError
from opskit.kube.kubectl import Kube, server_side_apply
from opskit.toolchain import build

if TYPE_CHECKING:
    from opskit.core.config import Config

ARGOCD_MODULE = "github.com/argoproj/argo-cd/v3"
ESTABLISHED_TIMEOUT = 60.0
# each resource's health in the Application (off by default since v3): argocd.wait names it
CMD_PARAMS = {"controller.resource.health.persist": "true"}
BUILD_OPTIONS = "--enable-alpha-plugins --enable-exec"
# v4.5.0 added `ksops install <dir>` (ksops.go), which copies itself without a shell
KSOPS_IMAGE = "viaductoss/ksops:v4.5.1"
AGE_SECRET = "sops-age"
AGE_KEY_PATH = "/home/argocd/.config/sops/age"
# kwok has no ingress controller, so no Ingress ever gets an address: ArgoCD would call it
# Progressing forever. Judged Healthy with a message saying why (docs/gitops.md).
# API groups of kinds the overlays use that only an add-on serves (monitoring: the
# Prometheus operator's ServiceMonitor); excluded where the cluster does not serve them.
ADDON_GROUPS = {"monitoring.coreos.com": "monitoring.coreos.com/v1"}
INGRESS_HEALTH = """hs = {}
hs.status = "Healthy"
hs.message = "no ingress controller on the embedded cluster: address not checked"
return hs
"""


def release_dir(version: str) -> Path:
    """The pinned release's source in the Go module cache (downloaded if missing)."""
    argocd = build.select(("argocd",))[0]
    result = shell.run(
        ["go", "mod", "download", "-json", f"{ARGOCD_MODULE}@{version}"],
        cwd=str(paths.root() / "tools" / argocd.module_dir),
        env=argocd.env(),
        timeout=300,
        hint="the Go module proxy must be reachable (the same one tools.install uses)",
    )
    return Path(json.loads(result.stdout)["Dir"])


def _docs(path: Path) -> list[dict]:
    return [d for d in yamlio.load_file_all(path) if isinstance(d, dict)]


def _with_plugins(cm: dict, embedded: bool, absent_groups: tuple[str, ...] = ()) -> dict:
    data = dict(cm.get("data") or {})
    data["kustomize.buildOptions"] = BUILD_OPTIONS
    if embedded:
        data["resource.customizations.health.networking.k8s.io_Ingress"] = INGRESS_HEALTH
    if absent_groups:  # kinds the cluster cannot serve: skipped, with an ArgoCD warning
        exclusions = yamlio.load(data.get("resource.exclusions") or "[]", "argocd-cm") or []
        exclusions.append({"apiGroups": list(absent_groups), "kinds": ["*"], "clusters": ["*"]})
        data["resource.exclusions"] = yaml.safe_dump(exclusions, sort_keys=False)
    return {**cm, "data": data}


def local_objects(release: Path, namespace: str, absent_groups: tuple[str, ...] = ()) -> list[dict]:
    """Namespace, the CRDs and the base config (argocd-cm with exec plugins enabled, and
    the API groups the overlays use but the cluster does not serve excluded)."""
    crd_files = sorted((release / "manifests" / "crds").glob("*-crd.yaml"))
    crds = [d for f in crd_files for d in _docs(f)]
    config_dir = release / "manifests" / "base" / "config"
    config = [d for f in sorted(config_dir.glob("argocd-*.yaml")) for d in _docs(f)]
    config = [
        _with_plugins(d, True, absent_groups) if d["metadata"]["name"] == "argocd-cm" else d
        for d in config
    ]
    for obj in config:
        obj["metadata"]["namespace"] = namespace
    ns = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}}
    return [ns, *crds, *config, default_project(namespace)]


def apply_local(kube: Kube, objects: list[dict], version: str, dry_run: bool) -> None:
    """Apply the objects; the AppProject once its CRD is established (a fresh CRD has no
    conditions yet, which `kubectl wait` takes for an error)."""
    projects = [o for o in objects if o["kind"] == "AppProject"]
    rest = [o for o in objects if o["kind"] != "AppProject"]
    shell.run_step(apply_step(kube, rest, f"ArgoCD {version} CRDs and config"), dry_run=dry_run)
    deadline = time.monotonic() + ESTABLISHED_TIMEOUT
    query = '{.status.conditions[?(@.type=="Established")].status}'
    while not dry_run:
        found = kube.run(
            "get",
            "crd",
            "appprojects.argoproj.io",
            "-o",
            f"jsonpath={query}",
            check=False,
            timeout=30,
        )
        if found.stdout.strip() == "True":
            break
        if time.monotonic() > deadline:
            raise OpsError(
                "the AppProject CRD was not established in time",
                "check the cluster: `invoke cluster.status`",
            )
        time.sleep(0.2)
    shell.run_step(apply_step(kube, projects, "AppProject default"), dry_run=dry_run)


def default_project(namespace: str) -> dict:
    """The `default` AppProject (argocd-server creates it; the embedded install runs none)."""
    anything = [{"group": "*", "kind": "*"}]
    spec = {
        "sourceRepos": ["*"],
        "destinations": [{"server": "*", "namespace": "*"}],
        "clusterResourceWhitelist": anything,
    }
    meta = {"name": "default", "namespace": namespace}
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "AppProject",
        "metadata": meta,
        "spec": spec,
    }


def absent_groups(served: set[str]) -> tuple[str, ...]:
    """The add-on API groups the cluster does not serve (`kube.api_versions`)."""
    return tuple(group for group, version in ADDON_GROUPS.items() if version not in served)


def _ksops_in_repo_server(deployment: dict) -> dict:
    """The repo-server with upstream KSOPS on PATH and the age key mounted."""
    spec = deployment["spec"]["template"]["spec"]
    spec.setdefault("volumes", []).extend(
        [
            {"name": "custom-tools", "emptyDir": {}},
            {"name": "sops-age", "secret": {"secretName": AGE_SECRET}},
        ]
    )
    spec.setdefault("initContainers", []).append(
        {
            "name": "install-ksops",
            "image": KSOPS_IMAGE,
            "command": ["/usr/local/bin/ksops", "install", "/custom-tools"],
            "volumeMounts": [{"mountPath": "/custom-tools", "name": "custom-tools"}],
        }
    )
    server = next(c for c in spec["containers"] if c["name"] == "argocd-repo-server")
    server.setdefault("volumeMounts", []).extend(
        [
            {"mountPath": "/usr/local/bin/ksops", "name": "custom-tools", "subPath": "ksops"},
            {"mountPath": AGE_KEY_PATH, "name": "sops-age"},
        ]
    )
    server.setdefault("env", []).append(
        {"name": "SOPS_AGE_KEY_FILE", "value": f"{AGE_KEY_PATH}/keys.txt"}
    )
    return deployment


def upstream_objects(
    release: Path,
    namespace: str,
    images: dict[str, str] | None = None,
    embedded: bool = False,
    absent: tuple[str, ...] = (),
) -> list[dict]:
    """install.yaml of the release, with exec plugins enabled and KSOPS in the repo-server;
    with `images` (upstream repository -> local image) its images substituted by name."""
    objects = _docs(release / "manifests" / "install.yaml")
    out = []
    for doc in objects:
        name, kind = doc["metadata"]["name"], doc["kind"]
        obj = doc
        if kind == "ConfigMap" and name == "argocd-cm":
            obj = _with_plugins(doc, embedded, absent)
        elif kind == "ConfigMap" and name == "argocd-cmd-params-cm":
            obj = {**doc, "data": {**(doc.get("data") or {}), **CMD_PARAMS}}
        elif kind == "Deployment" and name == "argocd-repo-server":
            obj = _ksops_in_repo_server(doc)
        if kind != "CustomResourceDefinition" and not kind.startswith("Cluster"):
            obj["metadata"]["namespace"] = namespace
        out.append(obj)
    ns = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}}
    return [ns, *(substitute_images(out, images) if images is not None else out)]


def fingerprint(objects: list[dict], key_file: Path) -> str:
    """A digest of what an install applies: the objects and the age key (not kept: only
    this one-way digest, to tell a changed key from the same one)."""
    import hashlib

    digest = hashlib.sha256(json.dumps(objects, sort_keys=True).encode())
    digest.update(b"\0" + (key_file.read_bytes() if key_file.is_file() else b""))
    return digest.hexdigest()


def workload_names(objects: list[dict]) -> set[str]:
    """`kind/name` of the Deployments and StatefulSets among the objects."""
    kinds = ("Deployment", "StatefulSet")
    return {f"{o['kind'].lower()}/{o['metadata']['name']}" for o in objects if o["kind"] in kinds}


def repository(image: str) -> str:
    """`registry/path` of an image reference, without its tag or digest."""
    name = image.split("@", 1)[0]
    head, _, tail = name.rpartition("/")
    return f"{head}/{tail.split(':', 1)[0]}" if head else tail.split(":", 1)[0]


def containers(obj: dict) -> list[dict]:
    """The containers and init containers of a workload's pod template."""
    spec = (obj.get("spec") or {}).get("template", {}).get("spec") or {}
    return [*spec.get("initContainers", []), *spec.get("containers", [])]


def substitute_images(objects: list[dict], images: dict[str, str]) -> list[dict]:
    """Each container image replaced by the local image standing in for its repository,
    pulled only if not present (none can be pulled here); an image with no stand-in is an
    error before anything is applied (its pod could never start)."""
    for obj in objects:
        for container in containers(obj):
            local = images.get(repository(container["image"]))
            if local is None:
                raise OpsError(
                    f"the release's install.yaml names {container['image']}, which is not built "
                    f"here (in {obj['kind']} {obj['metadata']['name']})",
                    "add a stand-in for it to opskit/images/argocd.py",
                )
            container["image"] = local
            container["imagePullPolicy"] = "IfNotPresent"
    return objects


def apply_step(kube: Kube, objects: list[dict], what: str) -> shell.Step:
    document = json.dumps({"apiVersion": "v1", "kind": "List", "items": objects})
    return kube.step(
        *server_side_apply(),
        stdin=document,
        what=what,
        mutates=True,
        timeout=300,
    )


def age_key_steps(kube: Kube, namespace: str, key_file: Path) -> list[shell.Step]:
    """The age key as a Secret: kubectl reads the key file itself and pipes the Secret to
    apply (the key is in no argv and no new file)."""
    if not key_file.is_file():
        raise OpsError(f"{key_file}: no age key", "create one: `invoke secrets.init`")
    render = kube.step(
        "create",
        "secret",
        "generic",
        AGE_SECRET,
        "-n",
        namespace,
        f"--from-file=keys.txt={key_file}",
        "--dry-run=client",
        "-o",
        "json",
    )
    return [
        kube.step(
            *server_side_apply(),
            stdin=render,
            what=f"age key as Secret {namespace}/{AGE_SECRET}",
            mutates=True,
            timeout=60,
        )
    ]


def upstream_steps(
    cfg: Config, kube: Kube, objects: list[dict], key_file: Path
) -> list[shell.Step]:
    """Namespace, age key Secret, the rest (`upstream_objects`); then `restart_crashing`
    and `wait_available`."""
    ns = cfg.require_argocd().namespace
    return [
        apply_step(kube, objects[:1], f"namespace {ns}"),
        *age_key_steps(kube, ns, key_file),
        apply_step(kube, objects[1:], f"ArgoCD {cfg.require_argocd().version} with KSOPS"),
    ]
