"""Changes the tests commit to an overlay: one place for what `kustomization.yaml` gets."""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from opskit.clusters.kwok import NEVER_READY_LABEL


def patch_deployment(overlay: Path, deployment: str, ops: list[dict]) -> None:
    """Adds a JSON patch (`ops`) of the overlay's Deployment `deployment` to its
    kustomization."""
    path = overlay / "kustomization.yaml"
    data = yaml.safe_load(path.read_text())
    target = {"kind": "Deployment", "name": deployment}
    data.setdefault("patches", []).append({"target": target, "patch": json.dumps(ops)})
    path.write_text(yaml.safe_dump(data, sort_keys=False))


def patch_never_ready(overlay: Path, deployment: str = "api") -> None:
    """Adds a patch to the overlay labelling `deployment`'s pods never-ready: kwok (and the
    unit tests' fake API server) keep such pods unready, so the rollout never completes."""
    label = "/spec/template/metadata/labels/" + NEVER_READY_LABEL.replace("/", "~1")
    patch_deployment(overlay, deployment, [{"op": "add", "path": label, "value": "true"}])
