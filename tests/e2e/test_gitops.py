"""GitOps for real on the embedded cluster: ArgoCD's controllers as local processes sync a
scratch copy of the repository (served by a loopback git daemon), SOPS Secrets included.

The tests run in order on one install: bootstrap, idempotence, a release, a broken release
rolled back in git, self-heal, bad input, and last `cluster.down` (the cluster is brought
back up for the modules after this one).
"""

from __future__ import annotations

import base64
import json
import re
import secrets as random
import sys
import time
from pathlib import Path

import pytest
import sh
import yaml

from opskit.clusters import argocd_local
from opskit.core import tools
from tests.e2e.project import Project, make_project

pytestmark = [
    pytest.mark.tools("argocd", "kustomize"),
]
SENTINEL = "GitOpsSentinel" + random.token_hex(8)
DEV_NS = "gitops-lab-dev"
APP = "gitops-lab-dev"
SECRETS = "k8s/overlays/dev/secrets"


def _say(message: str) -> None:
    print(f"[e2e] {message}", file=sys.stderr, flush=True)


class Outputs(list):
    """Every stdout/stderr the tests saw (checked for the sentinel at the end)."""

    def run(self, project: Project, *args: str, ok=(0,)) -> tuple[int, str, str]:
        done = project.invoke(*args, ok=ok)
        out, err = done.stdout.decode(), done.stderr.decode()
        self.extend((out, err))
        return done.exit_code, out, err


OUTPUTS = Outputs()
BOOTSTRAP: list[str] = []  # argocd.bootstrap's stdout and stderr


@pytest.fixture(scope="module")
def gitops(kwok_cluster, tmp_path_factory) -> Project:
    """The scratch copy, its dev Secret carrying a sentinel, ArgoCD installed, root applied."""
    base = tmp_path_factory.mktemp("gitops")
    project = make_project(base / "source", kwok_cluster.name)
    secret = project.path / SECRETS / "api-secrets.sops.yaml"
    sh.Command(tools.which("sops"))(
        "set",
        "--value-stdin",
        str(secret),
        '["stringData"]["SENTINEL"]',
        _in=json.dumps(SENTINEL),
        _env=project.env,
    )  # the value goes through a pipe and sops's memory, never a plaintext file
    project.git("config", "receive.denyCurrentBranch", "updateInstead")  # clones push here
    project.commit_all("test: a sentinel in the dev Secret")
    started = time.monotonic()
    OUTPUTS.run(project, "argocd.install")
    _say(f"argocd.install (cold) took {time.monotonic() - started:.1f}s")
    BOOTSTRAP.extend(OUTPUTS.run(project, "argocd.bootstrap")[1:])
    return project


def app_status(project: Project) -> dict:
    _, out, _ = OUTPUTS.run(project, "argocd.status", "--json")
    return next(row for row in json.loads(out) if row["name"] == APP)


def test_bootstrap_syncs_dev_at_head_with_the_decrypted_secrets(gitops, kube):
    head = gitops.git("rev-parse", "HEAD")
    started = time.monotonic()
    OUTPUTS.run(gitops, "argocd.wait", "--overlay=dev", "--timeout=300")
    _say(f"bootstrap -> {APP} Synced/Healthy in {time.monotonic() - started:.1f}s")
    row = app_status(gitops)
    assert (row["revision"], row["sync"], row["health"]) == (head, "Synced", "Healthy")
    sops = sh.Command(tools.which("sops"))
    for file in sorted((gitops.path / SECRETS).glob("*.sops.yaml")):
        plain = yaml.safe_load(str(sops("-d", str(file), _env=gitops.env)))
        live = kube.json("get", "secret", plain["metadata"]["name"], "-n", DEV_NS)
        decoded = {k: base64.b64decode(v).decode() for k, v in live["data"].items()}
        assert decoded == plain["stringData"]
    assert decoded_sentinel(kube) == SENTINEL
    root = kube.json("get", "applications.argoproj.io", "gitops-lab", "-n", "argocd")
    assert root["spec"]["source"]["path"] == "k8s/argocd"  # no monitoring: no containers
    apps = kube.json("get", "applications.argoproj.io", "-n", "argocd")["items"]
    assert "gitops-lab-monitoring" not in {a["metadata"]["name"] for a in apps}
    said = [line for line in "\n".join(BOOTSTRAP).splitlines() if "monitoring" in line]
    assert len(said) == 1 and "monitoring is not synced here" in said[0]


def decoded_sentinel(kube) -> str:
    live = kube.json("get", "secret", "api-secrets", "-n", DEV_NS)
    return base64.b64decode(live["data"]["SENTINEL"]).decode()


def test_second_install_is_a_quick_no_op(gitops):
    started = time.monotonic()
    _, _, err = OUTPUTS.run(gitops, "argocd.install")
    seconds = time.monotonic() - started
    _say(f"argocd.install no-op: {seconds:.2f}s (invoke process included)")
    assert "already installed" in err and "starting" not in err and "applying" not in err
    assert seconds < 5.0  # the < 1 s target is measured by `nox -s bench` on a quiet machine


def test_release_commit_is_synced_and_healthy(gitops):
    (gitops.path / "app" / "RELEASE_NOTE").write_text("a change the release ships\n")
    gitops.commit_all("feat: something to release")
    started = time.monotonic()
    _, _, err = OUTPUTS.run(gitops, "release", "--overlay=dev", "--watch", "--timeout=120")
    seconds = time.monotonic() - started
    head = gitops.git("rev-parse", "HEAD")
    assert gitops.git("log", "-1", "--format=%s").startswith("chore(release): deploy api ")
    assert f"Synced+Healthy at {head[:12]}" in err
    _say(f"release commit -> Synced/Healthy in {seconds:.1f}s (invoke included)")
    assert app_status(gitops)["revision"] == head


def test_a_plain_release_asks_argocd_to_read_it_as_a_push_webhook_would(gitops, kube):
    """No --watch, no push: ArgoCD reads this clone, so `invoke release` asks it to read the
    commit at once (else it waits for its next poll); the wait after it asks nothing more."""
    (gitops.path / "app" / "RELEASE_NOTE").write_text("another change the release ships\n")
    gitops.commit_all("feat: another thing to release")
    _, _, err = OUTPUTS.run(gitops, "release", "--overlay=dev")
    head = gitops.git("rev-parse", "HEAD")
    app = kube.json("get", "applications.argoproj.io", APP, "-n", "argocd")
    pending = "argocd.argoproj.io/refresh" in (app["metadata"].get("annotations") or {})
    read = head in (app["status"]["sync"].get("revisions") or [])
    assert f"asked ArgoCD to read it now ({APP})" in err
    assert pending or read  # asked and not yet done, or done already
    _, _, err = OUTPUTS.run(gitops, "argocd.wait", "--overlay=dev", "--timeout=120")
    assert f"Synced+Healthy at {head[:12]}" in err
    assert "asking ArgoCD to read" not in err  # the release's request was enough


def test_unhealthy_release_is_reverted_in_git_and_the_old_revision_is_healthy(
    gitops, tmp_path, never_ready
):
    good = gitops.git("rev-parse", "HEAD")
    sh.git("clone", "-q", str(gitops.path), str(tmp_path / "clone"))
    clone = Project(tmp_path / "clone", gitops.env)
    never_ready(clone, "dev", "feat: a change whose pods never become Ready")
    code, _, err = OUTPUTS.run(
        clone, "release", "--overlay=dev", "--push", "--watch", "--timeout=40", ok=(1,)
    )
    assert code == 1
    last = err.strip().splitlines()[-1]
    tag = clone.git("rev-parse", "HEAD~2")[:12]
    revert = clone.git("rev-parse", "HEAD")
    assert re.fullmatch(
        rf"opskit: error: release {tag} to dev failed \({APP} not Synced\+Healthy at \w{{12}} "
        rf"after 40s: Deployment {DEV_NS}/api \w+.*\); rolled back in git: {revert[:12]} is "
        "Synced and Healthy",
        last,
    ), last
    assert (
        clone.git("log", "-1", "--format=%s") == f"chore(release): revert deploy api {tag} to dev"
    )
    assert gitops.git("rev-parse", "HEAD") == revert  # pushed where the release went
    assert clone.git("diff", good, revert, "--", "k8s") == ""  # git says the old state again
    row = app_status(gitops)
    assert (row["revision"], row["sync"], row["health"]) == (revert, "Synced", "Healthy")


def test_self_heal_undoes_a_manual_scale(gitops, kube):
    kube.run("scale", "deployment", "api", "-n", DEV_NS, "--replicas=3")
    started = time.monotonic()
    while time.monotonic() - started < 60:
        replicas = kube.json("get", "deployment", "api", "-n", DEV_NS)["spec"]["replicas"]
        if replicas == 1:
            break
        time.sleep(0.3)
    _say(f"self-heal undid a manual scale in {time.monotonic() - started:.1f}s")
    assert replicas == 1


def test_bad_input_is_one_line_and_changes_nothing(gitops):
    before = gitops.git("rev-parse", "HEAD")
    cases = {
        ("argocd.wait", "--overlay=nope"): "unknown overlay 'nope'",
        ("argocd.wait", "--overlay=dev", "--revision=not-a-commit"): "is not a commit",
    }
    for args, expected in cases.items():
        _, _, err = OUTPUTS.run(gitops, *args, ok=(1,))
        assert len(err.strip().splitlines()) == 1 and expected in err, err
    config = gitops.path / "opskit.yaml"
    saved = config.read_text()
    data = yaml.safe_load(saved)
    data["overlays"]["dev"]["contexts"] = ["some-other-context"]
    config.write_text(yaml.safe_dump(data, sort_keys=False))
    try:
        _, _, err = OUTPUTS.run(gitops, "argocd.wait", "--overlay=dev", ok=(1,))
    finally:
        config.write_text(saved)
    assert len(err.strip().splitlines()) == 1 and "is not allowed for overlay dev" in err
    assert gitops.git("rev-parse", "HEAD") == before


def test_no_plaintext_in_files_or_output(gitops, kwok_cluster, tmp_path_factory):
    needles = (SENTINEL.encode(), base64.b64encode(SENTINEL.encode()))
    roots = [gitops.path.parent, kwok_cluster.state_dir, tmp_path_factory.getbasetemp()]
    found = [str(p) for root in roots for p in _files(root) if _contains(p, needles)]
    assert found == []
    assert not any(SENTINEL in text for text in OUTPUTS)


def _files(root: Path):
    for path in root.rglob("*"):
        if path.is_file() and not path.is_symlink():
            yield path


def _contains(path: Path, needles) -> bool:
    try:
        data = path.read_bytes()
    except OSError:
        return False
    return any(n in data for n in needles)


def test_cluster_down_leaves_no_argocd_process_and_no_file(gitops, kwok_cluster):
    local = argocd_local.LocalArgoCD(kwok_cluster.state_dir, kwok_cluster.kubeconfig)
    pids = local.running()
    assert sorted(pids) == sorted(argocd_local.NAMES)
    OUTPUTS.run(gitops, "cluster.down")
    assert [pid for pid in pids.values() if _alive(pid)] == []
    assert not local.home.exists()
    marker = f"{argocd_local.MARKER}={local.home}".encode()
    assert [p for p in Path("/proc").glob("[0-9]*") if _has_marker(p, marker)] == []
    kwok_cluster.up(report=_say)  # for the e2e modules after this one
    code, _, err = OUTPUTS.run(gitops, "argocd.status", ok=(1,))  # ArgoCD absent now
    assert (code, err.strip()) == (
        1,
        "opskit: error: ArgoCD is not installed in this cluster "
        "(no Application CRD); install it first: `invoke argocd.install`",
    )


def _alive(pid: int) -> bool:
    """Running (a zombie waiting for init to reap it holds nothing)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def _has_marker(proc: Path, marker: bytes) -> bool:
    try:
        return marker in (proc / "environ").read_bytes()
    except OSError:
        return False
