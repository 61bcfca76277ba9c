"""Kubernetes API level: Prometheus is told to scrape the api (where the cluster serves it)."""

import pytest

from opskit.gitops.monitoring import SERVICEMONITORS


@pytest.fixture(scope="module")
def servicemonitor(k8s):
    if not k8s.serves(SERVICEMONITORS):
        pytest.skip(
            "the cluster does not serve monitoring.coreos.com ServiceMonitor "
            "(`invoke monitoring.install` adds it)"
        )
    return k8s.get(SERVICEMONITORS, "api")


def test_servicemonitor_selects_the_api_service(servicemonitor, k8s):
    selector = servicemonitor["spec"]["selector"]["matchLabels"]
    service = k8s.get("service", "api")
    assert selector.items() <= service["metadata"]["labels"].items()


def test_servicemonitor_scrapes_metrics_on_the_http_port(servicemonitor):
    endpoints = [(e.get("port"), e.get("path")) for e in servicemonitor["spec"]["endpoints"]]
    assert ("http", "/metrics") in endpoints
