"""Kubernetes API level: workloads available at the expected image, pods Ready, endpoints."""

import fnmatch
import os

import pytest

from opskit.core import gitinfo
from opskit.gitops.release import pinned_tag

DEPLOYMENTS = ["api", "redis"]
STATEFULSETS = ["postgres"]
SERVICES = ["api", "postgres", "redis"]


@pytest.mark.parametrize("name", DEPLOYMENTS)
def test_deployment_is_available(k8s, name):
    deployment = k8s.get("deployment", name)
    status = deployment.get("status", {})
    assert status.get("observedGeneration") == deployment["metadata"]["generation"]
    assert status.get("availableReplicas", 0) == deployment["spec"]["replicas"] > 0
    assert status.get("updatedReplicas", 0) == deployment["spec"]["replicas"]


@pytest.mark.parametrize("name", STATEFULSETS)
def test_statefulset_is_ready(k8s, name):
    statefulset = k8s.get("statefulset", name)
    assert statefulset["status"].get("readyReplicas", 0) == statefulset["spec"]["replicas"] > 0


def expected_tags(cfg, overlay) -> tuple[str, ...]:
    """$IMAGE_TAG when given; else HEAD's tag (what `invoke deploy` pins, `-dirty-` suffix
    allowed) or the tag the overlay pins in git (what ArgoCD deploys)."""
    if os.environ.get("IMAGE_TAG"):
        return (os.environ["IMAGE_TAG"],)
    head = gitinfo.head(cfg.root)[: cfg.app.tag_length]
    pinned = pinned_tag(overlay.path / "kustomization.yaml", cfg.app.name)
    return (head, f"{head}-dirty-*", *([pinned] if pinned else []))


def test_api_runs_the_expected_image(k8s, cfg, overlay):
    template = k8s.get("deployment", "api")["spec"]["template"]["spec"]
    image = next(c["image"] for c in template["containers"] if c["name"] == "api")
    repository, _, tag = image.rpartition(":")
    assert repository == cfg.app.image
    assert any(fnmatch.fnmatchcase(tag, pattern) for pattern in expected_tags(cfg, overlay)), (
        f"{tag} is none of {expected_tags(cfg, overlay)} (set IMAGE_TAG to check another)"
    )


def test_every_api_pod_runs_the_deployment_image(k8s):
    template = k8s.get("deployment", "api")["spec"]["template"]["spec"]
    image = next(c["image"] for c in template["containers"] if c["name"] == "api")
    pods = k8s.pods("api")
    running = {c["image"] for p in pods for c in p["spec"]["containers"] if c["name"] == "api"}
    assert running == {image}


@pytest.mark.parametrize("name", ["api", "postgres", "redis"])
def test_pods_are_ready(k8s, name):
    pods = k8s.pods(name)
    assert pods, f"no pod labelled app.kubernetes.io/name={name}"
    assert [p["metadata"]["name"] for p in pods if not k8s.ready(p)] == []


@pytest.mark.parametrize("name", SERVICES)
def test_service_has_ready_endpoints(k8s, name):
    k8s.get("service", name)
    slices = k8s.items("endpointslices", "-l", f"kubernetes.io/service-name={name}")
    ready = [
        address
        for piece in slices
        for endpoint in piece.get("endpoints") or []
        if (endpoint.get("conditions") or {}).get("ready")
        for address in endpoint["addresses"]
    ]
    assert ready, f"Service {name} has no ready endpoint"
