"""Over HTTPS through the Ingress, trusting the mkcert CA (and refusing another CA); and
Prometheus scraping the overlay's ServiceMonitors' targets."""

import json
import socket
import subprocess
import urllib.parse
import uuid

import pytest

from opskit.core import https as client
from opskit.core.errors import OpsError
from tests.smoke.conftest import API_SIMULATED_REASON, NO_PROMETHEUS_REASON, host_of


@pytest.fixture
def api_host(api_runs, overlay) -> str:
    return host_of(overlay, "api")


@pytest.fixture
def telemetry_host(overlay) -> str:
    return host_of(overlay, "telemetry")


def test_health_is_200(https, api_host):
    status, _ = https(api_host, "GET", "/api/health")
    assert status == 200


def test_item_round_trip(https, api_host):
    name = f"smoke-{uuid.uuid4().hex[:8]}"
    status, created = https(api_host, "POST", "/api/items", {"item": {"name": name}})
    assert status == 201, created
    path = f"/api/items/{created['data']['id']}"
    assert https(api_host, "GET", path) == (200, {"data": created["data"]})
    assert https(api_host, "DELETE", path)[0] == 204
    assert https(api_host, "GET", path)[0] == 404


def test_telemetry_is_ready_over_https(ingress_https, telemetry_host):
    assert ingress_https(telemetry_host, "GET", "/ready") == (
        200,
        {"broker": True, "database": True},
    )


def test_telemetry_lists_its_devices_over_https(ingress_https, telemetry_host):
    status, body = ingress_https(telemetry_host, "GET", "/api/devices")
    assert status == 200 and isinstance(body["devices"], list), body


def test_a_certificate_from_another_ca_is_refused(ingress_https, target, telemetry_host, tmp_path):
    """The Ingress answers (above) with a certificate only the mkcert CA vouches for."""
    other = tmp_path / "other-ca.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-subj", "/CN=not the project CA", "-keyout", str(tmp_path / "key.pem"),
         "-out", str(other)],
        check=True, capture_output=True, timeout=60,
    )  # fmt: skip
    address, port = target.ingress.rsplit(":", 1)
    wrong = client.Client(other, addresses={telemetry_host: socket.gethostbyname(address)})
    with pytest.raises(OpsError, match="is not trusted by"):
        wrong.call("GET", f"https://{telemetry_host}:{port}/ready")


def scrape_up(kube, cfg, overlay, service: str) -> list[str]:
    """Values of `up` for the service's targets, asked of Prometheus through the API server
    proxy."""
    query = urllib.parse.quote(f'up{{namespace="{overlay.namespace}",service="{service}"}}')
    path = (
        f"/api/v1/namespaces/{cfg.monitoring.namespace}/services/prometheus-operated:web"
        f"/proxy/api/v1/query?query={query}"
    )
    result = kube.run("get", "--raw", path, check=False, timeout=30)
    if result.returncode != 0:
        return []
    return [r["value"][1] for r in json.loads(result.stdout)["data"]["result"]]


def prometheus_installed(kube, cfg) -> bool:
    """The operator's Service for Prometheus exists (kube-prometheus-stack, or the real
    node's operator and Prometheus)."""
    argv = ("get", "service", "prometheus-operated", "-n", cfg.monitoring.namespace, "-o", "name")
    return kube.run(*argv, check=False, timeout=30).returncode == 0


@pytest.mark.parametrize("service", ["api", "telemetry"])
def test_prometheus_scrapes_the_service(
    in_containers, kube, cfg, overlay, target, k8s, eventually, service
):
    if not prometheus_installed(kube, cfg):
        pytest.skip(NO_PROMETHEUS_REASON)
    if service == "api" and target.api_simulated:
        pytest.skip(API_SIMULATED_REASON)  # a simulated pod: nothing answers its /metrics
    k8s.get("service", service)  # the overlay runs it (a missing one fails, saying so)

    # a fresh target waits for discovery, a config reload and its first scrape (interval 30 s
    # in the ServiceMonitor): 56-71 s on the real node (docs/platform.md)
    def all_up() -> bool:
        values = scrape_up(kube, cfg, overlay, service)
        return bool(values) and all(v == "1" for v in values)

    assert eventually(all_up, timeout=180), (
        f"up = {scrape_up(kube, cfg, overlay, service) or 'no target'}"
    )
