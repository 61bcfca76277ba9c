"""`manifests.diff --base`: a real pair of commits of a scratch repository, rendered with the
real kustomize and decrypted with the real sops, under a temporary age key.

The base commit has the dev and prod Secrets with sentinel values; the head commit changes
the dev api replicas, adds and removes an object, pins the image tag, changes one Secret value
and re-encrypts prod's Secrets with the same values. No output of any format may contain a
sentinel value.
"""

from __future__ import annotations

import os
import secrets as random
import shutil
import sys
from pathlib import Path

import pytest
import sh
import yaml

from opskit.core import config, shell
from opskit.core.errors import OpsError
from opskit.diff import formats, offline
from opskit.manifests import kustomize
from opskit.secrets import generate, sops
from tests.unit.conftest import needs_sops

ROOT = Path(__file__).resolve().parents[2]
SENTINEL = "DiffSentinel" + random.token_hex(6)
INVOKE = sh.Command(str(Path(sys.executable).parent / "invoke"))
pytestmark = needs_sops

EXTRA = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "extra"}, "data": {"a": "b"}}


def cli(repo: Path, *args: str, ok: int = 0, **env: str) -> sh.RunningCommand:
    """`invoke manifests.diff <args>` in the scratch repository, as a user runs it."""
    env.setdefault("PATH", f"{ROOT / '.tools' / 'bin'}{os.pathsep}{os.environ['PATH']}")
    return INVOKE(
        "manifests.diff",
        *args,
        _ok_code=[ok],
        _return_cmd=True,
        _env={**os.environ, "OPSKIT_ROOT": str(repo), **env},
    )


def git(repo: Path, *args: str) -> str:
    return shell.run(["git", "-C", str(repo), *args]).stdout.strip()


def _edit_dev(repo: Path) -> None:
    """Replicas 1 -> 3, a new ConfigMap, the monitoring component (ServiceMonitor and its
    NetworkPolicy) gone."""
    dev = repo / "k8s/overlays/dev"
    kustomization = yaml.safe_load((dev / "kustomization.yaml").read_text())
    kustomization["replicas"] = [{"name": "api", "count": 3}]
    kustomization["resources"].append("extra.yaml")
    kustomization["components"].remove("../../components/monitoring")
    (dev / "kustomization.yaml").write_text(yaml.safe_dump(kustomization))
    (dev / "extra.yaml").write_text(yaml.safe_dump(EXTRA))


def _change_database_url(cfg) -> None:
    dev = cfg.overlay("dev")
    path = sops.secret_path(dev, "api-secrets")
    doc = yaml.safe_load(sops.decrypt(cfg, dev, path))
    doc["stringData"]["DATABASE_URL"] = f"ecto://{SENTINEL}-changed@db/app"
    generate.encrypt_manifest(cfg, dev, yaml.safe_dump(doc), force=True)


@pytest.fixture(scope="module")
def repo(tmp_path_factory) -> Path:
    """The scratch repository: tag `base`, then HEAD with every kind of change."""
    mp = pytest.MonkeyPatch()
    tmp = tmp_path_factory.mktemp("offline-diff")
    home = tmp / "home"
    mp.setenv("SOPS_AGE_KEY_FILE", str(home / ".config/sops/age/keys.txt"))
    mp.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    mp.delenv("SOPS_AGE_KEY", raising=False)
    mp.setattr(generate, "_token", lambda n: f"{SENTINEL}-{random.token_urlsafe(n)}")
    repo = tmp / "repo"
    shutil.copytree(ROOT / "k8s", repo / "k8s", ignore=shutil.ignore_patterns("*.sops.yaml"))
    shutil.copy(ROOT / "opskit.yaml", repo / "opskit.yaml")
    git(repo.parent, "init", "-q", str(repo))
    git(repo, "config", "user.email", "t@example.com")
    git(repo, "config", "user.name", "t")
    cfg = config.load(repo / "opskit.yaml")
    for name in ("dev", "prod"):
        generate.init(cfg, cfg.overlay(name))
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "base")
    git(repo, "tag", "base")
    _edit_dev(repo)
    kustomize.set_image(cfg, cfg.overlay("dev"), "0123456789ab")
    _change_database_url(cfg)
    sops.rotate(cfg, cfg.overlay("prod"))
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "head")
    yield repo
    mp.undo()


@pytest.fixture(scope="module")
def result(repo) -> offline.Result:
    return offline.run(repo, "base", "HEAD")


def prod_secrets(repo: Path) -> list[str]:
    """Every prod Secret (the rotation re-encrypts each without changing a value)."""
    files = sorted((repo / "k8s/overlays/prod/secrets").glob("*.sops.yaml"))
    return [f"prod/Secret/{f.name.removesuffix('.sops.yaml')}" for f in files]


def by_ref(result: offline.Result) -> dict[str, offline.Change]:
    return {c.ref: c for c in result.changes}


def test_every_kind_of_change_is_named_per_object(repo, result):
    assert {ref: c.status for ref, c in by_ref(result).items()} == {
        "dev/ConfigMap/extra": "added",
        "dev/Deployment/api": "changed",
        # the tag pin moves every project image the overlay runs (api, telemetry)
        "dev/Deployment/telemetry": "changed",
        "dev/CronJob/device-simulator": "changed",
        "dev/Secret/api-secrets": "changed",
        "dev/NetworkPolicy/prometheus-to-api": "removed",
        "dev/ServiceMonitor/api": "removed",
        **dict.fromkeys(prod_secrets(repo), "re-encrypted, value unchanged"),
    }
    assert result.changed
    assert result.targets == ("argocd", "dev", "prod")


def test_a_changed_object_is_a_unified_diff_of_sorted_yaml(result):
    lines = by_ref(result)["dev/Deployment/api"].lines
    assert lines[0].startswith("--- a (") and lines[1].startswith("+++ b (")
    changed = [line for line in lines if line[:1] in "+-" and line[:3] not in ("---", "+++")]
    assert changed == [
        "-  replicas: 1",
        "+  replicas: 3",
        "-        image: localhost:5000/gitops-lab/api:000000000000",
        "+        image: localhost:5000/gitops-lab/api:0123456789ab",
    ]


def test_a_secret_shows_keys_only(result):
    assert by_ref(result)["dev/Secret/api-secrets"].lines == ("stringData.DATABASE_URL: changed",)
    assert by_ref(result)["prod/Secret/api-secrets"].lines == ()


def test_no_format_shows_a_secret_value(repo, result):
    outputs = [formats.text(result), formats.markdown(result), formats.summary(result)]
    done = cli(repo, "--base=base", "--head=HEAD", "--format=markdown", ok=1)
    outputs += [done.stdout.decode(), done.stderr.decode()]
    assert all(SENTINEL not in text for text in outputs)
    assert outputs[3] == outputs[1]  # the CLI prints what diffformat gives
    rotated = len(prod_secrets(repo))
    assert outputs[4].startswith(f"opskit: 1 added, 2 removed, 4 changed, {rotated} re-encrypted")
    assert "| dev | 1 | 2 | 4 | 0 |" in outputs[1]
    assert "<details><summary><b>dev</b>: 7 object(s)</summary>" in outputs[1]
    assert "prod/Secret/api-secrets: re-encrypted, value unchanged\n" in outputs[0]


def test_the_working_tree_is_left_alone(repo, result):
    assert git(repo, "status", "--porcelain") == ""
    assert git(repo, "worktree", "list").count("\n") == 0


def test_only_a_re_encryption_exits_0(repo):
    """The working tree as head: dev back at base, prod's Secrets only re-encrypted."""
    git(repo, "checkout", "-q", "base", "--", "k8s/overlays/dev")
    try:
        only = offline.run(repo, "base", None)
        rotated = len(prod_secrets(repo))
        assert [c.status for c in only.changes] == ["re-encrypted, value unchanged"] * rotated
        assert only.head == "working tree"
        assert not only.changed
    finally:
        git(repo, "checkout", "-q", "HEAD", "--", "k8s")


def test_same_commit_is_no_change_and_exit_0(repo):
    done = cli(repo, "--base=HEAD", "--head=HEAD")
    assert done.stdout.decode() == ""
    assert "opskit: no changes in argocd, dev, prod (HEAD (" in done.stderr.decode()


def test_a_bad_ref_is_one_line_and_exit_1(repo):
    error = cli(repo, "--base=no-such-branch", ok=1).stderr.decode()
    assert error.startswith("opskit: error: unknown git ref 'no-such-branch': no such commit")
    assert error.count("\n") == 1
    with pytest.raises(OpsError, match="invalid git ref"):
        offline.run(repo, "--output=/tmp/x")


def test_without_a_key_keys_still_show(repo, monkeypatch, tmp_path):
    monkeypatch.setenv("SOPS_AGE_KEY_FILE", str(tmp_path / "none.txt"))
    found = by_ref(offline.run(repo, "base", "HEAD"))["dev/Secret/api-secrets"]
    assert found.status == "changed"
    assert all(
        line.endswith("ciphertext changed (not decrypted: none of your age keys opens it)")
        for line in found.lines
    )
    assert {line.split(":")[0] for line in found.lines} == {
        "stringData.DATABASE_URL",
        "stringData.REDIS_URL",
        "stringData.SECRET_KEY_BASE",
    }


def test_step_summary_for_ci_and_exit_zero(repo, tmp_path):
    summary = tmp_path / "summary.md"
    done = cli(
        repo,
        "--base=base",
        "--head=HEAD",
        "--step-summary",
        "--exit-zero",
        GITHUB_STEP_SUMMARY=str(summary),
    )
    assert done.stdout.decode().startswith("dev/ConfigMap/extra: added\n")
    text = summary.read_text()
    assert text.startswith("### Manifest diff: `base (")
    assert "- `dev/Secret/api-secrets`: changed" in text
    assert SENTINEL not in text


def test_without_sops_keys_still_show(repo):
    """A CI job without the Go-built tools: the diff runs, Secrets by key from the ciphertext."""
    path = f"{Path(sys.executable).parent}{os.pathsep}/usr/bin{os.pathsep}/bin"
    done = cli(repo, "--base=base", "--head=HEAD", ok=1, PATH=path)
    assert (
        "dev/Secret/api-secrets: changed\n"
        "    stringData.DATABASE_URL: ciphertext changed (not decrypted: sops is not installed)\n"
    ) in done.stdout.decode()
