"""Faults: the broker restarts mid-run, the database goes away for a while."""

from __future__ import annotations

import signal
import time

from service import finish, simulate

COUNT = "SELECT count(*), count(DISTINCT (device, id)) FROM telemetry.readings"


def test_broker_restart_loses_and_duplicates_nothing(
    service, broker, credentials, postgres, database
):
    sim = simulate(
        broker, credentials, "--devices=50", "--readings=40", "--rate=10", background=True
    )
    received = "telemetry_messages_received_total"
    service.wait_until("devices publishing", lambda: service.metrics()[received] >= 200)
    service.proc.send_signal(signal.SIGSTOP)  # the service comes back after the devices do:
    try:  # what they publish meanwhile only reaches it through its persisted session
        broker.restart()
        time.sleep(1.5)
    finally:
        service.proc.send_signal(signal.SIGCONT)
    report = finish(sim)
    assert report["published"] == 2000, report
    assert report["connects"] >= 100, f"devices did not reconnect: {report}"
    service.wait_stored(2000)
    assert postgres.query(database, COUNT) == [["2000", "2000"]]
    assert service.metrics()["telemetry_broker_connects_total"] >= 2


def test_database_outage_fails_ready_then_stores_everything(
    service, broker, credentials, postgres, database
):
    assert service.get("/ready").status_code == 200
    postgres.stop()
    try:
        ready = service.get("/ready")
        assert (ready.status_code, ready.json()) == (503, {"broker": True, "database": False})
        report = simulate(broker, credentials, "--devices=10", "--readings=10", "--rate=50")
        assert report["published"] == 100, report
        service.wait_metric("telemetry_buffer_readings", 100)
        assert service.get("/api/devices").status_code == 503
    finally:
        postgres.start()
    service.wait_stored(100)
    assert postgres.query(database, COUNT) == [["100", "100"]]
    assert service.get("/ready").status_code == 200
    assert "database unavailable" in service.log()


def test_full_buffer_drops_are_counted(broker, credentials, postgres, database, tmp_path):
    from service import Service

    svc = Service(broker, postgres.dsn(database), f"tiny-{database}", tmp_path, BUFFER_LIMIT="30")
    postgres.stop()
    try:
        svc.start().wait_subscribed()
        report = simulate(broker, credentials, "--devices=5", "--readings=10", "--rate=50")
        assert report["published"] == 50
        svc.wait_until("20 dropped", lambda: svc.metrics().get(
            'telemetry_readings_dropped_total{reason="buffer_full"}') == 20)  # fmt: skip
    finally:
        postgres.start()
    svc.wait_stored(30)
    assert "buffer full" in svc.log()
    svc.stop()
