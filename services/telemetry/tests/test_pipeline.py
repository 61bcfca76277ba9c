"""Simulated devices through a real Mosquitto into a real PostgreSQL, read back over HTTP."""

from __future__ import annotations

from service import simulate


def test_every_reading_is_stored_exactly_once(service, broker, credentials, postgres, database):
    report = simulate(broker, credentials, "--devices=50", "--readings=20", "--rate=20")
    assert report["published"] == 1000, report
    service.wait_stored(1000)
    count = "SELECT count(*), count(DISTINCT (device, id)) FROM telemetry.readings"
    assert postgres.query(database, count) == [["1000", "1000"]]
    devices = service.get("/api/devices").json()["devices"]
    assert len(devices) == 50
    assert {d["readings"] for d in devices} == {20}
    m = service.metrics()
    assert m["telemetry_messages_received_total"] == 1000
    assert m["telemetry_readings_duplicate_total"] == 0
