"""The HTTP API over real readings: devices, readings since a time, health and bad requests."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
from service import Service, simulate


@pytest.fixture(scope="module")
def filled(broker, credentials, postgres, tmp_path_factory):
    """One service with 3 devices x 5 readings stored, shared by the read-only tests here."""
    postgres.create_database("t_api_filled")
    folder = tmp_path_factory.mktemp("api")
    svc = Service(broker, postgres.dsn("t_api_filled"), "telemetry-api", folder).start()
    svc.wait_subscribed()
    report = simulate(broker, credentials, "--devices=3", "--readings=5", "--rate=50")
    assert report["published"] == 15
    svc.wait_stored(15)
    yield svc
    svc.stop()


def test_devices_lists_each_with_its_count(filled):
    devices = filled.get("/api/devices").json()["devices"]
    assert [(d["id"], d["readings"]) for d in devices] == [(f"device-{i:03d}", 5) for i in range(3)]


def test_readings_since_a_time(filled):
    all_ = filled.get("/api/devices/device-001/readings").json()["readings"]
    assert [r["seq"] for r in all_] == [0, 1, 2, 3, 4]
    assert set(all_[0]["values"]) == {"temperature", "humidity"}
    later = filled.get("/api/devices/device-001/readings", since=all_[2]["ts"]).json()
    assert [r["seq"] for r in later["readings"]] == [2, 3, 4]
    limited = filled.get("/api/devices/device-001/readings", limit="2").json()["readings"]
    assert [r["seq"] for r in limited] == [0, 1]


@pytest.mark.parametrize(
    ("path", "params", "status", "says"),
    [
        ("/api/devices/device-001/readings", {"since": "yesterday"}, 400, "ISO 8601"),
        ("/api/devices/device-001/readings", {"since": "2026-01-01T00:00:00"}, 400, "time zone"),
        ("/api/devices/device-001/readings", {"limit": "0"}, 400, "1 to 1000"),
        ("/api/devices/no%20such/readings", {}, 400, "device id"),
        ("/api/devices/device-099/readings", {}, 404, "GET /api/devices"),
    ],
)
def test_bad_requests_say_what_to_fix(filled, path, params, status, says):
    response = filled.get(path, **params)
    assert response.status_code == status
    assert says in response.json()["error"]


def test_health_ready_and_metrics(service):
    assert service.get("/health").json() == {"status": "ok"}
    assert service.get("/ready").json() == {"broker": True, "database": True}
    text = service.get("/metrics").text
    for name in (
        "messages_received_total",
        "readings_stored_total",
        "lag_seconds",
        "buffer_readings",
    ):
        assert f"telemetry_{name}" in text


SCRIPTS = Path(__file__).resolve().parents[3] / "scripts"


def script(service, name: str, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "TELEMETRY_URL": service.url}
    argv = [str(SCRIPTS / name), *args]
    return subprocess.run(argv, env=env, capture_output=True, text=True, timeout=30, check=False)


def test_curl_wrappers_call_the_real_service(filled):
    devices = json.loads(script(filled, "telemetry-devices.sh").stdout)["devices"]
    assert len(devices) == 3
    first = json.loads(script(filled, "telemetry-readings.sh", "device-000").stdout)
    since = first["readings"][3]["ts"]  # has a `+`, which the script must URL-encode
    later = json.loads(script(filled, "telemetry-readings.sh", "device-000", since).stdout)
    assert [r["seq"] for r in later["readings"]] == [3, 4]
    assert json.loads(script(filled, "telemetry-ready.sh").stdout) == {
        "broker": True,
        "database": True,
    }


def test_curl_wrappers_fail_with_the_status_and_refuse_bad_ids(filled):
    missing = script(filled, "telemetry-readings.sh", "device-099")
    assert missing.returncode == 1
    assert "HTTP 404 from GET" in missing.stderr
    assert "GET /api/devices lists them" in missing.stderr
    assert "invalid device id" in script(filled, "telemetry-readings.sh", "../x").stderr
