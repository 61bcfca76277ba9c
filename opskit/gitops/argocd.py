"""ArgoCD through kubectl only: install the pinned upstream manifest, bootstrap the
app-of-apps root (k8s/argocd/root.yaml: k8s/platform, or k8s/argocd where no container
runs), read the Applications' status, trigger a sync.

No argocd CLI: an Application is a Kubernetes object, and a sync is an `operation` written
into it (what `argocd app sync` does through the API server).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

from opskit.clusters import argocd_local
from opskit.core import paths, shell, toolcheck, yamlio
from opskit.core.errors import OpsError
from opskit.gitops import wait
from opskit.kube.kubectl import FIELD_MANAGER, Kube, server_side_apply
from opskit.kube.reads import api_versions
from opskit.manifests.kustomize import ARGOCD_DIR, PLATFORM_DIR

if TYPE_CHECKING:
    from opskit.clusters.base import Cluster
    from opskit.clusters.connect import Connection
    from opskit.core.config import Config, Overlay

ROOT_FILE = "root.yaml"  # the app-of-apps root: not in k8s/argocd's kustomization
APPLICATIONS = "applications.argoproj.io"
NOT_INSTALLED_HINT = wait.NOT_INSTALLED_HINT
NO_MONITORING = (
    f"monitoring is not synced here: the embedded cluster cannot fetch the Helm chart, so "
    f"the root renders {ARGOCD_DIR.as_posix()} only; on k3d/minikube it renders "
    f"{PLATFORM_DIR.as_posix()}, which adds the monitoring Application"
)


def _run(step: shell.Step, dry_run: bool) -> shell.Result:
    """A mutating step, or its dry-run line."""
    return shell.run_step(step, dry_run=dry_run)


def local(
    cfg: Config, cluster: Cluster | None, listen: tuple[str, ...] = ("127.0.0.1",)
) -> argocd_local.LocalArgoCD:
    """The local processes of ArgoCD next to an embedded cluster (callers ask only where the
    cluster runs no containers, which is always one the suite started); `listen`: the git
    server's addresses."""
    if cluster is None:
        raise OpsError(
            "ArgoCD runs as local processes only beside the suite's own embedded cluster",
            "run `invoke argocd.install` against the cluster `invoke cluster.up` started",
        )
    return argocd_local.LocalArgoCD(
        cluster.state_dir,
        cluster.kubeconfig,
        cfg.require_argocd().namespace,
        cfg.require_argocd().local_polling,
        listen,
    )


def _stamp(cfg: Config) -> str:
    """What a running install was made from: another version or clone restarts it."""
    return json.dumps(
        {
            "version": cfg.require_argocd().version,
            "namespace": cfg.require_argocd().namespace,
            "root": str(cfg.root),
        }
    )


def real_node(conn: Connection) -> bool:
    """The embedded cluster with a real node: ArgoCD runs as pods from images built here."""
    return not conn.runs_containers and conn.cluster is not None and conn.cluster.has_real_node()


def install(cfg: Config, conn: Connection, dry_run: bool = False, report=print) -> bool:
    """Install (or upgrade to) the pinned ArgoCD; idempotent. False when already there.

    A cluster that runs containers gets the release's install.yaml plus KSOPS (the embedded
    one with a real node: its images built here, and a git server of this clone); where no
    container runs, its CRDs and config, with the controllers, redis and a git server of
    this clone as local processes."""
    if conn.runs_containers or real_node(conn):
        return _install_pods(cfg, conn, dry_run, report)
    home = local(cfg, conn.cluster)
    stamp = home.home / "installed.json"
    applied = stamp.is_file() and stamp.read_text() == _stamp(cfg)
    all_up = len(home.running()) == len(argocd_local.NAMES) and home.polling_current()
    all_up = all_up and not home.changed(cfg.root)  # e.g. started for another checkout
    served = applied and crd_served(conn.kube, APPLICATIONS)
    if applied and all_up and served:
        return False  # a file read, /proc reads and one kubectl call
    _install_local(cfg, conn.kube, home, applied and served, dry_run, report)
    if not dry_run:
        paths.write_atomic(stamp, _stamp(cfg))
    return True


def _install_pods(cfg: Config, conn: Connection, dry_run: bool, report) -> bool:
    """install.yaml + KSOPS + the age key; on the embedded cluster's real node its images
    built and loaded first and a git server of this clone started; then wait for the pods.
    False (nothing applied) when exactly these objects and key were applied last time and
    every workload is available."""
    from opskit.gitops import install, pods
    from opskit.secrets import sops

    argo = cfg.require_argocd()
    release = install.release_dir(argo.version)
    if real_node(conn):
        objects = install.upstream_objects(
            release,
            argo.namespace,
            images=_node_images(conn, release, dry_run, report),
            embedded=True,
            absent=install.absent_groups(api_versions(conn.kube)),
        )
        git = local(cfg, conn.cluster, git_hosts())
        git.start(cfg.root, report=report, dry_run=dry_run, only=("git",))
    else:
        objects = install.upstream_objects(release, argo.namespace)
    stamp = conn.cluster.state_dir / "argocd" / "applied.sha256" if conn.cluster else None
    applied = install.fingerprint(objects, sops.key_file())
    same = stamp is not None and stamp.is_file() and stamp.read_text() == applied
    if same and pods.settled(conn.kube, argo.namespace, install.workload_names(objects)):
        return False  # one kubectl read
    for step in install.upstream_steps(cfg, conn.kube, objects, sops.key_file()):
        _run(step, dry_run)
    if dry_run:
        return True
    pods.restart_crashing(conn.kube, argo.namespace, report)
    seconds = pods.wait_available(conn.kube, argo.namespace, report=report)
    report(f"ArgoCD's pods available in {seconds:.1f}s")
    if stamp is not None:
        paths.write_atomic(paths.ensure_dir(stamp.parent) / stamp.name, applied)
    return True


def _node_images(conn: Connection, release: Path, dry_run: bool, report) -> dict[str, str]:
    """The images standing in for install.yaml's, built and loaded into the node."""
    from opskit.images import argocd as images

    if dry_run:
        mapping = images.planned(release)
        report(f"would build and load {', '.join(sorted(mapping.values()))}")
        return mapping
    mapping = images.ensure_built(release, report)
    images.load_missing(conn.cluster, sorted(set(mapping.values())), report)
    return mapping


def git_hosts() -> tuple[str, ...]:
    """Where the git server of this clone listens: loopback, and the node's address that
    pods reach this host at."""
    from opskit.clusters.node import node_ip

    return tuple(dict.fromkeys(("127.0.0.1", node_ip())))


def _install_local(
    cfg: Config, kube: Kube, home: argocd_local.LocalArgoCD, applied: bool, dry_run: bool, report
) -> None:
    from opskit.gitops import install

    argo = cfg.require_argocd()
    toolcheck.require("argocd", "kustomize", "sops", "redis-server")
    if not applied and home.running():
        home.stop(report=report, dry_run=dry_run)  # made from another version or clone
    release = install.release_dir(argo.version)
    if not applied:
        ns = argo.namespace
        absent = install.absent_groups(api_versions(kube))
        objects = install.local_objects(release, ns, absent)
        report(f"applying ArgoCD {argo.version} CRDs and config to namespace {ns}")
        install.apply_local(kube, objects, argo.version, dry_run)
    home.start(cfg.root, report=report, dry_run=dry_run, release=release)


# --- manifests in k8s/argocd ------------------------------------------------------------


def load_manifests(root: Path) -> list[dict]:
    """Every object in k8s/argocd/*.yaml (any file layout), in file order."""
    from opskit.core import yamlio

    folder = root / ARGOCD_DIR
    if not folder.is_dir():
        raise OpsError(f"{folder}: not found", "add the AppProject and Applications there")
    docs: list[dict] = []
    for file in sorted(folder.rglob("*.yaml")):
        if file.name == "kustomization.yaml":
            continue
        docs += [d for d in yamlio.load_file_all(file) if isinstance(d, dict)]
    return docs


def application_for(cfg: Config, overlay: Overlay) -> dict:
    """The Application in k8s/argocd whose source path is the overlay's folder."""
    wanted = overlay.path.relative_to(cfg.root).as_posix()
    apps = [d for d in load_manifests(cfg.root) if d.get("kind") == "Application"]
    for app in apps:
        if wanted in source_paths(app):
            return app
    known = ", ".join(sorted(a["metadata"]["name"] for a in apps)) or "none"
    raise OpsError(
        f"{ARGOCD_DIR}: no Application has source path {wanted} (Applications: {known})",
        f"add one for overlay {overlay.name} with `spec.source.path: {wanted}`",
    )


def source_paths(app: dict) -> list[str]:
    """The repository paths an Application renders (single `source` or multi `sources`)."""
    spec = app.get("spec") or {}
    sources = spec.get("sources") or [spec.get("source") or {}]
    return [str(source.get("path", "")).strip("/") for source in sources]


def root_application(
    cfg: Config, repo_url: str = "", platform: bool = True, components: tuple[Path, ...] = ()
) -> dict:
    """k8s/argocd/root.yaml, the one object `argocd.bootstrap` applies. It renders its
    committed path, k8s/platform (the overlays' Applications plus monitoring), or with
    `platform=False` k8s/argocd alone. With `repo_url` (the embedded cluster's git server)
    it reads the repository from there and rewrites the repository sources of the
    Applications and AppProjects it renders (kustomize patches in the root's spec: the
    committed files keep project.repo_url). `components` (paths from the repository root)
    are added to every overlay source of those Applications (`spec.source.kustomize.components`)."""

    file = cfg.root / ARGOCD_DIR / ROOT_FILE
    if not file.is_file():
        raise OpsError(f"{file}: not found", "add the app-of-apps root Application there")
    root = yamlio.load_file(file)
    root.setdefault("metadata", {})["namespace"] = cfg.require_argocd().namespace
    source = root["spec"]["source"]
    folder = Path(source.get("path") or PLATFORM_DIR) if platform else ARGOCD_DIR
    source["path"] = folder.as_posix()
    if repo_url:
        source["repoURL"] = repo_url
        patches = url_patches(cfg, repo_url, folder, components)
        source.setdefault("kustomize", {})["patches"] = patches
    return root


def url_patches(
    cfg: Config, repo_url: str, folder: Path = ARGOCD_DIR, components: tuple[Path, ...] = ()
) -> list[dict]:
    """Kustomize patches that point every repository source of the Applications rendered
    from `folder`, and every AppProject, at `repo_url`. A Helm chart source keeps its
    chart repository."""
    from opskit.manifests import validate

    patches = []
    for obj in validate.argocd_objects(cfg, cfg.root / folder):
        kind, name, spec = obj.get("kind"), obj["metadata"]["name"], obj.get("spec") or {}
        if kind == "Application":
            sources = (
                [(f"/spec/sources/{i}", source) for i, source in enumerate(spec["sources"])]
                if spec.get("sources")
                else [("/spec/source", spec.get("source") or {})]
            )
            ops = [
                {"op": "replace", "path": f"{where}/repoURL", "value": repo_url}
                for where, source in sources
                if "chart" not in source
            ]
            ops += _component_ops(cfg, sources, components)
        elif kind == "AppProject":
            ops = [{"op": "add", "path": "/spec/sourceRepos/-", "value": repo_url}]
        else:
            continue
        if ops:
            patches.append({"target": {"kind": kind, "name": name}, "patch": json.dumps(ops)})
    return patches


def _component_ops(
    cfg: Config, sources: list[tuple[str, dict]], components: tuple[Path, ...]
) -> list[dict]:
    """Add `components` to each source that renders an overlay (paths relative to it)."""
    import os

    overlays = {ov.path.relative_to(cfg.root).as_posix() for ov in cfg.overlays.values()}
    ops = []
    for where, source in sources:
        path = str(source.get("path", "")).strip("/")
        if components and path in overlays:
            relative = [os.path.relpath(c.as_posix(), path) for c in components]
            kustomize = {**(source.get("kustomize") or {}), "components": relative}
            ops.append({"op": "add", "path": f"{where}/kustomize", "value": kustomize})
    return ops


def crd_served(kube: Kube, crd: str) -> bool:
    """Whether the cluster serves a CustomResourceDefinition; an unreachable cluster is an
    error, not a "no"."""
    result = kube.run("get", "crd", crd, "-o", "name", check=False, timeout=30)
    if result.returncode != 0 and "NotFound" not in result.stderr:
        last = result.stderr.strip().splitlines()[-1:] or ["no answer"]
        raise OpsError(
            f"cannot read the cluster at context {kube.context}: {last[0]}",
            "is it running? (`invoke cluster.status`, `invoke cluster.up`)",
        )
    return result.returncode == 0


def require_installed(kube: Kube) -> None:
    """ArgoCD's CRDs are served, else an actionable error before anything is applied."""
    if not crd_served(kube, APPLICATIONS):
        raise OpsError(wait.NOT_INSTALLED, NOT_INSTALLED_HINT)


def bootstrap(cfg: Config, conn: Connection, dry_run: bool = False, report=print) -> str:
    """Apply the root Application (one object); ArgoCD syncs the rest from git. Returns
    its name. On the embedded cluster the root reads this clone from its git server and
    renders k8s/argocd only (no monitoring); the overlays' sources also get the components
    the cluster adds to every overlay (`Cluster.components`: with a real node, the
    stand-in images and the api kept on a simulated node), as `invoke deploy` renders them."""
    kube = conn.kube
    repo_url = "" if conn.runs_containers else _git_url(cfg, conn)
    components = tuple(c.relative_to(cfg.root) for c in conn.components)
    root = root_application(cfg, repo_url, platform=conn.runs_containers, components=components)
    require_installed(kube)
    step = kube.step(
        *server_side_apply("-n", cfg.require_argocd().namespace),
        stdin=json.dumps(root, indent=1),
        mutates=True,
        what=f"ArgoCD root Application {root['metadata']['name']}",
    )
    _run(step, dry_run)
    if not conn.runs_containers:
        report(NO_MONITORING)
    return root["metadata"]["name"]


def _git_url(cfg: Config, conn: Connection) -> str:
    """The embedded cluster's git server of this clone, as ArgoCD reaches it: loopback for
    the local processes, the node's address for pods."""
    home = local(cfg, conn.cluster)
    if not real_node(conn):
        if len(home.running()) != len(argocd_local.NAMES):
            raise OpsError("ArgoCD's local processes are not running", NOT_INSTALLED_HINT)
        return home.repo_url
    if "git" not in home.running():
        raise OpsError("the git server of this clone is not running", NOT_INSTALLED_HINT)
    return home.repo_url_at(git_hosts()[-1])


def ask_to_read(cfg: Config, overlay: Overlay, pushed: bool) -> str:
    """After a release, what a push webhook does on a git host: ask ArgoCD to read git now
    instead of at its next poll (every 3 minutes), where it can see the commit: pushed, or
    read from this clone (the embedded cluster's git server). Best effort and quick: without
    a cluster the overlay allows, ArgoCD, its Application or an answer within 5 s, nothing
    is asked. The Application's name when asked, else ""."""
    from opskit.clusters.connect import connect

    try:
        conn = connect(cfg, overlay)
        namespace = cfg.require_argocd().namespace
        app = application_for(cfg, overlay)["metadata"]["name"]
        reads_clone = not conn.runs_containers and "git" in local(cfg, conn.cluster).running()
    except OpsError:
        return ""
    if not (pushed or reads_clone):
        return ""
    try:
        asked = wait.refresh(conn.kube, namespace, app, check=False)
    except OpsError:  # kubectl itself timed out
        return ""
    return app if asked.returncode == 0 else ""


# --- status and sync --------------------------------------------------------------------


def states(cfg: Config, kube: Kube) -> list[wait.State]:
    """Revision, sync, health and last operation of every Application in ArgoCD's namespace."""
    require_installed(kube)
    data = kube.json("get", APPLICATIONS, "-n", cfg.require_argocd().namespace, timeout=30)
    return [wait.State.of(item) for item in data.get("items", [])]


def table(rows: list[wait.State]) -> str:
    """A fixed-width table, one Application per line."""
    header = ("APPLICATION", "SYNC", "HEALTH", "REVISION", "OPERATION")
    lines = [
        header,
        *((r.name, r.sync, r.health, r.revision[:12] or "-", r.operation or "-") for r in rows),
    ]
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    return "\n".join(
        "  ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)).rstrip() for line in lines
    )


def sync_operation() -> dict:
    """The `operation` the ArgoCD controller picks up as a sync request: no revision, so
    it syncs each source's targetRevision (single- and multi-source Applications alike)."""
    return {
        "operation": {
            "initiatedBy": {"username": FIELD_MANAGER},
            "sync": {"syncStrategy": {"hook": {}}},
        }
    }


def sync_step(cfg: Config, kube: Kube, overlay: Overlay) -> shell.Step:
    name = application_for(cfg, overlay)["metadata"]["name"]
    patch = json.dumps(sync_operation(), separators=(",", ":"))
    return kube.step(
        "patch",
        APPLICATIONS,
        name,
        "-n",
        cfg.require_argocd().namespace,
        "--type",
        "merge",
        "-p",
        patch,
        what=f"sync {name}",
        mutates=True,
        timeout=30,
        hint=f"bootstrap it first: `invoke argocd.bootstrap --overlay={overlay.name}`",
    )


def sync(cfg: Config, kube: Kube, overlay: Overlay, dry_run: bool = False) -> str:
    """Ask the ArgoCD controller to sync the overlay's Application; returns its name."""
    step = sync_step(cfg, kube, overlay)
    require_installed(kube)
    _run(step, dry_run)
    return step.argv[step.argv.index(APPLICATIONS) + 1]
