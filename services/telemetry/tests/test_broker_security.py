"""The broker admits only TLS clients with a valid password; messages that are not readings are
rejected and counted by the service, which keeps running."""

from __future__ import annotations

import subprocess

import pytest
from infra import HOST
from service import simulate


def pub(broker, payload: bytes = b"{}", user="device-000", password=None, tls=True):
    """mosquitto_pub of one QoS 1 message on the device's topic; the completed process."""
    argv = ["mosquitto_pub", "-h", HOST, "-p", str(broker.port), "-q", "1", "-i", f"pub-{user}"]
    if tls:
        argv += ["--cafile", str(broker.pki.ca)]
    if user:
        argv += ["-u", user, "-P", broker.users[user] if password is None else password]
    argv += ["-t", f"devices/{user or 'anonymous'}/readings", "-s"]
    return subprocess.run(argv, input=payload, capture_output=True, timeout=20, check=False)


def test_valid_password_over_tls_is_accepted(broker):
    done = pub(broker)
    assert done.returncode == 0, done.stderr


@pytest.mark.parametrize(
    ("user", "password", "tls"),
    [("device-000", "wrong", True), ("", None, True), ("device-000", None, False)],
    ids=["wrong-password", "anonymous", "plain-tcp"],
)
def test_broker_refuses(broker, user, password, tls):
    done = pub(broker, user=user, password=password, tls=tls)
    assert done.returncode != 0
    assert done.stderr, "mosquitto_pub failed without saying why"


def test_simulator_with_a_wrong_password_publishes_nothing(broker, tmp_path):
    creds = tmp_path / "bad.txt"
    creds.write_text("device-001:not-the-password\n")
    report = simulate(broker, creds, "--devices=1", "--readings=3", "--seconds=2")
    assert (report["published"], report["exit"]) == (0, 1)
    assert any("not authori" in e.lower() for e in report["errors"]), report


MALFORMED = {
    "json": [b"{not json"],
    "size": [b'{"id": "' + b"x" * 5000 + b'"}'],
    "schema": [
        b'{"id": "a", "seq": -1, "ts": "2026-01-01T00:00:00Z", "values": {"t": 1}}',
        b'{"id": "b", "seq": 1, "ts": "2026-01-01T00:00:00Z", "values": {"t": 1}, "x": 1}',
        b'{"id": "c", "seq": 1, "ts": "2026-01-01T00:00:00", "values": {"t": 1}}',
        b'{"id": "d", "seq": 1, "ts": "2026-01-01T00:00:00Z", "values": {}}',
    ],
}


def test_malformed_messages_are_rejected_and_counted(service, broker, credentials):
    for payloads in MALFORMED.values():
        for payload in payloads:
            assert pub(broker, payload, user="device-002").returncode == 0
    expected = {reason: len(p) for reason, p in MALFORMED.items()}
    service.wait_until("all rejected", lambda: service.rejected() == expected)
    report = simulate(broker, credentials, "--devices=1", "--readings=2")
    assert report["published"] == 2
    service.wait_stored(2)
    assert service.metrics()["telemetry_messages_received_total"] == 8
    assert "rejected message on devices/device-002/readings: seq:" in service.log()
