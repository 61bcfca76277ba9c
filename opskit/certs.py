"""mkcert: a project-local CA (git-ignored .certs/ca) and one certificate per overlay, turned
into the Ingress's TLS Secret in memory at deploy time."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from pathlib import Path

from opskit import paths, shell
from opskit.errors import OpsError

RENEW_BEFORE_SECONDS = 30 * 24 * 3600
TLS_SECRET = "api-tls"
CERT_NAME, KEY_NAME = "cert.pem", "key.pem"


def certs_dir(cfg) -> Path:
    return cfg.root / ".certs"


def caroot(cfg) -> Path:
    return certs_dir(cfg) / "ca"


def ca_file(cfg) -> Path:
    return caroot(cfg) / "rootCA.pem"


def cert_paths(cfg, overlay) -> tuple[Path, Path]:
    """.certs/<overlay>/{cert,key}.pem, refused when a symlink or the name leads elsewhere."""
    top = certs_dir(cfg).resolve()
    folder = certs_dir(cfg) / overlay.name
    paths.confine(folder, top / Path(overlay.name).name, "the project's .certs folder")
    files = folder / CERT_NAME, folder / KEY_NAME
    for file in files:
        paths.confine(file, top / overlay.name / file.name, "the project's .certs folder")
    return files


def _mkcert(cfg, *args: str, what: str, dry_run: bool, stores: str | None = None) -> None:
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


def init_ca(cfg, trust: bool = False, dry_run: bool = False) -> bool:
    """Create the project CA if missing (True when created); `trust` installs it system-wide."""
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


def status(cfg, overlay) -> CertStatus:
    """Is the overlay's certificate present, from our CA, valid 30+ days, for exactly its hosts?"""
    cert, key = cert_paths(cfg, overlay)
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
    if names != set(overlay.hosts):
        return CertStatus(False, f"hosts {sorted(names)} != {sorted(overlay.hosts)}")
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


def issue(cfg, overlay, force: bool = False, dry_run: bool = False) -> CertStatus:
    """(Re)issue the overlay's certificate when missing, stale, mismatched or --force."""
    init_ca(cfg, dry_run=dry_run)
    current = status(cfg, overlay) if ca_file(cfg).is_file() else CertStatus(False, "no CA yet")
    if current.fresh and not force:
        return current
    cert, key = cert_paths(cfg, overlay)
    if not dry_run:
        cert.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    _mkcert(
        cfg,
        "-cert-file",
        str(cert),
        "-key-file",
        str(key),
        *overlay.hosts,
        what=f"issue the {overlay.name} certificate",
        dry_run=dry_run,
    )
    return CertStatus(False, "forced" if current.fresh else current.reason)


def tls_secret(cfg, overlay, dry_run: bool = False) -> bytes:
    """What deploy applies: the overlay's certificate (issued or renewed first if needed) as
    the `api-tls` Secret, in memory."""
    issue(cfg, overlay, dry_run=dry_run)
    return tls_secret_manifest(cfg, overlay, dry_run)


def tls_secret_manifest(cfg, overlay, dry_run: bool = False) -> bytes:
    """Secret `api-tls` (kubernetes.io/tls) for the overlay, built in memory from the current
    certificate; its key is registered for redaction. Issue first with `issue()`."""
    cert, key = cert_paths(cfg, overlay)
    if not (cert.is_file() and key.is_file()):
        if dry_run:  # the certificate would be issued first
            return _manifest(cfg, overlay, b"<certificate>", b"<key>")
        raise OpsError(
            f"no certificate for overlay {overlay.name!r}",
            f"run `invoke certs.issue --overlay {overlay.name}`",
        )
    key_bytes = key.read_bytes()
    shell.secret(key_bytes.decode())
    return _manifest(cfg, overlay, cert.read_bytes(), key_bytes)


def _manifest(cfg, overlay, cert: bytes, key: bytes) -> bytes:
    labels = {
        "app.kubernetes.io/name": "api",
        "app.kubernetes.io/part-of": cfg.project.name,
        "app.kubernetes.io/component": "tls",
        "app.kubernetes.io/managed-by": "opskit",
    }
    encoded_key = base64.b64encode(key).decode()
    shell.secret(encoded_key)
    doc = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": TLS_SECRET, "namespace": overlay.namespace, "labels": labels},
        "type": "kubernetes.io/tls",
        "data": {"tls.crt": base64.b64encode(cert).decode(), "tls.key": encoded_key},
    }
    return json.dumps(doc, indent=2).encode() + b"\n"
