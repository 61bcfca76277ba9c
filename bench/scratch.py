"""A throw-away copy of the repository for the bench: its own cluster name, key, overlays.

The copy holds the tracked and untracked-but-not-ignored files of the checkout, is a git
repository of its own (one commit, so image tags are clean), and shares `.tools` (the built
binaries) with the checkout through a symlink. Nothing in the checkout is changed.
"""

from __future__ import annotations

import copy
import shutil
from pathlib import Path

import sh
import yaml

BASE_OVERLAY = "dev"
APP_DEPLOYMENT = Path("k8s/base/api-deployment.yaml")
COPIES_FILE = "api-copies.yaml"
COMMON_LABELS = {
    "app.kubernetes.io/part-of": "gitops-lab",
    "app.kubernetes.io/managed-by": "opskit",
}


def copy_checkout(source: Path, target: Path) -> int:
    """Copy the files git would see (tracked + untracked, not ignored); returns the count."""
    listed = sh.git(
        "-C",
        str(source),
        "ls-files",
        "-z",
        "--cached",
        "--others",
        "--exclude-standard",
        _tty_out=False,
    )
    count = 0
    for rel in sorted(set(filter(None, listed.split("\0")))):
        path = source / rel
        if not path.is_file() or rel.startswith("bench/"):
            continue
        (target / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, target / rel)
        count += 1
    if (source / ".tools").is_dir():
        (target / ".tools").symlink_to(source / ".tools")
    return count


def compile_bytecode(repo: Path) -> None:
    """Byte-compile the copy's opskit and tasks.py, as installing a package does and as any
    second run leaves it: where PYTHONDONTWRITEBYTECODE is set (CI images, this bench's
    machine) every `invoke` run would otherwise compile them again (~80 ms)."""
    import sys

    sh.Command(sys.executable)(
        "-m", "compileall", "-q", "opskit", "tasks.py", _cwd=str(repo), _tty_out=False
    )


def commit_all(repo: Path, message: str) -> str:
    """`git add -A && git commit` in the scratch repository; returns the new HEAD."""
    git = sh.git.bake(
        "-C",
        str(repo),
        "-c",
        "user.name=bench",
        "-c",
        "user.email=bench@localhost",
        "-c",
        "commit.gpgsign=false",
        _tty_out=False,
    )
    if not (repo / ".git").is_dir():
        git("init", "-q", "-b", "main")
    git("add", "-A")
    git("commit", "-q", "--allow-empty", "-m", message)
    return str(git("rev-parse", "HEAD")).strip()


def configure(data: dict, cluster: str, nodes: int = 12, node: str = "simulated") -> dict:
    """opskit.yaml for the bench: the kwok cluster `cluster` with `nodes` simulated nodes
    (110 pods each: with growth to 32 workloads the bench runs ~700 pods), every overlay
    allowed on it; `node`: cluster.kwok.node (simulated: the kwok figures never start a real
    node, whose containers would run every generated overlay's databases)."""
    data = copy.deepcopy(data)
    data["cluster"].update({"provider": "kwok", "name": cluster, "nodes": nodes})
    data["cluster"].setdefault("kwok", {})["node"] = node
    for overlay in data["overlays"].values():
        overlay["contexts"] = [f"kwok-{cluster}"]
    return data


def app_copies(deployment: dict, count: int) -> list[dict]:
    """`count - 1` more copies of the app Deployment (api-2, api-3, ...), labelled like the
    base labels it (the base's label transformer does not reach the overlay's resources)."""
    made = []
    for index in range(2, count + 1):
        obj = copy.deepcopy(deployment)
        name = f"{obj['metadata']['name']}-{index}"
        obj["metadata"]["name"] = name
        for labels in (
            obj["metadata"].setdefault("labels", {}),
            obj["spec"]["template"]["metadata"].setdefault("labels", {}),
        ):
            labels.update({**COMMON_LABELS, "app.kubernetes.io/name": name})
        obj["spec"]["selector"]["matchLabels"] = {"app.kubernetes.io/name": name}
        made.append(obj)
    return made


def add_overlay(repo: Path, data: dict, name: str, namespace: str, app_count: int = 1) -> None:
    """A copy of the dev overlay named `name` in its own namespace (no Secrets yet: run
    `invoke secrets.init --overlay <name>`), with `app_count` app Deployments in all."""
    source, target = repo / "k8s/overlays" / BASE_OVERLAY, repo / "k8s/overlays" / name
    shutil.copytree(source, target, ignore=shutil.ignore_patterns("*.sops.yaml"))
    for kustomization in (target / "kustomization.yaml", target / "secrets/kustomization.yaml"):
        if kustomization.is_file():
            doc = yaml.safe_load(kustomization.read_text())
            doc["namespace"] = namespace
            if kustomization.parent == target and app_count > 1:
                doc["resources"] = [*doc.get("resources", []), COPIES_FILE]
            kustomization.write_text(yaml.safe_dump(doc, sort_keys=False))
    if app_count > 1:
        base = yaml.safe_load((repo / APP_DEPLOYMENT).read_text())
        (target / COPIES_FILE).write_text(
            yaml.safe_dump_all(app_copies(base, app_count), sort_keys=False)
        )
    entry = copy.deepcopy(data["overlays"][BASE_OVERLAY])
    entry.update({"path": f"k8s/overlays/{name}", "namespace": namespace})
    data["overlays"][name] = entry


def load_config(repo: Path) -> dict:
    return yaml.safe_load((repo / "opskit.yaml").read_text())


def save_config(repo: Path, data: dict) -> None:
    (repo / "opskit.yaml").write_text(
        "# generated by bench/ for a scratch copy of the repository\n"
        + yaml.safe_dump(data, sort_keys=False)
    )


def head(repo: Path) -> str:
    """The short commit of a checkout, with `+dirty` when it has changes (read-only)."""
    git = sh.git.bake("-C", str(repo), _tty_out=False)
    sha = str(git("rev-parse", "--short=12", "HEAD")).strip()
    dirty = str(git("status", "--porcelain", "--untracked-files=no")).strip()
    return f"{sha}+dirty" if dirty else sha


def volume_pool(count: int, capacity: str = "1Gi") -> str:
    """Static PersistentVolumes (no StorageClass) for the StatefulSets' claims to bind to:
    kwok runs no storage provisioner, so without these postgres never schedules."""
    docs = [
        {
            "apiVersion": "v1",
            "kind": "PersistentVolume",
            "metadata": {"name": f"bench-pv-{i}", "labels": {"app.kubernetes.io/part-of": "bench"}},
            "spec": {
                "capacity": {"storage": capacity},
                "accessModes": ["ReadWriteOnce"],
                "persistentVolumeReclaimPolicy": "Retain",
                "hostPath": {"path": f"/tmp/bench-pv-{i}"},
            },
        }
        for i in range(count)
    ]
    return yaml.safe_dump_all(docs, sort_keys=False)
