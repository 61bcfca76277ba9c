"""The telemetry service and the simulator as the processes a user runs (`python -m telemetry`)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import httpx
from infra import HOST, Mosquitto, free_port, wait_for_port


def broker_env(broker: Mosquitto, username: str = "", password: str = "") -> dict[str, str]:
    env = {
        **os.environ,
        "MQTT_HOST": HOST,
        "MQTT_PORT": str(broker.port),
        "MQTT_CA_FILE": str(broker.pki.ca),
    }
    if username:
        env |= {"MQTT_USERNAME": username, "MQTT_PASSWORD": password}
    return env


class Service:
    """`telemetry serve` against a broker and a database; its log goes to a file."""

    def __init__(self, broker: Mosquitto, dsn: str, client_id: str, folder: Path, **extra: str):
        self.port = free_port()
        self.url = f"http://{HOST}:{self.port}"
        self.log_file = folder / f"{client_id}.log"
        self.env = broker_env(broker, "telemetry", broker.users["telemetry"]) | {
            "MQTT_CLIENT_ID": client_id,
            "DATABASE_URL": dsn,
            "HTTP_HOST": HOST,
            "HTTP_PORT": str(self.port),
            **extra,
        }
        self.proc: subprocess.Popen | None = None

    def start(self) -> Service:
        with self.log_file.open("ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "telemetry", "serve"], env=self.env, stdout=log, stderr=log
            )
        wait_for_port(self.port, proc=self.proc)
        return self

    def stop(self) -> int:
        if self.proc is None:
            return 0
        self.proc.terminate()
        code = self.proc.wait(timeout=20)
        self.proc = None
        return code

    def get(self, path: str, **params: str) -> httpx.Response:
        return httpx.get(self.url + path, params=params, timeout=10)

    def metrics(self) -> dict[str, float]:
        """Sample name (with labels) -> value, from /metrics."""
        samples = {}
        for line in self.get("/metrics").text.splitlines():
            if line and not line.startswith("#"):
                name, value = line.rsplit(" ", 1)
                samples[name] = float(value)
        return samples

    def wait_until(self, what: str, check, seconds: float = 30.0) -> None:
        __tracebackhide__ = True
        deadline = time.monotonic() + seconds
        while not check():
            if time.monotonic() > deadline:
                raise AssertionError(f"{what} not reached in {seconds}s; log: {self.log()[-2000:]}")
            time.sleep(0.1)

    def wait_metric(self, name: str, value: float, seconds: float = 30.0) -> None:
        __tracebackhide__ = True
        self.wait_until(f"{name} == {value}", lambda: self.metrics().get(name) == value, seconds)

    def wait_stored(self, count: int) -> None:
        __tracebackhide__ = True
        self.wait_metric("telemetry_readings_stored_total", count)

    def wait_subscribed(self) -> None:
        self.wait_until("subscribed", lambda: self.metrics().get("telemetry_broker_connected") == 1)

    def log(self) -> str:
        return self.log_file.read_text(errors="replace")

    def rejected(self) -> dict[str, float]:
        return {
            m.group(1): v
            for k, v in self.metrics().items()
            if (m := re.match(r'telemetry_messages_rejected_total\{reason="(\w+)"\}', k))
        }


def simulate(broker: Mosquitto, credentials: Path, *args: str, background: bool = False):
    """Run `telemetry simulate`; its JSON report (or the running process when `background`)."""
    argv = [sys.executable, "-m", "telemetry", "simulate", "--credentials", str(credentials), *args]
    proc = subprocess.Popen(
        argv, env=broker_env(broker), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    return proc if background else finish(proc)


def finish(proc: subprocess.Popen, seconds: float = 120) -> dict:
    out, err = proc.communicate(timeout=seconds)
    if not out.strip():
        raise AssertionError(f"simulator printed no report (exit {proc.returncode}): {err[-2000:]}")
    return json.loads(out) | {"exit": proc.returncode}
