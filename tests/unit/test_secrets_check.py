"""secrets.check: plaintext Secrets, recipient drift and credential patterns are findings."""

import base64
import shutil
from pathlib import Path

import pytest
from invoke import Context, Exit

from opskit.core import shell
from opskit.secrets import generate, scan, sops
from opskit.tasks import secrets as secrets_tasks
from tests.unit.conftest import needs_sops

ROOT = Path(__file__).resolve().parents[2]
pytestmark = needs_sops
# Built at run time so this file itself holds none of the patterns it plants.
AGE_SECRET = "AGE-SECRET-" + "KEY-1" + "Q" * 58
KEY_MARK = "RSA " + "PRIVATE" + " KEY-----"
PRIVATE_KEY = f"-----BEGIN {KEY_MARK}\nMIIEow\n-----END {KEY_MARK}\n"
AWS_ID = "AKIA" + "ABCDEFGHIJKLMNOP"


@pytest.fixture
def cfg(secrets_project):
    loaded = secrets_project
    generate.init(loaded, loaded.overlay("dev"))
    return loaded


def plant(cfg, rel: str, text: str) -> None:
    path = cfg.root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def test_clean_project_has_no_findings(cfg):
    assert scan.check(cfg) == []


def test_planted_plaintext_secret_is_caught(cfg):
    value = base64.b64encode(b"hunter2-but-longer").decode()
    plant(
        cfg,
        "k8s/overlays/dev/leaked.yaml",
        f"apiVersion: v1\nkind: Secret\nmetadata:\n  name: leaked\ndata:\n  PASS: {value}\n",
    )
    findings = scan.check(cfg)
    assert findings == [
        "k8s/overlays/dev/leaked.yaml: Secret 'leaked' is not SOPS-encrypted; encrypt it: "
        "`invoke secrets.encrypt --overlay <name> < k8s/overlays/dev/leaked.yaml` and delete "
        "k8s/overlays/dev/leaked.yaml"
    ]
    assert value not in "\n".join(findings)


@pytest.mark.parametrize(
    ("rel", "text", "what"),
    [
        ("notes/key.txt", AGE_SECRET + "\n", "age secret key"),
        ("deploy/id_rsa.txt", PRIVATE_KEY, "private key"),
        ("ci/env.sh", f"export AWS_ACCESS_KEY_ID={AWS_ID}\n", "AWS access key id"),
        ("values.yaml", "grafana:\n  adminPassword: Tr0ub4dor-and-3\n", "password value"),
        (
            "app/config/prod.exs",
            'config :api, password: "' + 'Tr0ub4dor-and-3"\n',
            "password value",
        ),
    ],
)
def test_credential_patterns_in_files_git_would_track(cfg, rel, text, what):
    plant(cfg, rel, text)
    assert [f.split(": ", 1)[1].split(";")[0] for f in scan.check(cfg)] == [f"plaintext {what}"]


@pytest.mark.parametrize(
    "line",
    [
        "password: ENC[AES256_GCM,data:abc,type:str]",
        'password = os.environ["DB_PASSWORD"]',
        "password: ${DB_PASSWORD}",
        'config :api, password: System.get_env("PGPASSWORD")',
        "password=password_from_vault",  # a variable in code (.py)
        "password: postgres",  # a well-known local default, not a credential
        "password: Tr0ub4dor-and-3  # pragma: allowlist secret",
    ],
)
def test_references_and_reviewed_lines_are_not_findings(cfg, line):
    plant(cfg, "conf/settings.py", line + "\n")
    assert scan.check(cfg) == []


def test_ignored_files_are_not_scanned(cfg):
    plant(cfg, ".gitignore", "*.key\n")
    plant(cfg, "local.key", AGE_SECRET + "\n")
    assert scan.check(cfg) == []


def test_recipient_drift_and_missing_rule(cfg, tmp_path):
    dev = cfg.overlay("dev")
    key = tmp_path / "teammate.txt"
    shell.run(["age-keygen", "-o", str(key)])
    generate.add_recipient(cfg, dev, shell.run(["age-keygen", "-y", str(key)]).stdout.strip())
    findings = scan.check(cfg)
    assert len(findings) == len(generate.GENERATED)
    assert all("encrypted to 1 recipient(s) but .sops.yaml lists 2" in f for f in findings)
    sops.rotate(cfg, dev)
    assert scan.check(cfg) == []
    shutil.copy(sops.secret_files(dev)[0], cfg.root / "k8s/stray.sops.yaml")
    assert scan.check(cfg) == [
        "k8s/stray.sops.yaml: no creation rule in .sops.yaml matches this encrypted file; "
        "add one (`invoke secrets.init --overlay <name>`)"
    ]


def test_partially_encrypted_and_corrupt_files(cfg):
    path = sops.secret_files(cfg.overlay("dev"))[0]
    text = path.read_text()
    path.write_text(text.replace("    REDIS_URL: ENC[", "    REDIS_URL: plain\n    X: ENC[", 1))
    assert "stringData.REDIS_URL not encrypted" in scan.check(cfg)[0]
    start = text.index("SECRET_KEY_BASE: ENC[AES256_GCM,data:") + 38
    flipped = "A" if text[start] != "A" else "B"
    path.write_text(text[:start] + flipped + text[start + 1 :])
    assert "does not decrypt with your key" in scan.check(cfg)[0]


def test_check_task_prints_one_line_per_finding_and_exits_1(cfg, capsys):
    plant(cfg, "a.txt", AGE_SECRET + "\n")
    plant(cfg, "b.txt", AGE_SECRET + "\n")
    c = Context()
    c.config._opskit_config = cfg
    with pytest.raises(Exit) as caught:
        secrets_tasks.check(c)
    assert caught.value.code == 1
    out = capsys.readouterr()
    assert out.out.splitlines() == [
        f"{name}:1: plaintext age secret key; remove it (encrypt with sops, or mark a reviewed "
        "false positive with `# pragma: allowlist secret`)"
        for name in ("a.txt", "b.txt")
    ]
    assert "found 2 problem(s)" in out.err
