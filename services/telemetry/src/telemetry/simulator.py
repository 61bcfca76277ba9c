"""Simulated devices: each its own MQTT client id and credentials, publishing QoS 1 readings.

A device publishes `readings` readings at `rate` per second, stopping early at `seconds`.
A reading keeps its id until the broker acknowledges it: after a lost connection the device
reconnects with backoff and publishes it again, and the service stores it once.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import random
import time
import uuid
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import aiomqtt

from telemetry.backoff import Backoff
from telemetry.settings import Broker, SettingsError, broker_from

PUBLISH_TIMEOUT = 3.0  # a publish not acknowledged by then is sent again on a new connection


@dataclass(frozen=True)
class Options:
    broker: Broker
    credentials: tuple[tuple[str, str], ...]
    readings: int
    rate: float
    seconds: float
    run_id: str


@dataclass
class Report:
    devices: int
    wanted: int
    published: int = 0
    republished: int = 0
    connects: int = 0
    seconds: float = 0.0
    errors: list[str] = field(default_factory=list)

    @property
    def complete(self) -> bool:
        return self.published == self.wanted

    def as_dict(self) -> dict[str, object]:
        return {**asdict(self), "errors": self.errors[:5], "rate": self._rate()}

    def _rate(self) -> float:
        return round(self.published / self.seconds, 1) if self.seconds else 0.0


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--devices", type=int, default=10, help="number of devices (default 10)")
    parser.add_argument("--readings", type=int, default=20, help="readings per device")
    parser.add_argument("--rate", type=float, default=5.0, help="readings per second per device")
    parser.add_argument("--seconds", type=float, default=60.0, help="stop after this long")
    parser.add_argument(
        "--credentials",
        required=True,
        help="file of `device:password` lines; device i uses line i ($MQTT_HOST & co: broker)",
    )
    parser.add_argument("--run-id", default="", help="prefix of reading ids (default: random)")


def read_credentials(path: str, count: int) -> tuple[tuple[str, str], ...]:
    """The first `count` `device:password` lines of `path`."""
    try:
        lines = [ln.strip() for ln in Path(path).read_text().splitlines() if ln.strip()]
    except OSError as exc:
        raise SettingsError(f"--credentials {path}: {exc.strerror}") from None
    pairs = [tuple(ln.split(":", 1)) for ln in lines if ":" in ln]
    if len(pairs) < count:
        raise SettingsError(
            f"--credentials {path}: {len(pairs)} `device:password` lines for {count} devices; "
            "add lines or lower --devices"
        )
    return tuple(pairs[:count])  # type: ignore[return-value]


def options(args: argparse.Namespace, env: dict[str, str] | None = None) -> Options:
    """Checked options from the command line and the MQTT_* environment."""
    if args.devices < 1 or args.readings < 1 or args.rate <= 0 or args.seconds <= 0:
        raise SettingsError("--devices, --readings, --rate and --seconds must be positive")
    return Options(
        broker=broker_from(dict(os.environ if env is None else env), client_id="", username=""),
        credentials=read_credentials(args.credentials, args.devices),
        readings=args.readings,
        rate=args.rate,
        seconds=args.seconds,
        run_id=args.run_id or uuid.uuid4().hex[:8],
    )


def reading(device: str, run_id: str, seq: int) -> bytes:
    """One reading's payload; the id names device, run and sequence so it never repeats."""
    return json.dumps(
        {
            "id": f"{run_id}-{seq}",
            "seq": seq,
            "ts": datetime.now(UTC).isoformat(),
            "values": {
                "temperature": round(20 + 5 * math.sin(seq / 10) + random.random(), 3),
                "humidity": round(40 + 10 * random.random(), 3),
            },
        }
    ).encode()


async def _device(opts: Options, name: str, password: str, report: Report, deadline: float) -> None:
    b, backoff, seq, payload = opts.broker, Backoff(), 0, None
    topic, interval = f"devices/{name}/readings", 1.0 / opts.rate
    while seq < opts.readings and time.monotonic() < deadline:
        client = aiomqtt.Client(
            b.host, b.port, username=name, password=password, identifier=f"sim-{name}",
            tls_context=b.tls_context(), timeout=PUBLISH_TIMEOUT,
        )  # fmt: skip
        try:
            async with client:
                report.connects += 1
                backoff.reset()
                while seq < opts.readings and time.monotonic() < deadline:
                    payload = payload or reading(name, opts.run_id, seq)
                    await client.publish(topic, payload, qos=1)
                    report.published, seq, payload = report.published + 1, seq + 1, None
                    await asyncio.sleep(interval)
        except aiomqtt.MqttError as exc:
            report.errors.append(f"{name}: {exc}")
            report.republished += payload is not None
            await asyncio.sleep(min(backoff.next(), max(deadline - time.monotonic(), 0)))


async def run(opts: Options) -> Report:
    """Run every device to completion or to the deadline; the report says what was published."""
    report = Report(devices=len(opts.credentials), wanted=len(opts.credentials) * opts.readings)
    start = time.monotonic()
    deadline = start + opts.seconds
    await asyncio.gather(*(_device(opts, n, p, report, deadline) for n, p in opts.credentials))
    report.seconds = round(time.monotonic() - start, 3)
    return report
