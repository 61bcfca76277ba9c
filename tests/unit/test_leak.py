"""Leak test: secret flows run with a sentinel in every generated value; afterwards the sentinel
is in no file under the project copy or the temp dirs, and in no captured output, log or
error. The one intended exception is `secrets.show --yes`'s own stdout."""

import base64
import logging
import os
import secrets as random
import shutil
from pathlib import Path

import pytest
from invoke import Context, Exit

from opskit.core import config, shell
from opskit.core.errors import OpsError
from opskit.secrets import generate, sops
from opskit.services import telemetry
from opskit.tasks import secrets as secrets_tasks

ROOT = Path(__file__).resolve().parents[2]
SENTINEL = "LeakSentinel" + random.token_hex(8)
pytestmark = pytest.mark.tools("sops", "age-keygen", "git")


@pytest.fixture
def env(tmp_path, monkeypatch):
    """Project copy, isolated key location and TMPDIR, and every generated value sentinel-marked."""
    home = tmp_path / "home"
    (tmp_path / "tmp").mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    monkeypatch.setenv("SOPS_AGE_KEY_FILE", str(home / ".config/sops/age/keys.txt"))
    monkeypatch.setenv("TMPDIR", str(tmp_path / "tmp"))
    monkeypatch.delenv("SOPS_AGE_KEY", raising=False)
    values: list[str] = []

    def token(nbytes: int) -> str:
        values.append(f"{SENTINEL}-{random.token_urlsafe(nbytes)}")
        return values[-1]

    monkeypatch.setattr(generate, "_token", token)
    repo = tmp_path / "repo"
    repo.mkdir()
    shutil.copy(ROOT / "opskit.yaml", repo / "opskit.yaml")
    shell.run(["git", "init", "-q", str(repo)])
    cfg = config.load(repo / "opskit.yaml")
    c = Context()
    c.config._opskit_config = cfg
    return cfg, c, values


def run_flows(cfg, c, capfd) -> tuple[list[str], str]:
    """Every secret flow, echo on; returns (captured texts, show's stdout)."""
    texts = []
    with shell.echoing(True):
        secrets_tasks.init(c, overlay="dev")
        secrets_tasks.init(c, overlay="prod")
        secrets_tasks.init(c, overlay="dev", force=True, dry_run=True)
        texts.append(capfd.readouterr().out)
        secrets_tasks.show(c, overlay="dev", name="api-secrets", yes=True)
        shown = capfd.readouterr()
        texts.append(shown.err)
        manifests = sops.decrypted_secrets(cfg, cfg.overlay("dev"))
        for manifest in manifests:  # an apply of them, as deploy's dry run prints it
            apply = shell.Step(argv=("kubectl", "apply", "-f", "-"), stdin=manifest, mutates=True)
            shell.run_step(apply, dry_run=True)
        # a failing command that echoes its stdin (the decrypted Secrets) to stderr
        failing = shell.Step(argv=("sh", "-c", "cat >&2; exit 3"), stdin=b"---\n".join(manifests))
        with pytest.raises(OpsError) as failed:
            shell.run_step(failing)
        texts += [str(failed.value), repr(failed.value)]
        secrets_tasks.rotate(c, overlay="dev")
        secrets_tasks.check(c)
        with pytest.raises(Exit):
            secrets_tasks.show(c, overlay="dev", name="api-secrets")  # not a terminal
    return texts, shown.out


def test_sentinel_appears_nowhere_but_where_it_was_asked_for(env, tmp_path, capfd, caplog):
    cfg, c, values = env
    caplog.set_level(logging.DEBUG)
    texts, shown = run_flows(cfg, c, capfd)
    final = capfd.readouterr()
    texts += [final.out, final.err, caplog.text]
    assert SENTINEL in shown  # the flows really carried the sentinel
    # SECRET_KEY_BASE, a password and the MQTT passwords: dev, prod, dev --dry-run
    assert len(values) == 3 * (2 + 1 + telemetry.DEVICES)
    needles = [SENTINEL, *(base64.b64encode(v.encode()).decode() for v in values)]
    for text in texts:
        assert not [n for n in needles if n in text]
    for folder, _, names in os.walk(tmp_path):
        for name in names:
            data = (Path(folder) / name).read_bytes()
            assert not [n for n in needles if n.encode() in data], Path(folder) / name


def test_a_secret_in_argv_reaches_no_log(caplog):
    caplog.set_level(logging.DEBUG)
    shell.secret(SENTINEL + "-argv")
    result = shell.run(["sh", "-c", 'echo "$0" >&2; exit 3', SENTINEL + "-argv"], check=False)
    with pytest.raises(OpsError) as failed:
        shell.run(["sh", "-c", 'echo "$0" >&2; exit 3', SENTINEL + "-argv"])
    assert result.returncode == 3
    assert SENTINEL not in str(failed.value)
    assert SENTINEL not in caplog.text
