"""A Secret is schema-checked before it is encrypted, and `secrets.check` flags any value a
SOPS file holds in plaintext (not only data/stringData): a misspelled field is never stored
unencrypted unnoticed."""

import pytest

from opskit.core.errors import OpsError
from opskit.secrets import generate, scan, sops
from tests.unit.conftest import needs_sops

pytestmark = needs_sops
SENTINEL = "plaintext-sentinel-4f1d9c"
MISSPELLED = (
    f"apiVersion: v1\nkind: Secret\nmetadata:\n  name: typo\nstringdata:\n  TOKEN: {SENTINEL}\n"
)


@pytest.fixture
def cfg(secrets_project):
    generate.init(secrets_project, secrets_project.overlay("dev"))
    return secrets_project


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (MISSPELLED, "unknown field 'stringdata' (did you mean 'stringData'?)"),
        (MISSPELLED.replace("stringdata", "extra"), "unknown field 'extra'"),
        (MISSPELLED.replace("stringdata:\n  TOKEN", "stringData:\n  A: {b: c}\n  X"), "A"),
        (MISSPELLED.replace("apiVersion: v1", "apiVersion: v2"), "apiVersion"),
        (MISSPELLED.replace("stringdata", "data"), "base64"),
    ],
)
def test_encrypt_refuses_a_secret_that_is_not_a_valid_secret(cfg, text, expected):
    with pytest.raises(OpsError) as caught:
        generate.encrypt_manifest(cfg, cfg.overlay("dev"), text)
    message = str(caught.value)
    assert "\n" not in message and expected in message and SENTINEL not in message
    assert not (cfg.overlay("dev").path / "secrets" / "typo.sops.yaml").exists()


def test_check_flags_any_plaintext_value_in_a_sops_file(cfg):
    """What the old encrypt wrote for a misspelled field: sops left it in plaintext."""
    rel = "k8s/overlays/dev/secrets/typo.sops.yaml"
    out = sops.run_sops(
        cfg,
        *("--encrypt", "--filename-override", rel, "--input-type", "yaml"),
        *("--output-type", "yaml", "/dev/stdin"),
        stdin=MISSPELLED,
    )
    (cfg.root / rel).write_text(out.stdout)
    assert SENTINEL in (cfg.root / rel).read_text()
    findings = scan.check(cfg)
    assert findings == [
        f"{rel}: stringdata.TOKEN not encrypted (plaintext in a SOPS file); fix the "
        "manifest, re-encrypt it (`invoke secrets.encrypt --overlay <name> --force`) and "
        "change the exposed value"
    ]
    assert SENTINEL not in "\n".join(findings)
