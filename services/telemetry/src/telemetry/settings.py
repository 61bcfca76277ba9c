"""Service settings from the environment (12-factor); a bad value is a one-line error."""

from __future__ import annotations

import os
import ssl
from dataclasses import dataclass
from pathlib import Path


class SettingsError(ValueError):
    """A setting is missing or malformed; the message says which and how to fix it."""


@dataclass(frozen=True)
class Broker:
    host: str
    port: int
    username: str
    password: str
    ca_file: str | None
    client_id: str

    def tls_context(self) -> ssl.SSLContext | None:
        """Verifying TLS context for the broker's CA; None means plain TCP (tests only)."""
        if not self.ca_file:
            return None
        return ssl.create_default_context(cafile=self.ca_file)


@dataclass(frozen=True)
class Settings:
    broker: Broker
    topic: str
    database_url: str | None  # None: libpq's PG* variables (PGHOST, PGUSER, ...)
    http_host: str
    http_port: int
    buffer_limit: int
    batch_size: int


def _int(env: dict[str, str], name: str, default: int) -> int:
    raw = env.get(name, str(default))
    try:
        value = int(raw)
    except ValueError:
        raise SettingsError(f"{name}={raw!r}: not an integer") from None
    if value <= 0:
        raise SettingsError(f"{name}={raw!r}: must be positive")
    return value


def secret(env: dict[str, str], name: str) -> str:
    """NAME, or the content of the file NAME_FILE names (a mounted Secret)."""
    if path := env.get(f"{name}_FILE"):
        try:
            return Path(path).read_text().strip()
        except OSError as exc:
            raise SettingsError(f"{name}_FILE={path}: {exc.strerror}") from None
    return env.get(name, "")


def broker_from(env: dict[str, str], client_id: str, username: str) -> Broker:
    """The MQTT_* settings shared by the service and the simulator."""
    return Broker(
        host=env.get("MQTT_HOST", "localhost"),
        port=_int(env, "MQTT_PORT", 8883),
        username=env.get("MQTT_USERNAME", username),
        password=secret(env, "MQTT_PASSWORD"),
        ca_file=env.get("MQTT_CA_FILE") or None,
        client_id=env.get("MQTT_CLIENT_ID", client_id),
    )


def load(env: dict[str, str] | None = None) -> Settings:
    """Settings of the service from `env` (default: the process environment)."""
    env = dict(os.environ if env is None else env)
    return Settings(
        broker=broker_from(env, client_id="telemetry", username="telemetry"),
        topic=env.get("MQTT_TOPIC", "devices/+/readings"),
        database_url=env.get("DATABASE_URL") or None,
        http_host=env.get("HTTP_HOST", "0.0.0.0"),
        http_port=_int(env, "HTTP_PORT", 8080),
        buffer_limit=_int(env, "BUFFER_LIMIT", 100_000),
        batch_size=_int(env, "BATCH_SIZE", 500),
    )
