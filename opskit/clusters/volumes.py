"""The folders kube-controller-manager's hostPath provisioner makes for a cluster's volumes
(/tmp/hostpath_pv/<uuid>, one per PersistentVolume): found so `cluster.down` removes them,
whether the cluster answers or its processes died."""

from __future__ import annotations

import contextlib
import re
import shutil
from pathlib import Path

from opskit.kube.kubectl import Kube

HOSTPATH_ROOT = "/tmp/hostpath_pv/"
# the provisioner names each folder by a fresh UUID, so a path found in this cluster's etcd
# is this cluster's and no other's
FOLDER = re.compile(rb"/tmp/hostpath_pv/[0-9a-f]{8}(?:-[0-9a-f]{4}){3}-[0-9a-f]{12}")


def from_api(kube: Kube) -> list[Path]:
    """The hostPath folders of the PersistentVolumes the API server lists."""
    out = kube.run(
        "get", "pv", "-o", "jsonpath={.items[*].spec.hostPath.path}", check=False, timeout=15
    ).stdout.split()
    return sorted({Path(p) for p in out if FOLDER.fullmatch(p.encode())})


def from_etcd(data_dir: Path) -> list[Path]:
    """The same, read from etcd's files when no API server answers (PersistentVolumes are
    stored unencrypted; only Secrets are encrypted at rest)."""
    found: set[Path] = set()
    for file in data_dir.rglob("*") if data_dir.is_dir() else []:
        with contextlib.suppress(OSError):
            if file.is_file() and not file.is_symlink():
                found.update(Path(m.decode()) for m in FOLDER.findall(file.read_bytes()))
    return sorted(found)


def remove(folders: list[Path]) -> None:
    """Remove the folders, then the provisioner's root when no other cluster uses it."""
    for folder in folders:
        shutil.rmtree(folder, ignore_errors=True)
    if folders:
        with contextlib.suppress(OSError):  # shared by all kwok clusters: only if empty
            Path(HOSTPATH_ROOT).rmdir()
