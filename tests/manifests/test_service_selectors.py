"""A Service must select a pod template of its overlay: else it routes nowhere, silently."""

from __future__ import annotations

import pytest

from opskit.manifests import kustomize, validate

LABELS = {
    "app.kubernetes.io/name": "metrics",
    "app.kubernetes.io/part-of": "gitops-lab",
    "app.kubernetes.io/managed-by": "opskit",
}


def _selector_patch(service: str, selector: dict) -> dict:
    return {
        "target": {"kind": "Service", "name": service},
        "ops": [{"op": "replace", "path": "/spec/selector", "value": selector}],
    }


def _service(name: str, spec: dict) -> dict:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name, "labels": {**LABELS, "app.kubernetes.io/name": name}},
        "spec": spec,
    }


def check(cfg, overlay) -> list[str]:
    return validate.validate_objects(cfg, overlay, kustomize.render_overlay(cfg, overlay))


def test_a_selector_matching_no_pod_template_is_named(cfg, broken_overlay):
    overlay = broken_overlay([_selector_patch("api", {"app.kubernetes.io/name": "apii"})])
    assert check(cfg, overlay) == [
        "dev/Service/api: spec.selector: app.kubernetes.io/name=apii matches no pod template "
        "in dev (Deployments, StatefulSets, DaemonSets, Jobs, CronJobs, Pods); fix the "
        "selector or the pod labels"
    ]


def test_every_label_of_the_selector_must_match_one_template(cfg, broken_overlay):
    # name=api is the api pods, component=cache the redis pods: no single pod has both
    selector = {"app.kubernetes.io/name": "api", "app.kubernetes.io/component": "cache"}
    overlay = broken_overlay([_selector_patch("api", selector)])
    (line,) = check(cfg, overlay)
    assert line.startswith(
        "dev/Service/api: spec.selector: app.kubernetes.io/component=cache,"
        "app.kubernetes.io/name=api matches no pod template in dev"
    )


@pytest.mark.parametrize(
    "spec",
    [
        {"ports": [{"port": 80}]},  # no selector: endpoints managed by hand
        {"type": "ExternalName", "externalName": "db.example.com"},
    ],
)
def test_services_without_a_selector_are_not_checked(cfg, broken_overlay, spec):
    overlay = broken_overlay([], {"external.yaml": _service("external", spec)})
    assert check(cfg, overlay) == []
