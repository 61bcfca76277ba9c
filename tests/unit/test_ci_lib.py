"""ci/_lib.sh's setup functions, run for real by bash in a copy of the CI files."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def cfg():
    from opskit.core import config

    return config.load(ROOT / "opskit.yaml")


@pytest.fixture
def lib(tmp_path: Path):
    """Run `bash -c 'source ci/_lib.sh; <body>'` in a copy; (exit code, stdout+stderr)."""
    shutil.copytree(ROOT / "ci", tmp_path / "ci")
    shutil.copy(ROOT / "opskit.yaml", tmp_path / "opskit.yaml")
    fake_bin = tmp_path / "fake-bin"
    fake_bin.mkdir()
    (tmp_path / ".venv/bin").mkdir(parents=True)  # `pinned` asks the project's Python
    fake(tmp_path / ".venv/bin", "python", f'exec "{sys.executable}" "$@"')

    def run(body: str, **env: str) -> tuple[int, str]:
        path = f"{fake_bin}:{Path(sys.executable).parent}:/usr/bin:/bin"
        environ = {"PATH": path, "HOME": str(tmp_path), **env}
        environ |= {k: v for k, v in os.environ.items() if k.startswith("OPSKIT_ROOT")}
        script = f'source "{tmp_path}/ci/_lib.sh"\n{body}\n'
        done = subprocess.run(
            ["bash", "-c", script],
            env=environ,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        return done.returncode, done.stdout + done.stderr

    run.root, run.bin = tmp_path, fake_bin
    return run


def fake(folder: Path, name: str, body: str) -> None:
    path = folder / name
    path.write_text(f"#!/usr/bin/env bash\n{body}\n")
    path.chmod(0o755)


def test_need_image_lower_cases_the_repository(lib):  # GitHub gives Owner/Repo
    code, out = lib('need_image; echo "image=$OPSKIT_IMAGE"', OPSKIT_IMAGE="ghcr.io/GitOps-Lab/Api")
    assert code == 0 and "image=ghcr.io/gitops-lab/api" in out


def test_need_image_without_a_registry_fails_in_one_line(lib):
    code, out = lib("need_image")
    assert code == 1
    assert out.strip().splitlines()[-1] == (
        "ci: bash: error: OPSKIT_IMAGE is not set: set it to the registry repository the "
        "release pushes to"
    )


def test_need_age_key_fails_without_the_secret(lib):
    code, out = lib("need_age_key")
    assert code == 1 and "SOPS_AGE_KEY is not set" in out
    assert lib("need_age_key", SOPS_AGE_KEY="AGE-SECRET-KEY-X")[0] == 0


def test_a_download_with_the_wrong_checksum_installs_nothing(lib, tmp_path):
    payload = tmp_path / "k3d-linux-amd64"
    payload.write_text("binary")
    good = hashlib.sha256(b"binary").hexdigest()
    dest = tmp_path / "bin" / "k3d"
    code, out = lib(f'fetch_verified "file://{payload}" "{dest}" "{"0" * 64}"')
    assert code == 1 and "checksum mismatch" in out and not dest.exists()
    assert lib(f'fetch_verified "file://{payload}" "{dest}" "{good}"')[0] == 0
    assert dest.read_text() == "binary" and os.access(dest, os.X_OK)


def kubectl_reporting(lib, version: str) -> None:
    fake(lib.bin, "kubectl", f'echo \'{{"clientVersion": {{"gitVersion": "{version}"}}}}\'')
    fake(lib.bin, "curl", 'echo "curl $*" >> "$HOME/curl.log"; exit 22')


def test_kubectl_outside_the_cluster_minor_is_replaced_by_the_pinned_one(lib, cfg):
    kubectl_reporting(lib, "v1.36.0")  # GitHub's preinstalled kubectl at this date
    code, out = lib("need_kubectl")
    want = f"v{cfg.kubernetes.version}"
    assert f"does not match the cluster's {want.rsplit('.', 1)[0]}: installing {want}" in out
    log = (lib.root / "curl.log").read_text()
    assert f"https://dl.k8s.io/release/{want}/bin/linux/amd64/kubectl" in log
    assert code != 0  # the fake download fails: nothing half-installed
    assert not (lib.root / ".tools/ci-bin/kubectl").exists()


def test_kubectl_of_the_cluster_minor_is_kept(lib, cfg):
    kubectl_reporting(lib, f"v{cfg.kubernetes.version}")
    assert lib("need_kubectl")[0] == 0
    assert not (lib.root / "curl.log").exists()


def test_git_identity_is_set_only_when_none_is_configured(lib):
    body = 'need_git_identity; echo "author=${GIT_AUTHOR_NAME:-}"'
    assert "author=opskit release" in lib(body, GIT_CONFIG_NOSYSTEM="1")[1]
    assert "author=bot" in lib(body, GIT_AUTHOR_NAME="bot")[1]


def cluster_e2e_scripts() -> list[str]:
    from opskit.lint import cimodel

    job = next(j for j in cimodel.github_jobs(ROOT) if j.name == "cluster-e2e")
    return [step.run.split()[0] for step in job.steps if step.run]


@pytest.mark.parametrize("event", ["pull_request", "push"])
def test_cluster_e2e_on_a_pull_request_without_secrets_is_skipped_with_a_notice(lib, event):
    """Forks and Dependabot get no secrets: a notice, exit 0, nothing set up; a push fails."""
    fake(lib.root, "bootstrap.sh", f'echo bootstrap >> "{lib.root}/ran"; exit 1')
    scripts = cluster_e2e_scripts()
    assert scripts == [
        "ci/cluster-up.sh",
        "ci/monitoring.sh",
        "ci/deploy.sh",
        "ci/cluster-smoke.sh",
    ]
    for script in scripts:
        env = {"GITHUB_ACTIONS": "true", "GITHUB_EVENT_NAME": event, "SOPS_AGE_KEY": ""}
        code, out = lib(f'bash "{lib.root}/{script}"', **env)
        if event == "pull_request":
            assert code == 0, out
            assert out.startswith("::notice title=cluster-e2e skipped::no SOPS_AGE_KEY"), out
            assert not (lib.root / "ran").exists()
        else:
            assert code != 0 and (lib.root / "ran").read_text() == "bootstrap\n"
            (lib.root / "ran").unlink()


def test_the_review_diff_fetches_the_destination_branch_first(tmp_path):
    """Bitbucket's pull-request clone holds its own branch only: origin/<destination> is
    fetched before the diff reads it."""

    def git(*args: str, cwd: Path = tmp_path) -> str:
        ident = ["-c", "user.name=t", "-c", "user.email=t@example.com"]
        argv = ["git", *ident, *args]
        return subprocess.run(argv, cwd=cwd, capture_output=True, text=True, check=True).stdout

    source = tmp_path / "source"
    shutil.copytree(ROOT / "ci", source / "ci")
    shutil.copy(ROOT / "opskit.yaml", source / "opskit.yaml")
    fake(source, "bootstrap.sh", "exit 0")
    git("init", "-q", "-b", "main", str(source))
    git("add", ".", cwd=source)
    git("commit", "-q", "-m", "init", cwd=source)
    git("branch", "develop", cwd=source)
    git("clone", "-q", "--single-branch", "-b", "main", str(source), "work")
    work = tmp_path / "work"
    assert "origin/develop" not in git("branch", "-r", cwd=work)
    (work / ".venv/bin").mkdir(parents=True)
    fake(work / ".venv/bin", "invoke", 'git rev-parse --verify -q "${2#--base=}" && echo "$@"')
    env = {
        "PATH": "/usr/bin:/bin",
        "HOME": str(tmp_path),
        "BITBUCKET_PR_DESTINATION_BRANCH": "develop",
    }
    done = subprocess.run(
        ["bash", "ci/diff.sh"],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.splitlines()[-1] == (
        "manifests.diff --base=origin/develop --head=HEAD --step-summary --exit-zero"
    )
