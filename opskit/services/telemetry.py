"""The MQTT side of the project: broker credentials (generated into SOPS Secrets) and the
device simulator run locally against a broker (`invoke telemetry.simulate`)."""

from __future__ import annotations

import base64
import hashlib
import secrets as random
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from opskit.core import shell

if TYPE_CHECKING:
    from opskit.core.config import Config

DEVICES = 10  # simulated devices with credentials in each overlay (the CronJob's --devices)
PBKDF2_ITERATIONS = 101  # what mosquitto_passwd writes: $7$ = PBKDF2-SHA512
SERVICE_DIR = Path("services") / "telemetry"


def password_line(user: str, password: str, salt: bytes | None = None) -> str:
    """One mosquitto password-file line, as `mosquitto_passwd` hashes it (PBKDF2-SHA512)."""
    salt = salt or random.token_bytes(12)
    digest = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, PBKDF2_ITERATIONS, 64)
    encoded = base64.b64encode(salt).decode(), base64.b64encode(digest).decode()
    return f"{user}:$7${PBKDF2_ITERATIONS}${encoded[0]}${encoded[1]}"


def device_names(count: int = DEVICES) -> list[str]:
    return [f"device-{i:03d}" for i in range(count)]


def secret_values(devices: int = DEVICES, token=random.token_urlsafe) -> dict[str, dict[str, str]]:
    """The broker's password file, the service's password and the devices' credentials."""
    users = {"telemetry": token(24)}
    users |= {name: token(24) for name in device_names(devices)}
    return {
        "mqtt-passwd": {"passwd": "".join(f"{password_line(u, p)}\n" for u, p in users.items())},
        "telemetry-mqtt": {"password": users["telemetry"]},
        "simulator-credentials": {
            "devices.txt": "".join(f"{u}:{p}\n" for u, p in users.items() if u != "telemetry")
        },
    }


def simulate_argv(
    python: Path, credentials: Path, devices: int, seconds: float, readings: int, rate: float
) -> list[str]:
    """`telemetry simulate` with the service's interpreter; the broker comes from MQTT_*."""
    return [
        str(python),
        "-m",
        "telemetry",
        "simulate",
        f"--devices={devices}",
        f"--seconds={seconds:g}",
        f"--readings={readings}",
        f"--rate={rate:g}",
        f"--credentials={credentials}",
    ]


def service_python(cfg: Config, dry_run: bool) -> Path:
    """The interpreter of a venv with the telemetry package (made once, in .opskit/)."""
    venv = cfg.root / ".opskit" / "venvs" / "telemetry"
    python = venv / "bin" / "python"
    stamp = venv / ".source-hash"
    want = hashlib.sha256((cfg.root / SERVICE_DIR / "pyproject.toml").read_bytes()).hexdigest()
    if python.is_file() and stamp.is_file() and stamp.read_text() == want:
        return python
    shell.run(
        [sys.executable, "-m", "venv", str(venv)],
        mutates=True,
        timeout=120,
        what="create the telemetry venv",
        dry_run=dry_run,
    )
    shell.run(
        [str(python), "-m", "pip", "install", "-q", str(cfg.root / SERVICE_DIR)],
        mutates=True,
        timeout=600,
        what="install the telemetry package",
        dry_run=dry_run,
    )
    if not dry_run:
        stamp.write_text(want)
    return python
