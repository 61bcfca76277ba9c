"""The clean room: a job gets only what its image and setup steps give it, and a job that
needs more fails with one line naming the job and the missing thing (tiny real repos)."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from cleanroom import jobs, room
from cleanroom.room import Room
from opskit.core import shell
from opskit.lint import cimodel

ROOT = Path(__file__).resolve().parents[2]
CHECKOUT = "actions/checkout@3d3c42e5aac5ba805825da76410c181273ba90b1"
SETUP_GO = "actions/setup-go@b7ad1dad31e06c5925ef5d2fc7ad053ef454303e"
LOGIN = "docker/login-action@4907a6ddec9925e35a0a9e82d7399ccc52663121"


@pytest.fixture
def project(tmp_path: Path):
    """A repository with one workflow of the given jobs; returns a runner of one job."""

    def make(spec: str):
        (tmp_path / ".github/workflows").mkdir(parents=True)
        workflow = "name: ci\non: push\njobs:\n" + textwrap.indent(textwrap.dedent(spec), "  ")
        (tmp_path / ".github/workflows/ci.yml").write_text(workflow)
        for name in (".go-version", "opskit.yaml"):
            (tmp_path / name).write_text((ROOT / name).read_text())
        git = ["git", "-C", str(tmp_path), "-c", "user.name=t", "-c", "user.email=t@example.com"]
        shell.run([*git, "init", "-q", "-b", "main"])
        shell.run([*git, "add", "."])
        shell.run([*git, "commit", "-q", "-m", "init"])
        remote = tmp_path / "remote.git"
        shell.run(["git", "init", "-q", "--bare", str(remote)])
        shell.run([*git, "push", "-q", str(remote), "HEAD:refs/heads/main"])
        commit = shell.run([*git, "rev-parse", "HEAD"]).stdout.strip()

        def run(name: str) -> room.Outcome:
            job = next(j for j in cimodel.github_jobs(tmp_path) if j.name == name)
            return jobs.run_job(Room(tmp_path, remote, job), commit)

        return run

    return make


def test_no_go_unless_the_job_sets_it_up(project):
    run = project(f"""
        nogo:
          runs-on: ubuntu-24.04
          steps:
            - uses: {CHECKOUT}
            - run: go version
        withgo:
          runs-on: ubuntu-24.04
          steps:
            - uses: {CHECKOUT}
            - uses: {SETUP_GO}
              with:
                go-version-file: .go-version
            - run: go version
    """)
    failed = run("nogo")
    assert not failed.ok
    assert failed.problem == (
        ".github/workflows/ci.yml:nogo: `go version` needs `go`, which neither its image "
        "(ubuntu-24.04) nor its setup steps provide"
    )
    assert run("withgo").ok


def test_no_git_identity_on_a_runner(project):
    run = project(f"""
        commit:
          runs-on: ubuntu-24.04
          steps:
            - uses: {CHECKOUT}
            - run: git commit -q --allow-empty -m release
        identified:
          runs-on: ubuntu-24.04
          env:
            GIT_AUTHOR_NAME: bot
            GIT_AUTHOR_EMAIL: bot@example.com
            GIT_COMMITTER_NAME: bot
            GIT_COMMITTER_EMAIL: bot@example.com
          steps:
            - uses: {CHECKOUT}
            - run: git commit -q --allow-empty -m release
    """)
    assert "needs a git identity" in run("commit").problem
    assert run("identified").ok


def test_secrets_reach_a_job_only_when_mapped(project):
    run = project(f"""
        unmapped:
          runs-on: ubuntu-24.04
          steps:
            - uses: {CHECKOUT}
            - run: test -n "${{SOPS_AGE_KEY:-}}"
        mapped:
          runs-on: ubuntu-24.04
          env:
            SOPS_AGE_KEY: ${{{{ secrets.SOPS_AGE_KEY }}}}
          steps:
            - uses: {CHECKOUT}
            - run: test -n "$SOPS_AGE_KEY" && test ! -e "$HOME/.config/sops"
    """)
    assert not run("unmapped").ok
    assert run("mapped").ok


def test_a_registry_push_needs_a_login_and_a_lower_case_name(project):
    run = project(f"""
        nologin:
          runs-on: ubuntu-24.04
          steps:
            - uses: {CHECKOUT}
            - run: docker push ghcr.io/acme/api:1
        upper:
          runs-on: ubuntu-24.04
          steps:
            - uses: {CHECKOUT}
            - uses: {LOGIN}
              with:
                registry: ghcr.io
                password: ${{{{ secrets.GITHUB_TOKEN }}}}
            - run: docker push ghcr.io/${{{{ github.repository }}}}/api:1
    """)
    nologin = run("nologin")
    assert "push to ghcr.io without a registry login" in nologin.problem
    assert nologin.record == ["docker push ghcr.io/acme/api:1"]
    assert "must be lowercase" in run("upper").problem


def test_if_conditions_of_the_workflows():
    context = {"github.event.workflow_run.conclusion": "success", "a": "b"}
    expr = "github.event.workflow_run.conclusion == 'success' && a == 'b'"
    assert cimodel.condition(expr, context, failed=False)
    assert not cimodel.condition("a == 'c'", context, failed=False)
    assert not cimodel.condition("", context, failed=True)
    assert cimodel.condition("${{ failure() }}", context, failed=True)
    assert cimodel.condition("${{ !cancelled() }}", context, failed=True)
    assert not cimodel.condition("${{ failure() }}", context, failed=False)


def test_release_waits_for_ci_and_bitbucket_release_for_its_checks():
    ordered = jobs.ordered_jobs(ROOT)
    names = [j.title for j in ordered]
    assert names.index(".github/workflows/release.yml:release") > max(
        names.index(f".github/workflows/ci.yml:{n}") for n in ("lint", "tests", "e2e", "image")
    )
    lint = next(j for j in ordered if j.title == ".github/workflows/ci.yml:lint")
    release = next(j for j in ordered if j.title == ".github/workflows/release.yml:release")
    failed_lint = [room.Outcome(lint, ok=False)]
    assert jobs.blocked(release, failed_lint, ROOT) == "CI did not succeed on this commit"
    bitbucket_lint = next(j for j in ordered if j.system == "bitbucket" and j.name == "lint")
    bitbucket_release = next(j for j in ordered if j.system == "bitbucket" and "release" in j.name)
    outcome = [room.Outcome(bitbucket_lint, ok=False)]
    assert "an earlier stage failed" in jobs.blocked(bitbucket_release, outcome, ROOT)


def test_go_version_files_are_read_as_setup_go_reads_them(tmp_path):
    gomod = tmp_path / "go.mod"
    gomod.write_text("module x\n\ngo 1.25.8\n")
    assert jobs.go_version_file(gomod) == "1.25.8"
    gomod.write_text("module x\n\ngo 1.25.0\n\ntoolchain go1.26.8\n")
    assert jobs.go_version_file(gomod) == "1.26.8"
    assert jobs.go_version_file(ROOT / ".go-version") == "1.26"


def test_a_whole_run_of_both_systems_reports_each_job(project, tmp_path, monkeypatch, capsys):
    from opskit.core import paths

    (tmp_path / "bitbucket-pipelines.yml").write_text(
        "image: golang:1.26-bookworm\npipelines:\n  branches:\n    main:\n"
        "      - step:\n          name: hello\n          script:\n            - echo hi\n"
    )
    project(f"""
        hello:
          runs-on: ubuntu-24.04
          steps:
            - uses: {CHECKOUT}
            - run: echo hi
    """)
    monkeypatch.setattr(paths, "root", lambda: tmp_path)
    assert jobs.main([]) == 0
    err = capsys.readouterr().err
    assert "cleanroom: ok   .github/workflows/ci.yml:hello" in err
    assert "cleanroom: ok   bitbucket-pipelines.yml:hello" in err
    assert "cleanroom: 2/2 jobs passed" in err
    assert (tmp_path / ".opskit/cleanroom/logs/bitbucket-hello.log").read_text().count("hi")


def test_a_release_check_wants_one_push_and_one_release_commit(project, tmp_path):
    from cleanroom import release

    run = project(f"""
        release:
          runs-on: ubuntu-24.04
          steps:
            - uses: {CHECKOUT}
            - run: "true"
    """)
    outcome = run("release")
    room = Room(tmp_path, tmp_path / "remote.git", outcome.job)
    room.commit_of_job = "0" * 40
    wanted = "expected one `docker push` per image of opskit.yaml, recorded"
    assert release.check_release(room, outcome) == f"{wanted} none"
    outcome.record = ["docker push ghcr.io/acme/api:1"]
    assert release.check_release(room, outcome) == f"{wanted} ['ghcr.io/acme/api:1']"
    outcome.record = ["docker push ghcr.io/acme/api:1", "docker push ghcr.io/acme/telemetry:1"]
    assert "not one release on the job's commit" in release.check_release(room, outcome)


def test_the_released_overlay_must_run_the_pushed_image(tmp_path, monkeypatch):
    import yaml

    from cleanroom import release

    shell.run(["git", "clone", "-q", str(ROOT), str(tmp_path / "main")])
    kustomization = yaml.safe_load((tmp_path / "main/k8s/overlays/dev/kustomization.yaml").open())
    entry = next(i for i in kustomization["images"] if i["name"] == "api")
    monkeypatch.delenv("OPSKIT_IMAGE", raising=False)
    problem = release._pin_problem(tmp_path / "main", "ghcr.io/x/api:1")
    assert "not the pushed ghcr.io/x/api:1" in problem
    assert release._pin_problem(tmp_path / "main", f"{entry['newName']}:{entry['newTag']}") == ""
    monkeypatch.setattr(release, "MAIN_CHECKS", (("-c", "raise SystemExit('red')"),))
    assert release._main_problem(tmp_path / "main").startswith("released main is red")


def test_a_registry_login_without_a_password_is_refused(project):
    run = project(f"""
        nopassword:
          runs-on: ubuntu-24.04
          steps:
            - uses: {CHECKOUT}
            - uses: {LOGIN}
              with:
                registry: ghcr.io
            - run: docker push ghcr.io/acme/api:1
    """)
    outcome = run("nopassword")
    assert not outcome.ok
    assert "docker/login-action without registry or password" in outcome.problem
    assert outcome.record == []  # the push never ran


def test_a_job_sees_none_of_this_machines_environment(project, monkeypatch):
    monkeypatch.setenv("SOPS_AGE_KEY", "AGE-SECRET-KEY-OF-THIS-MACHINE")
    monkeypatch.setenv("GITOPS_LAB_HOST_ONLY", "leaked")
    run = project(f"""
        env:
          runs-on: ubuntu-24.04
          steps:
            - uses: {CHECKOUT}
            - run: test -z "${{SOPS_AGE_KEY:-}}${{GITOPS_LAB_HOST_ONLY:-}}"
    """)
    outcome = run("env")
    assert outcome.ok, outcome.problem


def test_the_stage_calls_a_job_reached_are_compared_with_its_ci_scripts(project, tmp_path):
    (tmp_path / "ci").mkdir()
    for name in ("deploy.sh", "_lib.sh"):
        (tmp_path / "ci" / name).write_text((ROOT / "ci" / name).read_text())
    run = project(f"""
        hello:
          runs-on: ubuntu-24.04
          steps:
            - uses: {CHECKOUT}
            - run: echo hi
    """)
    outcome = run("hello")
    room = Room(tmp_path, tmp_path / "remote.git", outcome.job)
    outcome.ran = ["ci/deploy.sh"]
    stage = "cleanroom-asserted invoke deploy --overlay=dev --report=reports/deploy"
    assert jobs.check_job(room, outcome) == (
        f"asserted calls [] differ from the stage calls [{stage!r}]"
    )
    outcome.record = [stage]
    assert jobs.check_job(room, outcome) == ""
