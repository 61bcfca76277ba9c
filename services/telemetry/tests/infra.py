"""Real servers for the tests, on free loopback ports: Mosquitto (TLS + passwords) and PostgreSQL.

Both refuse to run as root (PostgreSQL) or drop to a user of their own (Mosquitto), so as root
they run as `nobody` in a folder it owns.
"""

from __future__ import annotations

import ctypes
import glob
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

HOST = "127.0.0.1"
SERVICE_USER = "nobody"
PR_SET_PDEATHSIG = 1  # <linux/prctl.h>


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def wait_for_port(port: int, seconds: float = 15.0, proc: subprocess.Popen | None = None) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"{proc.args[0]} exited with {proc.returncode}")
        with socket.socket() as s:
            if s.connect_ex((HOST, port)) == 0:
                return
        time.sleep(0.05)
    raise TimeoutError(f"nothing listens on {HOST}:{port} after {seconds}s")


def _demote() -> dict:
    """Popen arguments that run a server as an unprivileged user when we are root."""
    if os.geteuid() != 0:
        return {}
    entry = pwd.getpwnam(SERVICE_USER)
    return {"user": entry.pw_uid, "group": entry.pw_gid, "extra_groups": []}


def _die_with_parent(signum: int):
    """A Popen `preexec_fn`: the child gets `signum` when this process dies, however it dies
    (SIGKILL, mutmut's SIGXCPU), so a test killed before its teardown leaves no server. Set
    after Popen's user switch (which would clear it)."""
    parent, prctl = os.getpid(), ctypes.CDLL(None, use_errno=True).prctl  # loaded before fork

    def arm() -> None:  # in the child: one system call, nothing a thread could hold
        if prctl(PR_SET_PDEATHSIG, signum, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_SET_PDEATHSIG)")
        if os.getppid() != parent:  # it died before the line above
            os.kill(os.getpid(), signum)

    return arm


def workdir(prefix: str) -> Path:
    """A fresh folder the server's user owns (tmp_path is root-only)."""
    path = Path(tempfile.mkdtemp(prefix=prefix))
    path.chmod(0o755)
    if os.geteuid() == 0:
        entry = pwd.getpwnam(SERVICE_USER)
        os.chown(path, entry.pw_uid, entry.pw_gid)
    return path


def own(path: Path) -> None:
    if os.geteuid() == 0:
        entry = pwd.getpwnam(SERVICE_USER)
        os.chown(path, entry.pw_uid, entry.pw_gid)


def run(*argv: str, **kw) -> subprocess.CompletedProcess:
    return subprocess.run(argv, check=True, capture_output=True, text=True, timeout=60, **kw)


@dataclass
class Pki:
    ca: Path
    cert: Path
    key: Path


def make_pki(folder: Path) -> Pki:
    """A test CA and a broker certificate for 127.0.0.1 and localhost, made by mkcert."""
    env = {**os.environ, "CAROOT": str(folder / "ca"), "TRUST_STORES": "none"}
    (folder / "ca").mkdir()
    cert, key = folder / "broker.pem", folder / "broker-key.pem"
    run("mkcert", "-install", env=env)
    run("mkcert", "-cert-file", str(cert), "-key-file", str(key), HOST, "localhost", env=env)
    for path in (cert, key):
        own(path)
    return Pki(folder / "ca" / "rootCA.pem", cert, key)


MOSQUITTO_CONF = """\
per_listener_settings false
allow_anonymous false
password_file {dir}/passwd
acl_file {dir}/acl
listener {port} {host}
cafile {ca}
certfile {cert}
keyfile {key}
tls_version tlsv1.2
persistence true
persistence_location {dir}/
autosave_interval 1
max_queued_messages 200000
max_inflight_messages 100
log_dest file {dir}/mosquitto.log
log_type error
log_type warning
log_type notice
"""

# devices write only their own topic; the service reads them all
ACL = """\
user telemetry
topic read devices/+/readings

pattern write devices/%u/readings
"""


class Mosquitto:
    """Debian's mosquitto: TLS only, password file made with mosquitto_passwd, no anonymous."""

    def __init__(self, folder: Path, pki: Pki, users: dict[str, str]) -> None:
        self.dir, self.pki, self.users = folder, pki, users
        self.port = free_port()
        self.proc: subprocess.Popen | None = None
        (folder / "passwd").write_text("".join(f"{u}:{p}\n" for u, p in users.items()))
        run("mosquitto_passwd", "-U", str(folder / "passwd"))
        (folder / "acl").write_text(ACL)
        conf = MOSQUITTO_CONF.format(
            dir=folder, port=self.port, host=HOST, ca=pki.ca, cert=pki.cert, key=pki.key
        )
        (folder / "mosquitto.conf").write_text(conf)
        for name in ("passwd", "acl", "mosquitto.conf"):
            own(folder / name)

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [
                shutil.which("mosquitto") or "/usr/sbin/mosquitto",
                "-c",
                str(self.dir / "mosquitto.conf"),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            preexec_fn=_die_with_parent(signal.SIGTERM),  # noqa: PLW1509 (one system call)
            **_demote(),
        )
        wait_for_port(self.port, proc=self.proc)

    def stop(self) -> None:
        """SIGTERM: mosquitto saves its sessions and queued messages to the persistence file."""
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(timeout=20)
        self.proc = None

    def restart(self) -> None:
        self.stop()
        self.start()

    def log(self) -> str:
        return (self.dir / "mosquitto.log").read_text(errors="replace")


def pg_bin(name: str) -> str:
    """A PostgreSQL server binary from Debian's versioned folder (the newest), else PATH."""
    found = sorted(
        glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), key=lambda p: int(p.split("/")[4])
    )
    return found[-1] if found else (shutil.which(name) or name)


class Postgres:
    """A throwaway PostgreSQL cluster: initdb + pg_ctl, loopback only, trust for its one user."""

    def __init__(self, folder: Path) -> None:
        self.dir = folder
        self.data = folder / "data"
        self.port = free_port()
        self.proc: subprocess.Popen | None = None
        run(pg_bin("initdb"), "-D", str(self.data), "-U", "telemetry", "--auth=trust",
            "-E", "UTF8", "--no-sync", **_demote())  # fmt: skip

    def start(self) -> None:
        """The postmaster as our child (not daemonized by pg_ctl), tied to this process: if
        it dies without its teardown (killed by a timeout), the kernel sends the server SIGQUIT
        (immediate shutdown)."""
        with open(self.dir / "postgres.log", "ab") as log:
            self.proc = subprocess.Popen(
                [pg_bin("postgres"), "-D", str(self.data), "-h", HOST, "-p", str(self.port),
                 "-k", str(self.dir), "-c", "fsync=off", "-c", "max_connections=50"],
                stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                preexec_fn=_die_with_parent(signal.SIGQUIT),  # noqa: PLW1509 (one system call)
                **_demote(),
            )  # fmt: skip
        ready = ("-h", HOST, "-p", str(self.port), "-U", "telemetry", "-q")
        deadline = time.monotonic() + 30
        while subprocess.run([pg_bin("pg_isready"), *ready], check=False).returncode != 0:
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"PostgreSQL did not start; see {self.dir / 'postgres.log'}")
            time.sleep(0.05)

    def stop(self) -> None:
        """SIGINT: PostgreSQL's fast shutdown (what `pg_ctl -m fast stop` sends)."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def dsn(self, database: str = "postgres") -> str:
        return f"postgresql://telemetry@{HOST}:{self.port}/{database}"

    def create_database(self, name: str) -> str:
        run(pg_bin("createdb"), "-h", HOST, "-p", str(self.port), "-U", "telemetry", name)
        return self.dsn(name)

    def query(self, database: str, sql: str) -> list[list[str]]:
        where = ("-h", HOST, "-p", str(self.port), "-U", "telemetry", "-d", database)
        out = run(pg_bin("psql"), *where, "-AtF", "\t", "-c", sql).stdout
        return [line.split("\t") for line in out.splitlines()]
