"""Volumes of the real node: a `local` PersistentVolume, pre-bound to each claim a plan's
StatefulSets will make, in a folder below the node's home.

The controller-manager's hostPath provisioner (what the simulated nodes use) makes folders
root-owned with mode 0750 and the kubelet does not apply a pod's fsGroup to hostPath: a
non-root database could not write its data. The kubelet does apply fsGroup to `local`
volumes, as a real cluster's provisioner (k3d's local-path) makes its folders writable."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

STORAGE_CLASS = "standard"  # the embedded cluster's default (opskit.clusters.kwok)
LABEL = "opskit.dev/node-volume"


@dataclass(frozen=True)
class Claim:
    """A PersistentVolumeClaim a StatefulSet's volumeClaimTemplate makes for one replica."""

    namespace: str
    name: str  # <template>-<statefulset>-<ordinal>
    size: str
    modes: tuple[str, ...]


def claims(objects: list[dict], namespace: str) -> list[Claim]:
    """Every claim the StatefulSets among `objects` make (replicas x claim templates)."""
    found = []
    for obj in objects:
        if obj.get("kind") != "StatefulSet":
            continue
        spec = obj.get("spec") or {}
        where = (obj.get("metadata") or {}).get("namespace") or namespace
        for template in spec.get("volumeClaimTemplates") or []:
            claim_spec = template.get("spec") or {}
            if claim_spec.get("storageClassName", STORAGE_CLASS) != STORAGE_CLASS:
                continue
            size = ((claim_spec.get("resources") or {}).get("requests") or {}).get("storage")
            modes = tuple(claim_spec.get("accessModes") or ["ReadWriteOnce"])
            for ordinal in range(int(spec.get("replicas", 1))):
                name = f"{template['metadata']['name']}-{obj['metadata']['name']}-{ordinal}"
                found.append(Claim(where, name, str(size or "1Gi"), modes))
    return found


def volume_name(claim: Claim) -> str:
    return f"local-{claim.namespace}-{claim.name}"[:253]


def persistent_volume(claim: Claim, folder: Path, node: str) -> dict:
    """A `local` PersistentVolume in `folder` on `node`, bound in advance to `claim` (the
    binder takes a pre-bound volume before it would provision one)."""
    affinity = {"key": "kubernetes.io/hostname", "operator": "In", "values": [node]}
    return {
        "apiVersion": "v1",
        "kind": "PersistentVolume",
        "metadata": {"name": volume_name(claim), "labels": {LABEL: "true"}},
        "spec": {
            "capacity": {"storage": claim.size},
            "accessModes": list(claim.modes),
            "persistentVolumeReclaimPolicy": "Retain",  # the folder goes with the node
            "storageClassName": STORAGE_CLASS,
            "claimRef": {"namespace": claim.namespace, "name": claim.name},
            "local": {"path": str(folder)},
            "nodeAffinity": {"required": {"nodeSelectorTerms": [{"matchExpressions": [affinity]}]}},
        },
    }


def manifest(claims_: list[Claim], root: Path, node: str) -> str:
    volumes = [persistent_volume(c, folder(root, c), node) for c in claims_]
    return json.dumps({"apiVersion": "v1", "kind": "List", "items": volumes})


def folder(root: Path, claim: Claim) -> Path:
    return root / claim.namespace / claim.name
