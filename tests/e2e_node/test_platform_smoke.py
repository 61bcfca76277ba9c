"""`nox -s cluster-smoke` against the platform on the real node, reached as a user reaches it:
`invoke monitoring.install`, `invoke ingress.install`, `invoke deploy --overlay=dev`. Its
Prometheus, Ingress/TLS and in-pod checks then run for real; only what needs the api's image
(which cannot be built here) skips."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from tests.e2e.project import Project, cluster_smoke, make_project
from tests.e2e_node.conftest import _say, leave_no_overlay_behind
from tests.smoke.conftest import API_SIMULATED_REASON

pytestmark = pytest.mark.timeout(1200)  # the platform's images built if missing, the smoke run
FOR_REAL = {
    "test_https::test_prometheus_scrapes_the_service[telemetry]",
    "test_https::test_telemetry_is_ready_over_https",
    "test_https::test_telemetry_lists_its_devices_over_https",
    "test_https::test_a_certificate_from_another_ca_is_refused",
    "test_monitoring::test_servicemonitor_selects_the_api_service",
    "test_monitoring::test_servicemonitor_scrapes_metrics_on_the_http_port",
    "test_service_pods::test_telemetry_is_ready",
    "test_postgres_pod::test_postgres_answers",
}
API_IMAGE = ("test_api_pod::", "test_https::test_health_is_200", "test_https::test_item_round")


@pytest.fixture(scope="module")
def platform(real_cluster, tmp_path_factory) -> Iterator[Project]:
    project = make_project(tmp_path_factory.mktemp("smoke") / "repo", real_cluster.name)
    for step in (("monitoring.install",), ("ingress.install",), ("deploy", "--overlay=dev")):
        started = time.monotonic()
        project.invoke(*step)
        _say(f"invoke {' '.join(step)}: {time.monotonic() - started:.0f}s")
    yield project
    leave_no_overlay_behind(real_cluster.kube())


@pytest.fixture(scope="module")
def report(platform, tmp_path_factory) -> dict[str, tuple[str, str]]:
    started = time.monotonic()
    found = cluster_smoke(platform, tmp_path_factory.mktemp("junit") / "smoke.xml")
    _say(f"nox -s cluster-smoke: {len(found)} checks in {time.monotonic() - started:.0f}s")
    return found


def test_nothing_fails_and_only_what_needs_the_api_image_skips(report):
    assert [k for k, (outcome, _) in report.items() if outcome == "failed"] == []
    skipped = {k: why for k, (outcome, why) in report.items() if outcome == "skipped"}
    assert set(skipped.values()) <= {API_SIMULATED_REASON}, skipped
    assert all(k.startswith(API_IMAGE) or k.endswith("[api]") for k in skipped), skipped


def test_prometheus_ingress_tls_and_in_pod_checks_ran_for_real(report):
    ran = {k for k, (outcome, _) in report.items() if outcome == "passed"}
    assert ran >= FOR_REAL, sorted(FOR_REAL - ran)
    in_pods = [k for k in report if k.startswith(("test_service_pods", "test_postgres_pod"))]
    assert len(in_pods) >= 12 and set(in_pods) <= ran
    tls = [k for k in report if k.startswith("test_ingress_tls")]
    assert len(tls) >= 6 and set(tls) <= ran
