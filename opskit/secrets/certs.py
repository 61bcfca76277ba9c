"""mkcert: a project-local CA (git-ignored .certs/ca) and, per overlay, the Ingress's
certificate and the MQTT broker's, turned into TLS Secrets in memory at deploy time."""

from __future__ import annotations

import base64
import json
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from opskit.core import paths, shell
from opskit.core.errors import OpsError

if TYPE_CHECKING:
    from opskit.core.config import Config, Overlay

RENEW_BEFORE_SECONDS = 30 * 24 * 3600
TLS_SECRET = "api-tls"
CERT_NAME, KEY_NAME = "cert.pem", "key.pem"


@dataclass(frozen=True)
class Cert:
    """One certificate of an overlay: its file prefix, DNS names and Secret."""

    prefix: str
    hosts: tuple[str, ...]
    secret: str
    with_ca: bool = False  # clients mount ca.crt from the Secret to verify the server


def ingress_cert(overlay: Overlay) -> Cert:
    return Cert("", tuple(overlay.hosts), TLS_SECRET)


def broker_cert(overlay: Overlay) -> Cert:
    """The in-cluster names of the MQTT broker's Service `mqtt`."""
    ns = overlay.namespace
    return Cert(
        "mqtt-", ("mqtt", f"mqtt.{ns}.svc", f"mqtt.{ns}.svc.cluster.local"), "mqtt-tls", True
    )


def certs_dir(cfg: Config) -> Path:
    return cfg.root / ".certs"


def caroot(cfg: Config) -> Path:
    return certs_dir(cfg) / "ca"


def ca_file(cfg: Config) -> Path:
    return caroot(cfg) / "rootCA.pem"


def cert_paths(cfg: Config, overlay: Overlay, cert: Cert | None = None) -> tuple[Path, Path]:
    """.certs/<overlay>/[<prefix>]{cert,key}.pem, refused when a symlink or the name leads
    elsewhere."""
    top = certs_dir(cfg).resolve()
    folder, prefix = certs_dir(cfg) / overlay.name, cert.prefix if cert else ""
    paths.confine(folder, top / Path(overlay.name).name, "the project's .certs folder")
    files = folder / f"{prefix}{CERT_NAME}", folder / f"{prefix}{KEY_NAME}"
    for file in files:
        paths.confine(file, top / overlay.name / file.name, "the project's .certs folder")
    return files


def _mkcert(cfg: Config, *args: str, what: str, dry_run: bool, stores: str | None = None) -> None:
    env = {"CAROOT": str(caroot(cfg))}
    if stores is not None:
        env["TRUST_STORES"] = stores
    shell.run(
        ["mkcert", *args],
        env=env,
        mutates=True,
        dry_run=dry_run,
        timeout=60,
        what=what,
        hint="see `invoke doctor` for mkcert",
    )


def init_ca(cfg: Config, trust: bool = False, dry_run: bool = False) -> bool:
    """Create the project CA if missing (True when created); `trust` installs it system-wide.
    One at a time: deploy issues the Ingress's and the broker's certificates at once, and two
    CAs made side by side would leave one certificate signed by a CA that was overwritten."""
    with _ca_lock:
        return _init_ca(cfg, trust, dry_run)


_ca_lock = threading.Lock()


def _init_ca(cfg: Config, trust: bool, dry_run: bool) -> bool:
    created = not ca_file(cfg).is_file()
    if created and not dry_run:
        caroot(cfg).mkdir(mode=0o700, parents=True, exist_ok=True)
    if trust:
        what = "install the project CA into the trust stores"
        _mkcert(cfg, "-install", what=what, dry_run=dry_run)
    elif created:  # `-install` with no enabled trust store only creates the CA
        _mkcert(cfg, "-install", what="create the project CA", dry_run=dry_run, stores="none")
    return created


@dataclass(frozen=True)
class CertStatus:
    fresh: bool
    reason: str


def status(cfg: Config, overlay: Overlay, which: Cert | None = None) -> CertStatus:
    """Is the certificate present, from our CA, valid 30+ days, for exactly its hosts?"""
    which = which or ingress_cert(overlay)
    cert, key = cert_paths(cfg, overlay, which)
    if not (cert.is_file() and key.is_file()):
        return CertStatus(False, "no certificate yet")
    verified = shell.run(
        ["openssl", "verify", "-CAfile", str(ca_file(cfg)), str(cert)], check=False, timeout=20
    )
    if verified.returncode != 0:
        return CertStatus(False, "not signed by the project CA (or expired)")
    ending = shell.run(
        ["openssl", "x509", "-noout", "-checkend", str(RENEW_BEFORE_SECONDS), "-in", str(cert)],
        check=False,
        timeout=20,
    )
    if ending.returncode != 0:
        return CertStatus(False, "expires within 30 days")
    names = cert_hosts(cert)
    if names != set(which.hosts):
        return CertStatus(False, f"hosts {sorted(names)} != {sorted(which.hosts)}")
    return CertStatus(True, "valid")


def cert_hosts(cert: Path) -> set[str]:
    """The DNS names of a certificate's subjectAltName."""
    out = shell.run(
        ["openssl", "x509", "-noout", "-ext", "subjectAltName", "-in", str(cert)], timeout=20
    ).stdout
    return {
        part.strip()[4:]
        for part in out.replace("\n", ",").split(",")
        if part.strip().startswith("DNS:")
    }


def issue(
    cfg, overlay, force: bool = False, dry_run: bool = False, which: Cert | None = None
) -> CertStatus:
    """(Re)issue a certificate of the overlay (default: the Ingress's) when missing, stale,
    mismatched or --force."""
    which = which or ingress_cert(overlay)
    init_ca(cfg, dry_run=dry_run)
    has_ca = ca_file(cfg).is_file()
    current = status(cfg, overlay, which) if has_ca else CertStatus(False, "no CA yet")
    if current.fresh and not force:
        return current
    cert, key = cert_paths(cfg, overlay, which)
    if not dry_run:
        cert.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    _mkcert(
        cfg,
        "-cert-file",
        str(cert),
        "-key-file",
        str(key),
        *which.hosts,
        what=f"issue the {overlay.name} certificate for {', '.join(which.hosts)}",
        dry_run=dry_run,
    )
    return CertStatus(False, "forced" if current.fresh else current.reason)


def tls_secret(
    cfg: Config, overlay: Overlay, dry_run: bool = False, which: Cert | None = None
) -> bytes:
    """What deploy applies: a certificate (issued or renewed first if needed; default: the
    Ingress's) as its TLS Secret, in memory."""
    which = which or ingress_cert(overlay)
    files = (*cert_paths(cfg, overlay, which), ca_file(cfg))
    seen = [*(_stat(p) for p in files), *which.hosts]
    name = f"{overlay.name}/{which.secret}"
    known = _fresh_checks().get(name) or {}
    stale = dry_run or known.get("seen") != seen or time.time() - known.get("at", 0) > RECHECK
    if stale and issue(cfg, overlay, dry_run=dry_run, which=which).fresh and not dry_run:
        _remember_check(name, seen)
    return tls_secret_manifest(cfg, overlay, dry_run, which)


# A certificate is checked again (three openssl runs) only when its files changed, or after
# RECHECK seconds (so the 30-day renewal margin is kept to within an hour). What was checked
# is kept in the state folder: file stats and host names only, never key material.
RECHECK = 3600.0


def _checks_file() -> Path:
    return paths.state_dir() / "cache" / "tls-checks.json"


def _fresh_checks() -> dict:
    from opskit.core import yamlio

    return yamlio.read_json_cache(_checks_file())


def _remember_check(name: str, seen: list) -> None:
    with _checks_lock:
        checks = _fresh_checks()
        checks[name] = {"seen": seen, "at": time.time()}
        paths.ensure_dir(_checks_file().parent)
        paths.write_atomic(_checks_file(), json.dumps(checks, indent=1, sort_keys=True) + "\n")


_checks_lock = threading.Lock()


def _stat(path: Path) -> list:
    stat = path.stat() if path.is_file() else None
    return [str(path), stat and [stat.st_ino, stat.st_mtime_ns, stat.st_size]]


def tls_secret_manifest(
    cfg: Config, overlay: Overlay, dry_run: bool = False, which: Cert | None = None
) -> bytes:
    """The TLS Secret (kubernetes.io/tls; default `api-tls`) for the overlay, built in memory
    from the current certificate; its key is registered for redaction. Issue first."""
    which = which or ingress_cert(overlay)
    cert, key = cert_paths(cfg, overlay, which)
    if not (cert.is_file() and key.is_file()):
        if dry_run:  # the certificate would be issued first
            return _manifest(cfg, overlay, which, b"<certificate>", b"<key>")
        raise OpsError(
            f"no certificate for overlay {overlay.name!r}",
            f"run `invoke certs.issue --overlay {overlay.name}`",
        )
    key_bytes = key.read_bytes()
    shell.secret(key_bytes.decode())
    return _manifest(cfg, overlay, which, cert.read_bytes(), key_bytes)


def _manifest(cfg: Config, overlay: Overlay, which: Cert, cert: bytes, key: bytes) -> bytes:
    labels = {
        "app.kubernetes.io/name": "mosquitto" if which.with_ca else "api",
        "app.kubernetes.io/part-of": cfg.project.name,
        "app.kubernetes.io/component": "tls",
        "app.kubernetes.io/managed-by": "opskit",
    }
    encoded_key = base64.b64encode(key).decode()
    shell.secret(encoded_key)
    data = {"tls.crt": base64.b64encode(cert).decode(), "tls.key": encoded_key}
    if which.with_ca and ca_file(cfg).is_file():
        data["ca.crt"] = base64.b64encode(ca_file(cfg).read_bytes()).decode()
    doc = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": which.secret, "namespace": overlay.namespace, "labels": labels},
        "type": "kubernetes.io/tls",
        "data": data,
    }
    return json.dumps(doc, indent=2).encode() + b"\n"
