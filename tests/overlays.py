"""Changes the tests commit to an overlay: one place for what `kustomization.yaml` gets."""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from opskit.clusters.kwok import NEVER_READY_LABEL


def patch_never_ready(overlay: Path, deployment: str = "api") -> None:
    """Adds a patch to the overlay labelling `deployment`'s pods never-ready: kwok (and the
    unit tests' fake API server) keep such pods unready, so the rollout never completes."""
    path = overlay / "kustomization.yaml"
    data = yaml.safe_load(path.read_text())
    label = "/spec/template/metadata/labels/" + NEVER_READY_LABEL.replace("/", "~1")
    op = {"op": "add", "path": label, "value": "true"}
    data.setdefault("patches", []).append(
        {"target": {"kind": "Deployment", "name": deployment}, "patch": json.dumps([op])}
    )
    path.write_text(yaml.safe_dump(data, sort_keys=False))
