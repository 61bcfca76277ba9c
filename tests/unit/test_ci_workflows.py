"""The CI files read as their runners run them: setup steps, secrets, identity, gates, pins.

Each test names the defect it guards (a CI that failed on its runners while every local
check passed); `nox -s cleanroom` runs the same jobs for real.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from opskit.core import config
from opskit.lint import cimodel

ROOT = Path(__file__).resolve().parents[2]
GITHUB = {job.name: job for job in cimodel.github_jobs(ROOT)}
BITBUCKET = {job.name: job for job in cimodel.bitbucket_jobs(ROOT)}
# stage scripts that build Go tools: their nox session or need_sops runs `tools.install`
GO_STAGES = {"ci/lint.sh", "ci/tests.sh", "ci/e2e.sh", "ci/deploy.sh"}
# the first major of each action that runs on Node 24 (setup-python: also its cache client)
NODE24 = {
    "actions/checkout": 5,
    "actions/setup-python": 6,
    "actions/setup-go": 6,
    "actions/cache": 5,
    "actions/upload-artifact": 6,
    "docker/login-action": 4,
}


def go_version() -> tuple[int, int]:
    major, minor = (ROOT / ".go-version").read_text().strip().split(".")[:2]
    return int(major), int(minor)


def uses_index(job: cimodel.Job, action: str) -> int:
    return next((i for i, s in enumerate(job.steps) if s.uses == action), len(job.steps))


@pytest.mark.parametrize("job", GITHUB.values(), ids=lambda j: j.name)
def test_github_jobs_that_build_go_tools_set_up_go_first(job):  # defect 1
    go_steps = [i for i, s in enumerate(job.steps) if s.run in GO_STAGES]
    if go_steps:
        assert uses_index(job, "actions/setup-go") < min(go_steps), job.name
        assert job.env.get("GOTOOLCHAIN") == "local"


def test_the_ci_go_is_new_enough_for_every_tool_module():  # defect 1
    """The CI Go builds every module, but those whose build names a newer toolchain
    (toolbuild's GOTOOLCHAIN, fetched by the go command: ArgoCD's 1.27)."""
    from opskit.toolchain import build

    own_toolchain = {t.module_dir for t in build.GO_TOOLS if t.toolchain}
    needed = []
    for gomod in (ROOT / "tools").glob("*/go.mod"):
        line = re.search(r"^go (\d+)\.(\d+)", gomod.read_text(), re.M)
        if gomod.parent.name not in own_toolchain:
            needed.append((int(line[1]), int(line[2])))
    assert own_toolchain and go_version() >= max(needed)


@pytest.mark.parametrize("job", BITBUCKET.values(), ids=lambda j: j.name)
def test_bitbucket_steps_that_build_go_tools_run_in_the_go_image(job):  # defect 6
    if set(job.runs()) & GO_STAGES and "self.hosted" not in job.image:
        major, minor = go_version()
        assert job.image.startswith(f"golang:{major}.{minor}-"), job.image


def test_cluster_e2e_maps_the_age_key_from_a_secret():  # defect 2
    assert GITHUB["cluster-e2e"].env["SOPS_AGE_KEY"] == "${{ secrets.SOPS_AGE_KEY }}"
    assert "need_age_key" in (ROOT / "ci/deploy.sh").read_text()
    assert "SOPS_AGE_KEY" in (ROOT / "bitbucket-pipelines.yml").read_text().split("image:")[0]


def test_deploy_installs_sops_itself():  # defect 8
    assert "need_sops" in (ROOT / "ci/deploy.sh").read_text().splitlines()


def test_release_commits_with_an_identity():  # defect 4
    env = GITHUB["release"].env
    for key in ("GIT_AUTHOR_NAME", "GIT_AUTHOR_EMAIL", "GIT_COMMITTER_NAME", "GIT_COMMITTER_EMAIL"):
        assert env.get(key), key
    assert "need_git_identity" in (ROOT / "ci/release.sh").read_text().splitlines()


@pytest.mark.parametrize("system", [GITHUB, BITBUCKET], ids=["github", "bitbucket"])
def test_cluster_e2e_installs_prometheus_before_the_smoke_checks(system):  # defect 5
    runs = next(j for name, j in system.items() if name.startswith("cluster-e2e")).runs()
    assert runs.index("ci/monitoring.sh") < runs.index("ci/cluster-smoke.sh")


def test_the_prometheus_check_skips_without_prometheus():  # defect 5
    import importlib.util

    from opskit.core.shell import Result

    spec = importlib.util.spec_from_file_location("smoke_https", ROOT / "tests/smoke/test_https.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)

    class NoPrometheus:
        def run(self, *args, **kwargs):
            return Result(1, "", 'Error from server (NotFound): services "prometheus-operated"')

    with pytest.raises(pytest.skip.Exception, match=r"invoke monitoring\.install"):
        module.test_prometheus_scrapes_the_service(
            None, NoPrometheus(), config.load(), None, None, None, None, "api"
        )


def test_bitbucket_release_names_its_registry_and_logs_in():  # defect 7
    push = (ROOT / "ci/push.sh").read_text().splitlines()
    assert "need_image" in push and "registry_login" in push
    header = (ROOT / "bitbucket-pipelines.yml").read_text().split("image:")[0]
    assert all(v in header for v in ("OPSKIT_IMAGE", "REGISTRY_USER", "REGISTRY_PASSWORD"))


def test_release_runs_only_after_ci_succeeded_on_that_commit():  # defect 9
    job = GITHUB["release"]
    assert set(job.on) == {"workflow_run"}
    assert job.on["workflow_run"] == {
        "workflows": ["ci"],
        "types": ["completed"],
        "branches": ["main"],
    }
    assert "github.event.workflow_run.conclusion == 'success'" in job.if_
    checkout = job.steps[uses_index(job, "actions/checkout")]
    assert checkout.with_["ref"] == "${{ github.event.workflow_run.head_sha }}"


def test_bitbucket_release_runs_only_after_its_checks():  # defect 9
    checks = {"lint", "tests", "e2e (kwok cluster)", "image"}
    for name, stages in cimodel.bitbucket_pipelines(ROOT).items():
        names = [n for stage in stages for n in stage]
        for index, stage in enumerate(stages):
            if any(n.startswith("release") for n in stage):
                before = {n for s in stages[:index] for n in s}
                assert checks <= before, f"{name}: release before {checks - before}"
                assert len(stage) == 1, names


def test_every_action_is_pinned_by_commit_to_a_node24_major():  # defect 10
    pins = cimodel.action_pins(ROOT)
    assert pins
    for file, line, action, ref, comment in pins:
        where = f"{file}:{line} {action}"
        assert re.fullmatch(r"[0-9a-f]{40}", ref), f"{where}: pin the commit, not {ref}"
        version = re.fullmatch(r"v(\d+)\.\d+\.\d+", comment)
        assert version, f"{where}: say the version in a `# vX.Y.Z` comment"
        assert int(version[1]) >= NODE24[action], f"{where}: {comment} runs on Node 20"


def test_one_action_version_has_one_commit():  # defect 10: no two pins of a version differ
    seen: dict[tuple[str, str], str] = {}
    for _, _, action, ref, comment in cimodel.action_pins(ROOT):
        assert seen.setdefault((action, comment), ref) == ref, (action, comment)


def test_the_registry_name_is_lower_cased_and_k3d_is_checksummed():  # defect 11
    lib = (ROOT / "ci/_lib.sh").read_text()
    assert 'OPSKIT_IMAGE="${OPSKIT_IMAGE,,}"' in lib
    k3d = config.load(ROOT / "opskit.yaml").cluster.k3d.version
    sums = (ROOT / "ci/checksums.sha256").read_text()
    assert re.search(rf"^[0-9a-f]{{64}}  k3d-{re.escape(k3d)}-linux-amd64$", sums, re.M)
    assert "fetch_verified" in lib.split("need_k3d()")[1].split("\n}")[0]
    assert not re.search(r"curl[^\n]*\|\s*(?:\w+=\S+\s+)*(?:ba)?sh\b", lib), "no curl | bash"
    assert "need_image" in (ROOT / "ci/release.sh").read_text().splitlines()


def test_ci_kubectl_follows_the_cluster_version():  # defect 11
    lib = (ROOT / "ci/_lib.sh").read_text()
    assert not re.search(r'KUBECTL_VERSION="v?\d', lib), (
        "read it from opskit.yaml kubernetes.version"
    )
    assert 'KUBECTL_VERSION="v$(pinned kubernetes.version)"' in lib


def test_cluster_e2e_keeps_the_deploy_and_smoke_reports_on_both_systems():
    """ci/deploy.sh and ci/cluster-smoke.sh write reports/ (report.json, junit.xml): kept
    whatever the outcome, not only when the stage failed."""
    from opskit.core import yamlio

    github = yamlio.load_file(ROOT / ".github/workflows/ci.yml")["jobs"]["cluster-e2e"]["steps"]
    kept = [
        s
        for s in github
        if str(s.get("uses", "")).startswith("actions/upload-artifact@")
        and "reports/" in str((s.get("with") or {}).get("path", ""))
    ]
    assert kept and all(s.get("if") == "${{ !cancelled() }}" for s in kept)
    bitbucket = yamlio.load_file(ROOT / "bitbucket-pipelines.yml")["definitions"]["steps"]
    step = next(s["step"] for s in bitbucket if s["step"]["name"].startswith("cluster-e2e"))
    assert "reports/**" in step["artifacts"]
