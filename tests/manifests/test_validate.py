"""Schemas + policies: the real overlays pass; each broken overlay fails with its exact line."""

from __future__ import annotations

import copy

import pytest

from opskit.core.errors import OpsError
from opskit.manifests import kustomize, validate

CONTAINER = "spec.template.spec.containers[0]"
IMAGE = "localhost:5000/gitops-lab/api"
MISSING_PROBE = {
    "target": {"kind": "Deployment", "name": "api"},
    "ops": [{"op": "remove", "path": "/spec/template/spec/containers/0/readinessProbe"}],
}
LATEST_TAG = {
    "target": {"kind": "Deployment", "name": "api"},
    "ops": [
        {
            "op": "replace",
            "path": "/spec/template/spec/containers/0/image",
            "value": f"{IMAGE}:latest",
        }
    ],
}
UNKNOWN_FIELD = {
    "target": {"kind": "Deployment", "name": "api"},
    "ops": [
        {
            "op": "add",
            "path": "/spec/template/spec/containers/0/livenessProbe/httpGett",
            "value": {"path": "/api/health"},
        }
    ],
}
LABELS = {
    "app.kubernetes.io/name": "api",
    "app.kubernetes.io/part-of": "gitops-lab",
    "app.kubernetes.io/managed-by": "opskit",
}
PLAINTEXT_SECRET = {
    "apiVersion": "v1",
    "kind": "Secret",
    "metadata": {"name": "api-secrets", "labels": LABELS},
    "stringData": {"SECRET_KEY_BASE": "not-a-real-key"},
}
LINES = {  # the exact report line of each defect
    "missing probe": (
        f"dev/Deployment/api: {CONTAINER}.readinessProbe: "
        "missing; every container needs liveness and readiness probes"
    ),
    "latest tag": (
        f'dev/Deployment/api: {CONTAINER}.image: "{IMAGE}:latest" '
        "uses the mutable tag latest; pin a version tag or a digest"
    ),
    "unknown field": (
        f'dev/Deployment/api: {CONTAINER}.livenessProbe.httpGett: unknown field "httpGett"'
    ),
    "plaintext secret": (
        "dev/Secret/api-secrets: stringData: plaintext Secret in the rendered dev manifests; "
        "keep Secrets SOPS-encrypted in the overlay's secrets/ folder (`invoke secrets.encrypt`)"
    ),
}


def check(cfg, overlay) -> list[str]:
    return validate.validate_objects(cfg, overlay, kustomize.render_overlay(cfg, overlay))


def test_every_overlay_and_argocd_is_valid(cfg):
    report = validate.validate_all(cfg)
    assert [str(v) for v in report.violations] == []
    assert report.targets == ["dev", "prod", "argocd"]


@pytest.mark.parametrize("name", ["dev", "prod"])
def test_each_overlay_is_valid_alone(cfg, name):
    assert check(cfg, cfg.overlay(name)) == []


@pytest.mark.parametrize(
    ("defect", "patches", "files"),
    [
        ("missing probe", [MISSING_PROBE], None),
        ("latest tag", [LATEST_TAG], None),
        ("unknown field", [UNKNOWN_FIELD], None),
        ("plaintext secret", [], {"secret.yaml": PLAINTEXT_SECRET}),
    ],
)
def test_a_broken_overlay_fails_with_the_exact_line(cfg, broken_overlay, defect, patches, files):
    assert check(cfg, broken_overlay(patches, files)) == [LINES[defect]]


def test_all_violations_are_reported_at_once(cfg, broken_overlay):
    overlay = broken_overlay(
        [MISSING_PROBE, LATEST_TAG, UNKNOWN_FIELD], {"secret.yaml": PLAINTEXT_SECRET}
    )
    assert sorted(check(cfg, overlay)) == sorted(LINES.values())


def test_validate_all_names_unknown_overlays_in_one_line(cfg):
    with pytest.raises(OpsError, match="unknown overlay 'nope'; use one of: dev, prod"):
        validate.validate_all(cfg, ["nope"])


# -- schemas ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def schemas(cfg):
    return validate.load_schemas(cfg.kubernetes.version)


@pytest.fixture
def deployment(render):
    objects = render("dev")
    return copy.deepcopy(next(o for o in objects if o["kind"] == "Deployment"))


def test_schemas_are_the_minor_version_of_opskit_yaml(schemas):
    assert schemas.version == "1.37"
    assert ("apps/v1", "Deployment") in schemas.kinds
    assert ("policy/v1", "PodDisruptionBudget") in schemas.kinds


def test_schema_reports_wrong_types_and_missing_required_fields(schemas, deployment):
    pod = deployment["spec"]["template"]["spec"]
    pod["containers"][0]["ports"][0]["containerPort"] = "4000"
    del pod["containers"][0]["name"]
    pod["automountServiceAccountToken"] = "yes"
    assert schemas.check(deployment) == [
        ("spec.template.spec.automountServiceAccountToken", "expected boolean, got string"),
        ("spec.template.spec.containers[0].name", "required field is missing"),
        ("spec.template.spec.containers[0].ports[0].containerPort", "expected integer, got string"),
    ]


def test_schema_accepts_int_or_string_and_quantities(schemas, deployment):
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    container["livenessProbe"]["httpGet"]["port"] = 4000
    container["resources"]["limits"]["cpu"] = 1
    container["resources"]["limits"]["memory"] = 1.5
    assert schemas.check(deployment) == []
    container["resources"]["limits"]["cpu"] = True
    assert schemas.check(deployment) == [
        (
            "spec.template.spec.containers[0].resources.limits.cpu",
            "expected string or number, got boolean",
        ),
    ]


def test_unknown_kinds_have_no_schema(schemas):
    obj = {"apiVersion": "apps/v2", "kind": "Deployment", "metadata": {"name": "x"}}
    assert schemas.check(obj) == [
        (
            "apiVersion",
            "no schema for apps/v2 Deployment in Kubernetes 1.37 or the CRDs this repo uses",
        ),
    ]


def test_a_kubernetes_version_without_schemas_is_one_actionable_error():
    with pytest.raises(OpsError, match=r"has no schemas for Kubernetes 1\.99 \(it has .*v1\.32"):
        validate.schema_folder("1.99.0")


# -- policies --------------------------------------------------------------------------------


def problems(cfg, obj, target="dev") -> list[str]:
    return [
        str(v) for v in validate.check_target(cfg, validate.Target.of(cfg.overlay(target)), [obj])
    ]


def test_root_missing_resources_and_no_tag_are_reported(cfg, deployment):
    pod = deployment["spec"]["template"]["spec"]
    del pod["securityContext"]["runAsNonRoot"]
    pod["containers"][0]["securityContext"]["runAsUser"] = 0
    del pod["containers"][0]["resources"]["limits"]
    pod["containers"][0]["image"] = "redis"
    assert problems(cfg, deployment) == [
        f'dev/Deployment/api: {CONTAINER}.image: "redis" has no tag; pin a version tag or a digest',
        f"dev/Deployment/api: {CONTAINER}.resources.limits.cpu: missing; every container "
        "needs cpu and memory requests and limits",
        f"dev/Deployment/api: {CONTAINER}.resources.limits.memory: missing; every container "
        "needs cpu and memory requests and limits",
        f"dev/Deployment/api: {CONTAINER}.securityContext.runAsNonRoot: must be true (on the "
        "container or the pod); containers run as non-root",
        f"dev/Deployment/api: {CONTAINER}.securityContext.runAsUser: is 0 (root); use a "
        "non-root uid",
        f"dev/Deployment/api: {CONTAINER}.resources.limits.ephemeral-storage: missing; "
        "bound the container's logs and writable layer",
    ]


def test_digests_are_pinned_images(cfg, deployment):
    deployment["spec"]["template"]["spec"]["containers"][0]["image"] = "redis@sha256:0a1b"
    assert problems(cfg, deployment) == []


def test_objects_must_live_in_the_overlay_namespace(cfg, deployment):
    deployment["metadata"]["namespace"] = "default"
    role = {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRole",
        "metadata": {"name": "reader", "labels": LABELS},
    }
    namespace = {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {"name": "other", "labels": LABELS},
    }
    assert [*problems(cfg, deployment), *problems(cfg, role), *problems(cfg, namespace)] == [
        'dev/Deployment/api: metadata.namespace: is "default", expected "gitops-lab-dev"',
        "dev/ClusterRole/reader: kind: cluster-scoped ClusterRole does not belong in dev",
        'dev/Namespace/other: metadata.name: Namespace "other" is not this target\'s '
        'namespace "gitops-lab-dev"',
    ]


def test_ingress_must_serve_tls_for_the_overlay_hosts(cfg, render):
    ingress = next(o for o in render("dev") if o["kind"] == "Ingress")
    ingress["spec"]["rules"][0]["host"] = "other.localhost"
    assert problems(cfg, ingress) == [
        'dev/Ingress/api: spec.rules[0].host: "other.localhost" has no entry in spec.tls',
        "dev/Ingress/api: spec.rules: hosts other.localhost not in overlays.dev.hosts in "
        "opskit.yaml (api.dev.gitops-lab.localhost, telemetry.dev.gitops-lab.localhost)",
    ]
    del ingress["spec"]["tls"]
    assert problems(cfg, ingress)[0] == (
        "dev/Ingress/api: spec.tls: missing; an Ingress serves HTTPS only (use the tls-ingress "
        "component)"
    )


def test_labels_are_required(cfg, deployment):
    deployment["metadata"]["labels"] = {}
    assert problems(cfg, deployment) == [
        "dev/Deployment/api: metadata.labels: missing app.kubernetes.io/part-of: gitops-lab",
        "dev/Deployment/api: metadata.labels: missing app.kubernetes.io/managed-by: opskit",
        "dev/Deployment/api: metadata.labels: missing app.kubernetes.io/name",
    ]


# -- CRD kinds -------------------------------------------------------------------------------


def test_crd_kinds_are_checked_strictly_on_the_fields_this_repo_writes(cfg, schemas, render):
    monitor = next(o for o in render("dev") if o["kind"] == "ServiceMonitor")
    assert schemas.check(monitor) == []
    monitor["spec"]["endpoints"][0]["scheme"] = "ftp"
    monitor["spec"]["endpoints"][0]["intervall"] = "30s"
    del monitor["spec"]["endpoints"][0]["path"]
    assert schemas.check(monitor) == [
        ("spec.endpoints[0].path", "required field is missing"),
        ("spec.endpoints[0].scheme", '"ftp" is not one of: http, https'),
        ("spec.endpoints[0].intervall", 'unknown field "intervall"'),
    ]


def test_service_monitor_must_select_a_service_port_of_the_overlay(cfg, render):
    objects = render("dev")
    monitor = next(o for o in objects if o["kind"] == "ServiceMonitor")
    monitor["spec"]["endpoints"][0]["port"] = "metrics"
    target = validate.Target.of(cfg.overlay("dev"))
    assert [str(v) for v in validate.check_target(cfg, target, objects)] == [
        'dev/ServiceMonitor/api: spec.endpoints[0].port: "metrics" is not a port name of the '
        "selected Service",
    ]
    monitor["spec"]["selector"]["matchLabels"] = {"app.kubernetes.io/name": "nothing"}
    assert [str(v) for v in validate.check_target(cfg, target, objects)] == [
        "dev/ServiceMonitor/api: spec.selector.matchLabels: selects no Service of this overlay",
    ]
