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
    """A repository with one workflow of the given jobs (and, given, Bitbucket steps and
    files); returns a runner of one job by name."""

    def make(spec: str, bitbucket: str = "", files: dict[str, str] | None = None):
        (tmp_path / ".github/workflows").mkdir(parents=True)
        workflow = "name: ci\non: push\njobs:\n" + textwrap.indent(textwrap.dedent(spec), "  ")
        (tmp_path / ".github/workflows/ci.yml").write_text(workflow)
        if bitbucket:
            steps = textwrap.indent(textwrap.dedent(bitbucket), "      ")
            (tmp_path / "bitbucket-pipelines.yml").write_text(
                f"image: golang:1.26-bookworm\npipelines:\n  default:\n{steps}"
            )
        for name in (".go-version", "opskit.yaml"):
            (tmp_path / name).write_text((ROOT / name).read_text())
        for name, text in (files or {}).items():
            (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
            (tmp_path / name).write_text(text)
            (tmp_path / name).chmod(0o755)
        git = ["git", "-C", str(tmp_path), "-c", "user.name=t", "-c", "user.email=t@example.com"]
        shell.run([*git, "init", "-q", "-b", "main"])
        shell.run([*git, "add", "."])
        shell.run([*git, "commit", "-q", "-m", "init"])
        remote = tmp_path / "remote.git"
        shell.run(["git", "init", "-q", "--bare", str(remote)])
        shell.run([*git, "push", "-q", str(remote), "HEAD:refs/heads/main"])
        commit = shell.run([*git, "rev-parse", "HEAD"]).stdout.strip()

        def run(name: str) -> room.Outcome:
            every = cimodel.github_jobs(tmp_path)
            every += cimodel.bitbucket_jobs(tmp_path) if bitbucket else []
            job = next(j for j in every if j.name == name)
            return jobs.run_job(Room(tmp_path, remote, job), commit)

        return run

    return make


def needs(job: str, line: str, thing: str, image: str) -> str:
    """The one-line failure of a job that calls what it was not given."""
    return (
        f"{job}: `{line}` needs {thing}, which neither its image ({image}) "
        "nor its setup steps provide"
    )


def test_the_images_go_is_too_old_unless_the_job_sets_up_its_own(project):
    run = project(f"""
        imagego:
          runs-on: ubuntu-24.04
          steps:
            - uses: {CHECKOUT}
            - run: go version | grep -q 'go1.24.13 '
            - run: go env GOROOT
        withgo:
          runs-on: ubuntu-24.04
          steps:
            - uses: {CHECKOUT}
            - uses: {SETUP_GO}
              with:
                go-version-file: .go-version
            - run: go env GOROOT && go version | grep -q 'go1.26'
    """)
    failed = run("imagego")
    assert failed.ran == ["go version | grep -q 'go1.24.13 '"]  # the image has Go 1.24 on PATH
    assert failed.problem == needs(
        ".github/workflows/ci.yml:imagego",
        "go env GOROOT",
        "the Go of .go-version (not 1.24.13)",
        "ubuntu-24.04",
    )
    assert run("withgo").ok


def test_a_job_calling_helm_it_was_not_given_fails(project):
    run = project(
        f"""
        ubuntu:
          runs-on: ubuntu-24.04
          steps:
            - uses: {CHECKOUT}
            - run: helm version --short | grep -qx 'v3.21.4+gcleanroom'
        """,
        bitbucket="""
        - step:
            name: golang
            script:
              - helm version --short
        - step:
            name: shell
            runs-on: [self.hosted, linux.shell]
            script:
              - helm version --short
        """,
    )
    for name, image in (("golang", "golang:1.26-bookworm"), ("shell", "self.hosted,linux.shell")):
        outcome = run(name)
        assert outcome.problem == needs(
            f"bitbucket-pipelines.yml:{name}", "helm version --short", "`helm`", image
        )
        assert outcome.record == []
    assert run("ubuntu").ok  # GitHub's image ships helm 3.21.4


MONITORING = "#!/usr/bin/env bash\nexec invoke monitoring.install\n"
FAKE_TOOL = (
    "mkdir -p .tools/bin && printf '#!/bin/sh\\n' > .tools/bin/{0} && chmod +x .tools/bin/{0}"
)


def test_an_asserted_stage_call_needs_the_tools_it_runs(project):
    """ci/monitoring.sh without need_helm on the shell runner: helm is nowhere (issue 24)."""
    run = project(
        f"""
        ubuntu:
          runs-on: ubuntu-24.04
          steps:
            - uses: {CHECKOUT}
            - run: ci/monitoring.sh
        """,
        bitbucket=f"""
        - step:
            name: nohelm
            runs-on: [self.hosted, linux.shell]
            script:
              - ci/monitoring.sh
        - step:
            name: built
            runs-on: [self.hosted, linux.shell]
            script:
              - {FAKE_TOOL.format("helm")} && {FAKE_TOOL.format("kubectl")}
              - ci/monitoring.sh
        """,
        files={"ci/monitoring.sh": MONITORING},
    )
    nohelm = run("nohelm")
    assert nohelm.problem == needs(
        "bitbucket-pipelines.yml:nohelm", "ci/monitoring.sh", "`helm`", "self.hosted,linux.shell"
    )
    assert nohelm.record == []
    for name in ("built", "ubuntu"):
        outcome = run(name)
        assert outcome.ok, outcome.problem
        assert outcome.record == ["cleanroom-asserted invoke monitoring.install"]


K3D_URL = "https://github.com/k3d-io/k3d/releases/download/{0}/k3d-linux-amd64"
FETCH_K3D = (
    "curl -fsSLo k3d.part {url} && "
    'echo "$(awk \'$2 == "k3d-{v}-linux-amd64" {{print $1}}\' ci/checksums.sha256)  k3d.part" '
    "| sha256sum --check --quiet - && mv k3d.part k3d && chmod +x k3d && ./k3d version"
)


def test_k3d_is_there_only_once_the_job_downloads_its_pinned_release(project):
    pinned, unpinned = "v5.9.0", "v5.8.3"
    run = project(
        f"""
        nok3d:
          runs-on: ubuntu-24.04
          steps:
            - uses: {CHECKOUT}
            - run: k3d version
        """,
        bitbucket=f"""
        - step:
            name: pinned
            runs-on: [self.hosted, linux.shell]
            script:
              - {FETCH_K3D.format(url=K3D_URL.format(pinned), v=pinned)}
        - step:
            name: unpinned
            runs-on: [self.hosted, linux.shell]
            script:
              - {FETCH_K3D.format(url=K3D_URL.format(unpinned), v=unpinned)}
        """,
        files={"ci/checksums.sha256": (ROOT / "ci/checksums.sha256").read_text()},
    )
    assert run("nok3d").problem == needs(
        ".github/workflows/ci.yml:nok3d", "k3d version", "`k3d`", "ubuntu-24.04"
    )
    pinned_run = run("pinned")
    assert pinned_run.ok, pinned_run.problem
    assert f"k3d version {pinned}" in (pinned_run.work / ".." / "output.log").read_text()
    assert pinned_run.record[-1] == "k3d version"
    unpinned = run("unpinned")  # no checksum entry: sha256sum finds no sum to check
    assert "no properly formatted checksum lines found" in unpinned.problem


def test_sudo_and_python_venv_as_each_image_has_them(project):
    run = project(
        f"""
        ubuntu:
          runs-on: ubuntu-24.04
          steps:
            - uses: {CHECKOUT}
            - run: python3 -m venv "$HOME/v" && "$HOME/v/bin/python" -V
            - run: "! apt-get install -y jq"  # the runner user is not root
            - run: sudo apt-get install -y jq
        """,
        bitbucket="""
        - step:
            name: novenv
            script:
              - python3 -c 'import sys; assert sys.version_info[:2] == (3, 11)'
              - python3 -m venv /tmp/cleanroom-novenv
        - step:
            name: aptvenv
            script:
              - apt-get install -y python3-venv && python3 -m venv "$HOME/v"
        - step:
            name: nosudo
            script:
              - sudo apt-get install -y python3-venv
        """,
    )
    assert run("ubuntu").ok
    novenv = run("novenv")
    assert novenv.ran == ["python3 -c 'import sys; assert sys.version_info[:2] == (3, 11)'"]
    assert "ensurepip" in (novenv.work / ".." / "output.log").read_text()
    assert run("aptvenv").ok
    assert run("nosudo").problem == needs(
        "bitbucket-pipelines.yml:nosudo",
        "sudo apt-get install -y python3-venv",
        "`sudo`",
        "golang:1.26-bookworm",
    )


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


# What each image's own documentation says it ships (cleanroom/runners.py names the files):
# actions/runner-images images/ubuntu/Ubuntu2404-Readme.md at tag ubuntu24/20260816.277;
# docker-library/golang 1.26/bookworm/Dockerfile on buildpack-deps:bookworm-scm.
DOCUMENTED = {
    "ubuntu-24.04": {
        "python": "3.12",  # "Python 3.12.3"; install-python.sh installs python3-venv
        "venv": True,
        "go": "1.24.13",  # toolset-2404.json go default "1.24.*", linked to /usr/bin
        "root": False,  # the `runner` user, passwordless sudo ("sudo" among the apt packages)
        "tools": {
            "docker": "28.0.4",
            "helm": "v3.21.4",
            "kind": "v0.32.0",
            "kubectl": "v1.36.3",
            "kustomize": "v5.8.1",
            "minikube": "v1.38.1",
            "yamllint": "1.38.0",
        },
        "packages": {
            "git",
            "curl",
            "wget",
            "openssl",
            "make",
            "gcc",
            "jq",
            "shellcheck",
            "buildah",
        },
    },
    "golang:1.26-bookworm": {
        "python": "3.11",  # Debian bookworm's, a dependency of mercurial (buildpack-deps scm)
        "venv": False,  # no python3-venv, no python3-pip
        "go": "1.26",  # the tag follows 1.26.x (GOLANG_VERSION 1.26.7 at the cited commit)
        "root": True,  # no sudo in the image
        "tools": {},
        "packages": {"git", "curl", "wget", "openssl", "make", "gcc", "libc6-dev"},
    },
    "self.hosted,linux.shell": {  # docs/ci.md: what the cluster-e2e runner must have
        "python": "3.11",
        "venv": True,
        "go": "1.26",
        "root": False,
        "tools": {"docker": "27.5.1", "java": "11"},
        "packages": {"git", "curl"},
    },
}


@pytest.mark.parametrize("name", DOCUMENTED)
def test_runner_models_are_their_images_documentation(name):
    from cleanroom import runners

    image, facts = runners.IMAGES[name], DOCUMENTED[name]
    assert (image.python, image.venv, image.go, image.root) == (
        facts["python"],
        facts["venv"],
        facts["go"],
        facts["root"],
    )
    assert image.versions == facts["tools"]
    assert set(image.packages) == facts["packages"]
    # what no image ships: the project installs or builds these itself
    assert not {"age", "mkcert", "sops", "k3d", "elixir"} & {*image.packages, *image.versions}


def test_each_image_runs_only_what_it_ships(project):
    absent = "for t in {0}; do ! command -v $t >/dev/null || {{ echo has $t; exit 1; }}; done"
    run = project(
        f"""
        ubuntu:
          runs-on: ubuntu-24.04
          steps:
            - uses: {CHECKOUT}
            - run: kind version && minikube version && kustomize version && docker --version
            - run: kubectl version --client | grep -q v1.36.3 && yamllint --version
            - run: jq --version && shellcheck --version && make --version && sudo true
            - run: {absent.format("k3d sops age mkcert")}
        """,
        bitbucket=f"""
        - step:
            name: golang
            script:
              - go version | grep -q 'go1.26' && git --version && curl --version && gcc --version
              - {absent.format("kind minikube kubectl docker helm k3d yamllint sudo java")}
        - step:
            name: shell
            runs-on: [self.hosted, linux.shell]
            script:
              - go version | grep -q 'go1.26' && docker --version && sudo true
              - {absent.format("kind minikube kubectl helm k3d yamllint")}
        """,
    )
    for name in ("ubuntu", "golang", "shell"):
        outcome = run(name)
        assert outcome.ok, outcome.problem


def test_a_restored_tools_cache_never_writes_into_a_shared_tools_folder(project, tmp_path):
    """A worktree's .tools may link to a shared one: the job gets a copy of it."""
    run = project(f"""
        cached:
          runs-on: ubuntu-24.04
          steps:
            - uses: {CHECKOUT}
            - uses: actions/cache@27d5ce7f107fe9357f9df03efb73ab90386fccae
              with:
                path: .tools
                key: tools
            - run: test -x .tools/bin/tool && mkdir -p .tools/ci-bin && touch .tools/ci-bin/k3d
            - run: printf changed > .tools/stamp.json
    """)
    shared = tmp_path / "shared-tools"
    (shared / "bin").mkdir(parents=True)
    (shared / "bin/tool").write_text("#!/bin/sh\n")
    (shared / "bin/tool").chmod(0o755)
    (shared / "stamp.json").write_text("{}")
    (tmp_path / ".tools").symlink_to(shared)
    outcome = run("cached")
    assert outcome.ok, outcome.problem
    assert sorted(p.name for p in shared.iterdir()) == ["bin", "stamp.json"]
    assert (shared / "stamp.json").read_text() == "{}"
