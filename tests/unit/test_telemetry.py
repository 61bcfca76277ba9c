"""The broker credentials opskit generates work with the real Mosquitto; the simulate task's
exact commands."""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from opskit.services import telemetry

needs_mosquitto = pytest.mark.tools("mosquitto", "mosquitto_pub")


def test_password_line_is_mosquitto_passwd_format():
    line = telemetry.password_line("device-000", "pw", salt=b"0123456789ab")
    user, rest = line.split(":", 1)
    assert user == "device-000"
    assert rest.startswith("$7$101$MDEyMzQ1Njc4OWFi$")
    assert len(rest.split("$")[-1]) == 88  # 64 bytes of PBKDF2-SHA512, base64


def test_secret_values_fit_together():
    values = telemetry.secret_values(devices=3)
    passwd = values["mqtt-passwd"]["passwd"].splitlines()
    devices = values["simulator-credentials"]["devices.txt"].splitlines()
    assert [line.split(":")[0] for line in passwd] == ["telemetry", *telemetry.device_names(3)]
    assert [line.split(":")[0] for line in devices] == telemetry.device_names(3)
    assert values["telemetry-mqtt"]["password"] not in values["mqtt-passwd"]["passwd"]


@pytest.fixture
def broker():
    """Mosquitto on a free loopback port with a password file opskit generated."""
    values = telemetry.secret_values(devices=2)
    folder = Path(tempfile.mkdtemp(prefix="opskit-mqtt-"))
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    (folder / "passwd").write_text(values["mqtt-passwd"]["passwd"])
    conf = f"allow_anonymous false\npassword_file {folder}/passwd\nlistener {port} 127.0.0.1\n"
    (folder / "mosquitto.conf").write_text(conf)
    demote = {}
    if os.geteuid() == 0:  # mosquitto would switch to its own user, which cannot read /tmp/...
        nobody = pwd.getpwnam("nobody")
        demote = {"user": nobody.pw_uid, "group": nobody.pw_gid, "extra_groups": []}
        for path in (folder, folder / "passwd", folder / "mosquitto.conf"):
            os.chown(path, nobody.pw_uid, nobody.pw_gid)
    proc = subprocess.Popen(["/usr/sbin/mosquitto", "-c", str(folder / "mosquitto.conf")], **demote)
    deadline = time.monotonic() + 10
    while socket.socket().connect_ex(("127.0.0.1", port)) != 0 and time.monotonic() < deadline:
        time.sleep(0.05)
    yield port, values
    proc.terminate()
    proc.wait(timeout=10)
    shutil.rmtree(folder, ignore_errors=True)


def publish(port: int, user: str, password: str) -> subprocess.CompletedProcess:
    argv = [
        "mosquitto_pub",
        "-h",
        "127.0.0.1",
        "-p",
        str(port),
        "-u",
        user,
        "-P",
        password,
        "-t",
        f"devices/{user}/readings",
        "-m",
        "{}",
        "-q",
        "1",
    ]
    return subprocess.run(argv, capture_output=True, text=True, timeout=20, check=False)


@needs_mosquitto
def test_generated_credentials_log_in_and_others_do_not(broker):
    port, values = broker
    device, password = values["simulator-credentials"]["devices.txt"].splitlines()[1].split(":")
    assert publish(port, device, password).returncode == 0
    assert publish(port, "telemetry", values["telemetry-mqtt"]["password"]).returncode == 0
    refused = publish(port, device, password + "x")
    assert refused.returncode != 0
    assert "not authori" in refused.stderr.lower()


def test_simulate_dry_run_prints_the_exact_commands(root, tmp_path):
    import sys

    import sh

    invoke = sh.Command(str(Path(sys.executable).parent / "invoke"))
    creds = tmp_path / "devices.txt"
    creds.write_text("device-000:pw\n")
    ca = tmp_path / "ca.pem"
    ca.write_text("x")
    env = {**os.environ, "OPSKIT_ROOT": str(root)}
    out = invoke(
        "telemetry.simulate",
        f"--credentials={creds}",
        "--devices=1",
        "--seconds=5",
        f"--ca-file={ca}",
        "--dry-run",
        _env=env,
        _err_to_out=True,
        _cwd=str(root),
    )
    python = root / ".opskit" / "venvs" / "telemetry" / "bin" / "python"
    expected = (
        f"[dry-run] {python} -m telemetry "
        f"simulate --devices=1 --seconds=5 --readings=20 --rate=5 --credentials={creds}"
    )
    assert expected in str(out).splitlines(), str(out)
    assert "simulated" not in str(out)
