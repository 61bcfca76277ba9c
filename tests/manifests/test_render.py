"""Every overlay renders with the real kustomize into the objects the contract names."""

from __future__ import annotations

import dataclasses
import re

import pytest

from opskit.core import config
from opskit.core.errors import CommandFailed, OpsError
from opskit.manifests import kustomize

OVERLAYS = ["dev", "prod"]
EXPECTED = {
    ("Namespace", None),
    ("ConfigMap", "api-config"),
    ("Deployment", "api"),
    ("Service", "api"),
    ("StatefulSet", "postgres"),
    ("Service", "postgres"),
    ("Deployment", "redis"),
    ("Service", "redis"),
    ("Ingress", "api"),
    ("ServiceMonitor", "api"),
}


def by_key(objects: list[dict]) -> dict[tuple[str, str], dict]:
    return {(o["kind"], o["metadata"]["name"]): o for o in objects}


def app_container(objects: list[dict]) -> dict:
    return by_key(objects)["Deployment", "api"]["spec"]["template"]["spec"]["containers"][0]


def test_every_overlay_in_opskit_yaml_is_tested(cfg):
    assert sorted(cfg.overlays) == OVERLAYS


@pytest.mark.parametrize("name", OVERLAYS)
def test_overlay_renders_the_contract_objects(cfg, name, render):
    objects = render(name)
    kinds = {
        (o["kind"], None if o["kind"] == "Namespace" else o["metadata"]["name"]) for o in objects
    }
    assert kinds >= EXPECTED
    assert not [o for o in objects if o["kind"] == "Secret"]


@pytest.mark.parametrize("name", OVERLAYS)
def test_overlay_pins_the_app_image_its_kustomization_names(cfg, name, render):
    """app.image of opskit.yaml, or the registry a CI release pinned (what ArgoCD pulls)."""
    image = app_container(render(name))["image"]
    repository, _, tag = image.rpartition(":")
    named = kustomize.overlay_images(cfg, cfg.overlay(name)).get(cfg.app.name)
    assert repository in {cfg.app.image, named}
    assert repository.endswith(f"/{cfg.app.name}")
    assert re.fullmatch(rf"[0-9a-f]{{{cfg.app.tag_length}}}", tag)


@pytest.mark.parametrize("name", OVERLAYS)
def test_the_image_override_pins_the_app_to_its_registry(cfg, name, monkeypatch):
    """OPSKIT_IMAGE (the README: the image repository, e.g. the CI registry) is what a
    deploy renders; it used to fail with `no container runs image`."""
    monkeypatch.setenv("OPSKIT_IMAGE", "ghcr.io/acme/gitops-lab/api")
    override = config.load(cfg.root / "opskit.yaml")
    objects = kustomize.render_overlay(override, name, tag="0123456789ab")
    assert app_container(objects)["image"] == "ghcr.io/acme/gitops-lab/api:0123456789ab"


@pytest.mark.parametrize("name", OVERLAYS)
def test_tag_is_pinned_in_memory_only(cfg, name):
    before = (cfg.overlay(name).path / "kustomization.yaml").read_text()
    objects = kustomize.render_overlay(cfg, name, tag="0123456789ab")
    assert app_container(objects)["image"] == f"{cfg.app.image}:0123456789ab"
    images = {c["image"] for o in objects for _, c in kustomize.containers(o)}
    telemetry = cfg.images["telemetry"].repository
    assert images == {
        f"{cfg.app.image}:0123456789ab",
        f"{telemetry}:0123456789ab",
        "postgres:16.15",
        "redis:7.4.11",
        "eclipse-mosquitto:2.0.22",
    }
    assert (cfg.overlay(name).path / "kustomization.yaml").read_text() == before


def test_render_text_with_tag_is_the_pinned_yaml(cfg):
    text = kustomize.render_text(cfg, "dev", tag="0123456789ab")
    assert f"image: {cfg.app.image}:0123456789ab\n" in text
    assert kustomize.load_documents(text) == kustomize.render_overlay(cfg, "dev", "0123456789ab")


@pytest.mark.parametrize("tag", ["latest", "", "has space", "-leading-dash"])
def test_pinning_refuses_mutable_or_invalid_tags(cfg, tag):
    with pytest.raises(OpsError, match="invalid image tag"):
        kustomize.render_overlay(cfg, "dev", tag=tag)


def test_pinning_an_image_no_container_runs_is_an_error(cfg, render):
    with pytest.raises(OpsError, match="dev: no container runs image example/other"):
        kustomize.pin_image(render("dev"), "example/other", "abc", "dev")


@pytest.mark.parametrize("name", OVERLAYS)
def test_hosts_come_from_opskit_yaml(cfg, name, render):
    objects = by_key(render(name))
    api_host, telemetry_host = cfg.overlay(name).hosts  # the certificate covers both
    for ingress, host in (("api", api_host), ("telemetry", telemetry_host)):
        spec = objects["Ingress", ingress]["spec"]
        assert [r["host"] for r in spec["rules"]] == [host]
        assert spec["tls"] == [{"hosts": [host], "secretName": "api-tls"}]
    assert objects["ConfigMap", "api-config"]["data"]["PHX_HOST"] == api_host


def test_prod_is_stricter_than_dev(cfg, render):
    dev = by_key(render("dev"))
    prod = by_key(render("prod"))
    assert (
        prod["Deployment", "api"]["spec"]["replicas"] > dev["Deployment", "api"]["spec"]["replicas"]
    )
    assert ("PodDisruptionBudget", "api") in prod
    assert ("PodDisruptionBudget", "api") not in dev
    dev_limits = app_container(list(dev.values()))["resources"]["limits"]
    prod_limits = app_container(list(prod.values()))["resources"]["limits"]
    assert (dev_limits["memory"], prod_limits["memory"]) == ("256Mi", "512Mi")


def test_dev_telemetry_rolls_out_fast_and_prod_keeps_the_base(cfg, render):
    """dev: readiness read every second and one CPU for the start (500m throttles the
    service's import burst past the first probe); prod keeps the base's 5 s and 500m."""

    def telemetry(overlay: str) -> dict:
        objects = by_key(render(overlay))
        return objects["Deployment", "telemetry"]["spec"]["template"]["spec"]["containers"][0]

    dev, prod = telemetry("dev"), telemetry("prod")
    assert (dev["readinessProbe"]["periodSeconds"], dev["resources"]["limits"]["cpu"]) == (1, "1")
    assert (prod["readinessProbe"]["periodSeconds"], prod["resources"]["limits"]["cpu"]) == (
        5,
        "500m",
    )
    assert dev["resources"]["requests"] == prod["resources"]["requests"]
    assert dev["livenessProbe"] == prod["livenessProbe"]


def test_app_deployment_follows_the_contract(cfg, render):
    objects = by_key(render("dev"))
    pod = objects["Deployment", "api"]["spec"]["template"]["spec"]
    container = pod["containers"][0]
    assert container["name"] == "api"
    assert container["livenessProbe"]["httpGet"] == {"path": "/api/health", "port": "http"}
    assert container["readinessProbe"]["httpGet"] == {"path": "/api/ready", "port": "http"}
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert {"name": "tmp", "mountPath": "/tmp"} in container["volumeMounts"]
    assert container["envFrom"] == [
        {"configMapRef": {"name": "api-config"}},
        {"secretRef": {"name": "api-secrets"}},
    ]
    assert pod["securityContext"]["runAsNonRoot"] is True
    service = objects["Service", "api"]["spec"]["ports"]
    assert service == [{"name": "http", "port": 80, "targetPort": "http"}]


def test_redis_cache_component_wires_redis_url(cfg, render):
    objects = by_key(render("dev"))
    env = app_container(list(objects.values()))["env"]
    assert {
        "name": "REDIS_URL",
        "valueFrom": {"secretKeyRef": {"name": "api-secrets", "key": "REDIS_URL"}},
    } in env
    assert objects["ConfigMap", "api-config"]["data"]["CACHE_ENABLED"] == "true"
    assert objects["Service", "redis"]["spec"]["ports"][0]["port"] == 6379


def test_postgres_is_a_statefulset_with_a_claim_and_a_headless_service(cfg, render):
    objects = by_key(render("dev"))
    statefulset = objects["StatefulSet", "postgres"]["spec"]
    assert statefulset["serviceName"] == "postgres"
    assert statefulset["volumeClaimTemplates"][0]["metadata"]["name"] == "data"
    assert objects["Service", "postgres"]["spec"]["clusterIP"] == "None"
    container = statefulset["template"]["spec"]["containers"][0]
    assert container["envFrom"] == [{"secretRef": {"name": "postgres-credentials"}}]


@pytest.mark.parametrize("name", OVERLAYS)
def test_every_object_carries_the_standard_labels(cfg, name, render):
    for obj in render(name):
        labels = obj["metadata"]["labels"]
        assert labels["app.kubernetes.io/part-of"] == "gitops-lab", obj["kind"]
        assert labels["app.kubernetes.io/managed-by"] == "opskit", obj["kind"]
        assert "app.kubernetes.io/name" in labels, obj["kind"]
        assert "app.kubernetes.io/component" in labels, obj["kind"]


def test_render_many_matches_one_by_one(cfg):
    overlays = list(cfg.overlays.values())
    together = kustomize.render_many(cfg, overlays)
    assert together == {ov.name: kustomize.render_overlay(cfg, ov) for ov in overlays}


def test_split_image():
    assert kustomize.split_image("localhost:5000/a/b:1.2") == ("localhost:5000/a/b", "1.2", None)
    assert kustomize.split_image("localhost:5000/a/b") == ("localhost:5000/a/b", None, None)
    assert kustomize.split_image("redis@sha256:ab") == ("redis", None, "sha256:ab")


def test_render_many_falls_back_to_one_run_per_overlay(cfg, tmp_path):
    dev, prod = cfg.overlay("dev"), cfg.overlay("prod")
    same_namespace = dataclasses.replace(prod, namespace=dev.namespace)  # cannot be told apart
    rendered = kustomize.render_many(cfg, [dev, same_namespace])
    assert rendered["prod"] == kustomize.render_overlay(cfg, prod)
    (tmp_path / "kustomization.yaml").write_text("resources: [missing.yaml]\n")
    broken = dataclasses.replace(prod, path=tmp_path)
    with pytest.raises(CommandFailed, match=f"kubectl kustomize {tmp_path}"):
        kustomize.render_many(cfg, [dev, broken])
