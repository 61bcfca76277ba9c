"""Images built here for the real node: the stand-ins' tags in the Kustomize component
follow their build contexts, the component (real kustomize) swaps only the third-party
images, and the project's Dockerfiles are built as they are with the base passed in."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import yaml

from opskit.core import shell
from opskit.images import localbuild

ROOT = Path(__file__).resolve().parents[2]
COMPONENT = ROOT / "k8s" / "components" / "embedded-standins"
UPSTREAM = {"postgres": "postgres", "redis": "redis", "mosquitto": "eclipse-mosquitto"}


def _component_images() -> dict[str, str]:
    data = yaml.safe_load((COMPONENT / "kustomization.yaml").read_text())
    return {i["name"]: f"{i['newName']}:{i['newTag']}" for i in data["images"]}


@pytest.mark.parametrize("standin", sorted(UPSTREAM))
def test_the_component_names_each_standin_at_its_build_context_digest(standin):
    assert _component_images()[UPSTREAM[standin]] == localbuild.standin_image(standin)
    assert "-standin:" in localbuild.standin_image(standin)  # never an upstream name


def test_a_change_to_an_entrypoint_is_a_new_tag(tmp_path, monkeypatch):
    (tmp_path / "redis").mkdir()
    (tmp_path / "redis" / "Containerfile").write_text("FROM x\n")
    (tmp_path / "redis" / "docker-entrypoint.sh").write_text("exec redis-server\n")
    monkeypatch.setattr(localbuild, "STANDINS", tmp_path)
    before = localbuild.standin_image("redis")
    (tmp_path / "redis" / "docker-entrypoint.sh").write_text("exec redis-server --port 1\n")
    assert localbuild.standin_image("redis") != before


def test_the_component_swaps_only_third_party_images_of_the_dev_overlay(tmp_path):
    overlay = os.path.relpath(ROOT / "k8s/overlays/dev", tmp_path)  # kustomize: relative only
    component = os.path.relpath(COMPONENT, tmp_path)
    (tmp_path / "kustomization.yaml").write_text(
        "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\n"
        f"resources: [{overlay}]\ncomponents: [{component}]\n"
    )
    argv = ["kubectl", "kustomize", "--load-restrictor=LoadRestrictionsNone", str(tmp_path)]
    docs = [d for d in yaml.safe_load_all(shell.run(argv, timeout=120).stdout) if d]
    images = {
        c["image"]
        for d in docs
        for spec in (d.get("spec", {}).get("template", {}).get("spec", {}),
                     d.get("spec", {}).get("jobTemplate", {}).get("spec", {})
                     .get("template", {}).get("spec", {}))
        for c in spec.get("containers", [])
    }  # fmt: skip
    assert set(_component_images().values()) <= images
    assert not any(i.startswith(("postgres:", "redis:", "eclipse-mosquitto:")) for i in images)
    assert any(i.startswith("localhost:5000/gitops-lab/telemetry:") for i in images)


def test_a_project_image_builds_its_dockerfile_with_only_the_base_passed_in(tmp_path):
    image = localbuild.ProjectImage("telemetry", ROOT / "services" / "telemetry")
    argv = image.build_argv(
        "t:1", "localhost/gitops-lab/python:3.11-x", "abc", tmp_path / "pip.conf"
    )
    assert argv[:5] == ["buildah", "bud", "--quiet", "--layers", "--network=host"]
    assert argv[-3:] == ["-t", "t:1", str(ROOT / "services" / "telemetry")]
    assert "PYTHON_IMAGE=localhost/gitops-lab/python:3.11-x" in argv
    # the machine's certificates reach the build read-only, never the image
    assert f"{tmp_path / 'pip.conf'}:/etc/pip.conf:ro" in argv
    assert "/etc/ssl/certs:/etc/ssl/certs:ro" in argv
    assert "ARG PYTHON_IMAGE=" in (ROOT / "services/telemetry/Dockerfile").read_text()
