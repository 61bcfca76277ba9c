"""Kubernetes API level: the Ingress serves the overlay's hosts over TLS with a valid cert."""

import base64

import pytest

from opskit.core import shell

TLS_SECRET = "api-tls"


def serving(k8s, host: str) -> list[dict]:
    """The Ingresses with a rule for `host` (the overlay's hosts: api.*, telemetry.*)."""
    return [
        ing
        for ing in k8s.items("ingress")
        if any(rule.get("host") == host for rule in ing["spec"].get("rules") or [])
    ]


def test_ingress_routes_the_host_to_its_service(k8s, overlay_host):
    (ingress,) = serving(k8s, overlay_host)
    backends = [
        path["backend"]["service"]["name"]
        for rule in ingress["spec"]["rules"]
        if rule.get("host") == overlay_host
        for path in rule["http"]["paths"]
    ]
    assert backends == [overlay_host.split(".")[0]]  # api.<...> -> api, telemetry.<...>


def test_ingress_terminates_tls_for_the_host(k8s, overlay_host):
    (ingress,) = serving(k8s, overlay_host)
    tls = ingress["spec"].get("tls") or []
    assert [t["secretName"] for t in tls if overlay_host in t.get("hosts", [])] == [TLS_SECRET]


@pytest.fixture(scope="module")
def certificate(k8s) -> bytes:
    """The PEM certificate of the TLS Secret (public; the key is never read)."""
    secret = k8s.get("secret", TLS_SECRET)
    assert secret["type"] == "kubernetes.io/tls"
    return base64.b64decode(secret["data"]["tls.crt"])


def test_tls_secret_has_a_certificate_and_a_key(k8s):
    assert k8s.key_names(TLS_SECRET) >= {"tls.crt", "tls.key"}


def openssl_x509(certificate: bytes, *args: str):
    return shell.run(["openssl", "x509", "-noout", *args], stdin=certificate, check=False)


def test_certificate_names_the_host(certificate, overlay_host):
    # -checkhost exits 0 either way: its verdict is the printed line
    result = openssl_x509(certificate, "-checkhost", overlay_host)
    assert result.stdout.strip() == f"Hostname {overlay_host} does match certificate"


def test_certificate_has_not_expired(certificate):
    result = openssl_x509(certificate, "-checkend", "0")
    assert result.returncode == 0, result.stdout.strip()


def test_certificate_is_signed_by_the_mkcert_ca(certificate, ca_file):
    if not ca_file.is_file():
        pytest.skip(f"no CA at {ca_file}: set OPSKIT_CA to check the chain")
    result = shell.run(
        ["openssl", "verify", "-CAfile", str(ca_file)], stdin=certificate, check=False, timeout=20
    )
    assert result.returncode == 0, result.stdout + result.stderr
