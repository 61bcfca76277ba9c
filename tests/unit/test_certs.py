"""mkcert CA and certificates with the real mkcert and openssl; the TLS Secret in memory."""

import base64
import json
import shutil
from pathlib import Path

import pytest

from opskit.core import config, shell
from opskit.core.errors import OpsError
from opskit.secrets import certs
from tests import fakes

ROOT = Path(__file__).resolve().parents[2]
OVERLAYS = sorted(config.load(ROOT / "opskit.yaml").overlays)
pytestmark = pytest.mark.tools("mkcert", "openssl")


@pytest.fixture(scope="module")
def made_ca(tmp_path_factory) -> Path:
    """One project CA for the module (making an RSA-3072 CA takes about a second)."""
    folder = tmp_path_factory.mktemp("ca") / "ca"
    shell.run(["mkcert", "-install"], env={"CAROOT": str(folder), "TRUST_STORES": "none"})
    return folder


@pytest.fixture
def bare(tmp_path):
    repo = tmp_path / "repo"
    repo.mkdir()
    shutil.copy(ROOT / "opskit.yaml", repo / "opskit.yaml")
    return config.load(repo / "opskit.yaml")


@pytest.fixture
def cfg(bare, made_ca):
    """A project whose CA already exists."""
    shutil.copytree(made_ca, certs.caroot(bare))
    return bare


def with_hosts(cfg, overlay: str, hosts: list[str]):
    text = (cfg.root / "opskit.yaml").read_text()
    old = "hosts: [" + ", ".join(cfg.overlay(overlay).hosts) + "]"
    (cfg.root / "opskit.yaml").write_text(text.replace(old, "hosts: [" + ", ".join(hosts) + "]"))
    return config.load(cfg.root / "opskit.yaml")


def test_init_creates_a_project_ca_once_without_trusting_it(bare):
    cfg = bare
    assert certs.init_ca(cfg) is True
    assert certs.ca_file(cfg) == cfg.root / ".certs/ca/rootCA.pem"
    assert (cfg.root / ".certs/ca/rootCA-key.pem").is_file()
    before = certs.ca_file(cfg).read_bytes()
    assert certs.init_ca(cfg) is False
    assert certs.ca_file(cfg).read_bytes() == before


def test_trust_installs_into_the_system_stores(bare):
    cfg = bare
    # the system trust store is outside this sandbox: assert the exact command instead
    with fakes.recorder({"mkcert": (0, "", "")}) as calls:
        certs.init_ca(cfg, trust=True)
    assert calls == [("mkcert", "-install")]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_certificate_verifies_against_the_ca_for_each_overlay_host(cfg, overlay):
    ov = cfg.overlay(overlay)
    assert certs.issue(cfg, ov).reason == "no certificate yet"
    cert, key = certs.cert_paths(cfg, ov)
    assert cert.parent == cfg.root / ".certs" / overlay
    assert key.stat().st_mode & 0o077 == 0
    for host in ov.hosts:
        result = shell.run(
            [
                "openssl",
                "verify",
                "-CAfile",
                str(certs.ca_file(cfg)),
                "-verify_hostname",
                host,
                str(cert),
            ]
        )
        assert result.stdout.strip() == f"{cert}: OK"
    wrong = shell.run(
        [
            "openssl",
            "verify",
            "-CAfile",
            str(certs.ca_file(cfg)),
            "-verify_hostname",
            "other.example",
            str(cert),
        ],
        check=False,
    )
    assert wrong.returncode != 0


def test_valid_certificate_is_kept(cfg):
    dev = cfg.overlay("dev")
    certs.issue(cfg, dev)
    before = certs.cert_paths(cfg, dev)[0].read_bytes()
    assert certs.issue(cfg, dev) == certs.CertStatus(True, "valid")
    assert certs.cert_paths(cfg, dev)[0].read_bytes() == before
    assert certs.issue(cfg, dev, force=True).reason == "forced"
    assert certs.cert_paths(cfg, dev)[0].read_bytes() != before


def test_mismatched_hosts_are_reissued(cfg):
    certs.issue(cfg, cfg.overlay("dev"))
    changed = with_hosts(
        cfg, "dev", ["api.dev.gitops-lab.localhost", "www.dev.gitops-lab.localhost"]
    )
    status = certs.issue(changed, changed.overlay("dev"))
    assert status.reason.startswith("hosts ")
    cert = certs.cert_paths(changed, changed.overlay("dev"))[0]
    assert certs.cert_hosts(cert) == set(changed.overlay("dev").hosts)


def test_expiring_certificate_is_reissued(cfg):
    dev = cfg.overlay("dev")
    certs.init_ca(cfg)
    cert, key = certs.cert_paths(cfg, dev)
    cert.parent.mkdir(parents=True)
    request = shell.Step(
        argv=(
            "openssl",
            "req",
            "-new",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            str(key),
            "-subj",
            "/CN=short",
            "-addext",
            f"subjectAltName=DNS:{dev.hosts[0]}",
        )
    )
    shell.run(
        [
            "openssl",
            "x509",
            "-req",
            "-CA",
            str(certs.ca_file(cfg)),
            "-CAkey",
            str(certs.caroot(cfg) / "rootCA-key.pem"),
            "-days",
            "5",
            "-copy_extensions",
            "copy",
            "-out",
            str(cert),
        ],
        stdin=request,
    )
    assert certs.status(cfg, dev) == certs.CertStatus(False, "expires within 30 days")
    assert certs.issue(cfg, dev).reason == "expires within 30 days"
    assert certs.status(cfg, dev).fresh


def test_certificate_from_another_ca_is_reissued(cfg, tmp_path):
    dev = cfg.overlay("dev")
    cert, key = certs.cert_paths(cfg, dev)
    cert.parent.mkdir(parents=True)
    shell.run(
        ["mkcert", "-cert-file", str(cert), "-key-file", str(key), *dev.hosts],
        env={"CAROOT": str(tmp_path / "foreign-ca")},
    )
    certs.init_ca(cfg)
    assert certs.issue(cfg, dev).reason == "not signed by the project CA (or expired)"
    assert certs.status(cfg, dev).fresh


def test_tls_secret_is_made_in_memory_with_its_key_redacted(cfg):
    dev = cfg.overlay("dev")
    doc = json.loads(certs.tls_secret(cfg, dev))
    cert, key = certs.cert_paths(cfg, dev)
    assert (doc["kind"], doc["type"]) == ("Secret", "kubernetes.io/tls")
    assert doc["metadata"]["name"] == "api-tls" and doc["metadata"]["namespace"] == dev.namespace
    assert base64.b64decode(doc["data"]["tls.crt"]) == cert.read_bytes()
    assert base64.b64decode(doc["data"]["tls.key"]) == key.read_bytes()
    assert shell.redact(doc["data"]["tls.key"]) == "***"
    assert shell.redact(key.read_text()) == "***"


def test_tls_secret_manifest_without_certificate_says_how(bare):
    cfg = bare
    from opskit.core.errors import OpsError

    with pytest.raises(OpsError, match=r"certs\.issue --overlay dev"):
        certs.tls_secret_manifest(cfg, cfg.overlay("dev"))
    assert b'"api-tls"' in certs.tls_secret_manifest(cfg, cfg.overlay("dev"), dry_run=True)


def test_broker_certificate_names_the_mqtt_service_and_carries_the_ca(cfg):
    dev = cfg.overlay("dev")
    broker = certs.broker_cert(dev)
    doc = json.loads(certs.tls_secret(cfg, dev, which=broker))
    cert, _ = certs.cert_paths(cfg, dev, broker)
    assert certs.cert_hosts(cert) == {
        "mqtt",
        "mqtt.gitops-lab-dev.svc",
        "mqtt.gitops-lab-dev.svc.cluster.local",
    }
    assert doc["metadata"]["name"] == "mqtt-tls"
    assert base64.b64decode(doc["data"]["ca.crt"]) == certs.ca_file(cfg).read_bytes()
    assert certs.status(cfg, dev, broker).fresh
    assert not certs.status(cfg, dev).fresh  # the Ingress certificate is another file


def test_a_key_file_symlinked_out_of_the_certs_folder_is_refused(cfg, tmp_path):
    dev = cfg.overlay("dev")
    cert, key = certs.cert_paths(cfg, dev)
    cert.parent.mkdir(parents=True)
    outside = tmp_path / "outside-key.pem"
    key.symlink_to(outside)
    with pytest.raises(OpsError) as caught:
        certs.issue(cfg, dev, force=True)
    assert "\n" not in str(caught.value) and "symlink" in str(caught.value)
    assert not outside.exists()


def test_an_overlay_name_cannot_leave_the_certs_folder(cfg, tmp_path):
    text = (cfg.root / "opskit.yaml").read_text().replace("  dev:\n", "  ../../escaped:\n", 1)
    (cfg.root / "opskit.yaml").write_text(text)
    hostile = config.load(cfg.root / "opskit.yaml").overlay("../../escaped")
    with pytest.raises(OpsError, match=r"outside the project's \.certs folder"):
        certs.issue(cfg, hostile)
    assert not (tmp_path / "escaped").exists()


def test_a_passed_check_is_kept_on_disk_without_key_material_and_expires(
    cfg, monkeypatch, tmp_path
):
    monkeypatch.setenv("OPSKIT_STATE_DIR", str(tmp_path / "state"))
    dev = cfg.overlay("dev")
    certs.tls_secret(cfg, dev)  # issued
    certs.tls_secret(cfg, dev)  # checked: fresh, kept on disk
    cache = certs._checks_file()
    text = cache.read_text()
    _cert, key = certs.cert_paths(cfg, dev)
    assert "dev/api-tls" in text and "PRIVATE KEY" not in text and key.read_text() not in text
    checks: list[str] = []
    monkeypatch.setattr(
        certs,
        "status",
        lambda c, ov, which=None: checks.append(ov.name) or certs.CertStatus(True, "fine"),
    )
    certs.tls_secret(cfg, dev)  # another process: the check on disk still holds
    assert checks == []
    data = json.loads(text)
    data["dev/api-tls"]["at"] -= certs.RECHECK + 1  # an hour later
    cache.write_text(json.dumps(data))
    certs.tls_secret(cfg, dev)
    assert checks == ["dev"]
