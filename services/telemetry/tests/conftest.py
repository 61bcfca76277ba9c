"""Session-wide real broker and database; each test gets its own service, database and client id."""

from __future__ import annotations

import hashlib
import re
import secrets
import shutil
from pathlib import Path

import pytest
from infra import Mosquitto, Postgres, make_pki, workdir
from service import Service

DEVICES = 100


@pytest.fixture(scope="session")
def users() -> dict[str, str]:
    """Broker accounts: the service, and one per device, each with its own password."""
    names = ["telemetry"] + [f"device-{i:03d}" for i in range(DEVICES)]
    return {name: secrets.token_urlsafe(12) for name in names}


@pytest.fixture(scope="session")
def credentials(tmp_path_factory, users) -> Path:
    """The simulator's `device:password` file."""
    path = tmp_path_factory.mktemp("sim") / "devices.txt"
    path.write_text("".join(f"{u}:{p}\n" for u, p in users.items() if u != "telemetry"))
    return path


@pytest.fixture(scope="session")
def broker(users):
    folder = workdir("telemetry-mqtt-")
    server = Mosquitto(folder, make_pki(folder), users)
    server.start()
    yield server
    server.stop()
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="session")
def postgres():
    folder = workdir("telemetry-pg-")
    server = Postgres(folder)
    server.start()
    yield server
    server.stop()
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def database(postgres, request) -> str:
    """A fresh database per test, named after it (a valid, unique identifier)."""
    digest = hashlib.sha1(request.node.nodeid.encode()).hexdigest()[:8]
    name = f"t_{re.sub(r'[^a-z0-9]+', '_', request.node.originalname.lower())[:40]}_{digest}"
    postgres.create_database(name)
    return name


@pytest.fixture
def service(broker, postgres, database, tmp_path):
    svc = Service(broker, postgres.dsn(database), f"telemetry-{database}", tmp_path).start()
    svc.wait_subscribed()
    yield svc
    svc.stop()
