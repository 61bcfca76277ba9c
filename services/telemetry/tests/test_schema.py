"""The reading schema and the settings, without servers."""

from __future__ import annotations

import json

import pytest
from telemetry import schema, settings

GOOD = {"id": "r-1", "seq": 0, "ts": "2026-01-01T00:00:00+00:00", "values": {"temperature": 21.5}}


def payload(**changes) -> bytes:
    return json.dumps({**GOOD, **changes}).encode()


def test_a_reading_parses_with_its_device():
    device, reading = schema.parse("devices/dev-1/readings", payload())
    assert (device, reading.id, reading.values) == ("dev-1", "r-1", {"temperature": 21.5})


@pytest.mark.parametrize(
    ("topic", "body", "reason"),
    [
        ("devices/dev-1/readings", b"[", "json"),
        (
            "devices/dev-1/readings",
            payload(values={"t": float("nan")}).replace(b"NaN", b"1e999"),
            "schema",
        ),
        ("devices/dev-1/readings", payload(values={"Bad-Name": 1}), "schema"),
        ("devices/dev-1/readings", payload(id="has space"), "schema"),
        ("devices/dev-1/readings", payload(seq="1"), "schema"),
        ("devices/dev-1/readings", b" " * 5000, "size"),
        ("devices/dev-1/other", payload(), "topic"),
        ("devices/-x/readings", payload(), "topic"),
    ],
)
def test_what_is_not_a_reading_is_rejected_with_a_reason(topic, body, reason):
    with pytest.raises(schema.Rejected) as caught:
        schema.parse(topic, body)
    assert caught.value.reason == reason
    assert str(caught.value)


def test_settings_from_the_environment(tmp_path):
    secret = tmp_path / "password"
    secret.write_text("s3cret\n")
    got = settings.load({"MQTT_PASSWORD_FILE": str(secret), "MQTT_PORT": "18883"})
    assert (got.broker.password, got.broker.port, got.broker.client_id) == (
        "s3cret",
        18883,
        "telemetry",
    )
    assert got.broker.tls_context() is None


@pytest.mark.parametrize(
    ("env", "says"),
    [({"HTTP_PORT": "web"}, "HTTP_PORT='web': not an integer"), ({"BATCH_SIZE": "0"}, "positive")],
)
def test_bad_settings_are_one_line_errors(env, says):
    with pytest.raises(settings.SettingsError, match=says):
        settings.load(env)
