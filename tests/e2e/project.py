"""A scratch copy of the repository wired to the e2e kwok cluster, driven like a user would.

The copy (bench.scratch.copy_checkout) holds the tracked and untracked-but-not-ignored files
except bench/, shares the built tools, is its own git repository
(so image tags are real commits), has its own age key and mkcert CA, and reaches the
fixture's cluster through OPSKIT_STATE_DIR.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path

import sh
import yaml

from bench import scratch
from opskit.core import paths
from tests import overlays

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


@dataclass
class Project:
    path: Path
    env: dict[str, str]

    def invoke(self, *args: str, ok: tuple[int, ...] = (0,)) -> sh.RunningCommand:
        """`invoke <args>` in the copy; returns the finished command (exit_code, stdout, stderr)."""
        command = sh.Command(str(BIN / "invoke"))
        return command(
            *args,
            _cwd=self.path,
            _env=self.env,
            _ok_code=list(ok),
            _return_cmd=True,
            _tty_out=False,
        )

    def git(self, *args: str) -> str:
        return str(sh.git("-C", str(self.path), *args, _env=self.env, _tty_out=False)).strip()

    def commit_all(self, message: str) -> str:
        self.git("add", "-A")
        if self.git("status", "--porcelain"):
            self.git("commit", "-q", "-m", message)
        return self.git("rev-parse", "HEAD")


def commit_overlay_patch(
    project: Project, overlay: str, deployment: str, ops: list[dict], subject: str
) -> str:
    """Commit a JSON patch (`ops`) of the overlay's Deployment `deployment` into its
    kustomization; returns the commit."""
    overlays.patch_deployment(project.path / "k8s/overlays" / overlay, deployment, ops)
    return project.commit_all(subject)


def make_project(target: Path, cluster_name: str) -> Project:
    """Copy the working tree (as the bench does), point opskit.yaml at the kwok cluster
    `cluster_name`, set up keys and a CA."""
    scratch.copy_checkout(ROOT, target)  # .tools is shared through a symlink
    scratch.compile_bytecode(target)  # each `invoke` of the tests then skips compiling
    config_path = target / "opskit.yaml"
    data = yaml.safe_load(config_path.read_text())
    data = scratch.configure(data, cluster_name, nodes=data["cluster"]["nodes"])
    config_path.write_text(yaml.safe_dump(data, sort_keys=False))
    home = target.parent / "home"
    home.mkdir(exist_ok=True)
    env = {
        **os.environ,
        "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}",
        "OPSKIT_STATE_DIR": str(paths.state_dir()),
        "XDG_CONFIG_HOME": str(home / ".config"),
        "SOPS_AGE_KEY_FILE": str(home / ".config" / "sops" / "age" / "keys.txt"),
        "GIT_PAGER": "cat",
        "GIT_AUTHOR_NAME": "e2e",
        "GIT_AUTHOR_EMAIL": "e2e@gitops-lab.localhost",
        "GIT_COMMITTER_NAME": "e2e",
        "GIT_COMMITTER_EMAIL": "e2e@gitops-lab.localhost",
    }
    env.pop("OPSKIT_ROOT", None)
    project = Project(target, env)
    project.git("init", "-q", "-b", "main")
    project.commit_all("test: scratch copy")
    project.invoke("secrets.init", "--overlay", "dev")
    project.invoke("certs.init")
    project.commit_all("test: dev secrets for the e2e key")
    return project


def cluster_smoke(project: Project, junit: Path) -> dict[str, tuple[str, str]]:
    """`nox -s cluster-smoke` in the project as a user runs it (its exit 0 asserted);
    {test id: (passed | failed | skipped, skip reason)} read from its JUnit XML."""
    import xml.etree.ElementTree as ET

    nox = sh.Command(str(BIN / "nox"))
    args = ("-s", "cluster-smoke", "--no-venv", "--no-install", "--", f"--junitxml={junit}")
    run = nox(*args, _cwd=project.path, _env=project.env, _ok_code=[0, 1], _return_cmd=True)
    assert run.exit_code == 0, run.stdout.decode()[-3000:]
    outcomes = {}
    for case in ET.parse(junit).getroot().iter("testcase"):
        key = f"{case.get('classname').rsplit('.', 1)[-1]}::{case.get('name')}"
        skipped = case.find("skipped")
        failed = case.find("failure") is not None or case.find("error") is not None
        outcome = "skipped" if skipped is not None else "failed" if failed else "passed"
        outcomes[key] = (outcome, skipped.get("message", "") if skipped is not None else "")
    return outcomes
