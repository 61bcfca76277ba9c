"""Over HTTPS through the Ingress, trusting the mkcert CA; and Prometheus scraping the api."""

import json
import urllib.parse
import uuid

import pytest

pytestmark = pytest.mark.usefixtures("api_runs")


def test_health_is_200(https, overlay_host):
    status, _ = https(overlay_host, "GET", "/api/health")
    assert status == 200


def test_item_round_trip(https, overlay_host):
    name = f"smoke-{uuid.uuid4().hex[:8]}"
    status, created = https(overlay_host, "POST", "/api/items", {"item": {"name": name}})
    assert status == 201, created
    path = f"/api/items/{created['data']['id']}"
    assert https(overlay_host, "GET", path) == (200, {"data": created["data"]})
    assert https(overlay_host, "DELETE", path)[0] == 204
    assert https(overlay_host, "GET", path)[0] == 404


def scrape_up(kube, cfg, overlay) -> list[str]:
    """Values of `up` for the api's targets, asked of Prometheus through the API server proxy."""
    query = urllib.parse.quote(f'up{{namespace="{overlay.namespace}",service="api"}}')
    path = (
        f"/api/v1/namespaces/{cfg.monitoring.namespace}/services/prometheus-operated:web"
        f"/proxy/api/v1/query?query={query}"
    )
    result = kube.run("get", "--raw", path, check=False, timeout=30)
    if result.returncode != 0:
        return []
    return [r["value"][1] for r in json.loads(result.stdout)["data"]["result"]]


def prometheus_installed(kube, cfg) -> bool:
    """The operator's Service for Prometheus exists (kube-prometheus-stack is installed)."""
    argv = ("get", "service", "prometheus-operated", "-n", cfg.monitoring.namespace, "-o", "name")
    return kube.run(*argv, check=False, timeout=30).returncode == 0


def test_prometheus_scrapes_the_api(kube, cfg, overlay, eventually):
    if not prometheus_installed(kube, cfg):
        pytest.skip("no Prometheus in the cluster (`invoke monitoring.install` installs it)")

    # a fresh target waits for its first scrape (interval 30s in the ServiceMonitor)
    def all_up() -> bool:
        values = scrape_up(kube, cfg, overlay)
        return bool(values) and all(v == "1" for v in values)

    assert eventually(all_up, timeout=90), f"up = {scrape_up(kube, cfg, overlay) or 'no target'}"
