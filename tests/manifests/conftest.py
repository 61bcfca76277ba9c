"""Fixtures for manifest tests: the real opskit.yaml and broken overlays built on dev.

A broken overlay is a kustomization in tmp_path that takes the real dev overlay as its
base and adds one defect; it is rendered with the real kustomize like any overlay.
"""

from __future__ import annotations

import copy
import dataclasses
import os
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from opskit.core import config
from opskit.core.config import Config, Overlay
from tests.conftest import mark_folder


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    mark_folder(items, "manifests", pytest.mark.tools("kubectl"))  # they render with kubectl


@pytest.fixture(scope="session")
def cfg() -> Config:
    return config.load(Path(__file__).resolve().parents[2] / "opskit.yaml")


BrokenOverlay = Callable[..., Overlay]


@pytest.fixture
def broken_overlay(cfg: Config, tmp_path: Path) -> BrokenOverlay:
    """make(patches=[...], files={name: object}) -> the dev Overlay pointing at the copy."""

    def make(patches: list[dict] = (), files: dict[str, dict] | None = None) -> Overlay:
        dev = cfg.overlay("dev")
        folder = tmp_path / "broken"
        folder.mkdir()
        kustomization = {
            "apiVersion": "kustomize.config.k8s.io/v1beta1",
            "kind": "Kustomization",
            "namespace": dev.namespace,
            "resources": [os.path.relpath(dev.path, folder), *(files or {})],
            "patches": [
                {"target": p["target"], "patch": yaml.safe_dump(p["ops"])} for p in patches
            ],
        }
        (folder / "kustomization.yaml").write_text(yaml.safe_dump(kustomization))
        for name, obj in (files or {}).items():
            (folder / name).write_text(yaml.safe_dump(obj))
        return dataclasses.replace(dev, path=folder)

    return make


@pytest.fixture(scope="session")
def render(cfg: Config) -> Callable[[str], list[dict]]:
    """render(name): the overlay's objects, rendered once per session (a fresh copy each call)."""
    from opskit.manifests import kustomize

    cache: dict[str, list[dict]] = {}

    def get(name: str) -> list[dict]:
        if name not in cache:
            cache[name] = kustomize.render_overlay(cfg, name)
        return copy.deepcopy(cache[name])

    return get
