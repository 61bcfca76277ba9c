"""`nox -s cluster-smoke` after `invoke deploy --overlay=dev` on kwok: the Kubernetes API
checks pass; in-pod and HTTPS checks are skipped with the reason (kwok runs no processes)."""

from __future__ import annotations

import pytest

from tests.e2e.project import Project, cluster_smoke, make_project

KWOK_REASON = "kwok simulates pods: no processes run"
IN_PODS = ("test_api_pod", "test_postgres_pod", "test_service_pods", "test_https")
API_LEVEL = ("test_workloads", "test_secrets", "test_ingress_tls")


@pytest.fixture(scope="module")
def deployed(tmp_path_factory, kwok_cluster) -> Project:
    project = make_project(tmp_path_factory.mktemp("smoke") / "repo", kwok_cluster.name)
    project.invoke("deploy", "--overlay=dev", "--timeout=120")
    return project


@pytest.fixture(scope="module")
def report(deployed, tmp_path_factory) -> dict[str, tuple[str, str]]:
    """Run the session like a user; {test id: (outcome, skip reason)} from its JUnit XML."""
    return cluster_smoke(deployed, tmp_path_factory.mktemp("junit") / "smoke.xml")


def test_api_level_checks_pass(report):
    api = {k: v for k, v in report.items() if k.startswith(API_LEVEL)}
    assert len(api) >= 15
    assert {k: v for k, v in api.items() if v[0] != "passed"} == {}


def test_in_pod_and_https_checks_are_skipped_with_the_reason(report):
    in_pods = {k: v for k, v in report.items() if k.startswith(IN_PODS)}
    assert len(in_pods) >= 6
    assert set(in_pods.values()) == {("skipped", KWOK_REASON)}


def test_nothing_failed_and_servicemonitor_is_checked_or_explained(report):
    assert [k for k, v in report.items() if v[0] == "failed"] == []
    monitors = [v for k, v in report.items() if k.startswith("test_monitoring")]
    assert monitors and all(
        outcome == "passed" or "does not serve monitoring.coreos.com" in reason
        for outcome, reason in monitors
    )
