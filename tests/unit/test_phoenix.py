"""docker cannot run here: exact argv of `nox -s phoenix-tests`, and cleanup on every path."""

import pytest

from opskit.core import config, shell
from opskit.core.errors import CommandFailed, OpsError
from opskit.images import phoenix
from tests import fakes

BUILDER = "hexpm/elixir:1.19.6-erlang-28.5.0.7-debian-trixie-20260918-slim"
NET = "gitops-lab-phoenix-tests-t1"


@pytest.fixture
def cfg(root):
    return config.load(root / "opskit.yaml")


@pytest.fixture(autouse=True)
def _no_sleep(monkeypatch):
    monkeypatch.setattr(phoenix.time, "sleep", lambda _seconds: None)


def setup_calls():
    return [
        ("docker", "network", "create", NET),
        (
            "docker",
            "run",
            "--detach",
            "--name",
            f"{NET}-postgres",
            "--network",
            NET,
            "--network-alias",
            "postgres",
            "-e",
            "POSTGRES_HOST_AUTH_METHOD=trust",
            "postgres:16.15",
        ),
        (
            "docker",
            "run",
            "--detach",
            "--name",
            f"{NET}-redis",
            "--network",
            NET,
            "--network-alias",
            "redis",
            "redis:7.4.11",
        ),
    ]


PROBE = (
    "docker",
    "exec",
    f"{NET}-postgres",
    "pg_isready",
    "--host=127.0.0.1",
    "--username=postgres",
)


def mix_call(root, *mix_args):
    return (
        "docker",
        "run",
        "--rm",
        "--name",
        f"{NET}-mix",
        "--network",
        NET,
        "--env",
        "MIX_ENV=test",
        "--env",
        "DATABASE_URL=ecto://postgres@postgres/api_test",
        "--env",
        "REDIS_URL=redis://redis:6379/0",
        "--volume",
        f"{root / 'app'}:/src:ro",
        BUILDER,
        "sh",
        "-ec",
        phoenix.MIX_TEST_SCRIPT,
        "mix-test",
        *mix_args,
    )


CLEANUP = [
    ("docker", "rm", "--force", "--volumes", f"{NET}-mix", f"{NET}-postgres", f"{NET}-redis"),
    ("docker", "network", "rm", NET),
]


def fake_docker(fail_on=None, code=1, probe_failures=0):
    """A docker that fails the first call starting with `fail_on`, and whose pg_isready
    fails `probe_failures` times before answering."""
    probes = {"left": probe_failures}

    def docker(argv, _stdin):
        if argv[1] == "exec" and probes["left"] > 0:
            probes["left"] -= 1
            return (2, "", "no response")
        if fail_on and argv[1 : 1 + len(fail_on)] == fail_on:
            return (code, "36 tests, 2 failures\n", "boom")
        return (0, "36 tests, 0 failures\n" if argv[1:3] == ("run", "--rm") else "", "")

    return docker


def test_builder_image_is_the_dockerfiles(root):
    assert phoenix.builder_image(root / "app") == BUILDER


def test_green_run_argv_in_order(cfg, root):
    with fakes.recorder({"docker": fake_docker()}) as calls:
        result = phoenix.run_tests(cfg, ("--seed", "0"), run_id="t1")
    assert calls == [*setup_calls(), PROBE, mix_call(root, "--seed", "0"), *CLEANUP]
    assert result.returncode == 0
    phoenix.check(result)


def test_waits_until_postgres_answers(cfg, root):
    with fakes.recorder({"docker": fake_docker(probe_failures=2)}) as calls:
        phoenix.run_tests(cfg, run_id="t1")
    assert calls == [*setup_calls(), PROBE, PROBE, PROBE, mix_call(root), *CLEANUP]


def test_failing_tests_still_clean_up_and_report_the_summary(cfg, root):
    with fakes.recorder({"docker": fake_docker(fail_on=("run", "--rm"), code=2)}) as calls:
        result = phoenix.run_tests(cfg, run_id="t1")
    assert calls[-3:] == [mix_call(root), *CLEANUP]
    assert result.returncode == 2
    with pytest.raises(OpsError, match=r"mix test failed in Docker \(36 tests, 2 failures\)"):
        phoenix.check(result)


def test_failed_setup_cleans_up_what_it_started(cfg):
    failing = fake_docker(fail_on=("run", "--detach", "--name", f"{NET}-redis"))
    with fakes.recorder({"docker": failing}) as calls, pytest.raises(CommandFailed) as info:
        phoenix.run_tests(cfg, run_id="t1")
    assert calls == [*setup_calls(), *CLEANUP]
    assert "docker info" in str(info.value)


def test_postgres_never_ready_is_an_error_and_cleans_up(cfg):
    docker = fake_docker(probe_failures=10**6)
    with fakes.recorder({"docker": docker}) as calls, pytest.raises(OpsError) as info:
        phoenix.run_tests(cfg, run_id="t1", wait=0)
    assert calls == [*setup_calls(), PROBE, *CLEANUP]
    assert f"docker logs {NET}-postgres" in str(info.value)


def test_interrupt_during_tests_still_cleans_up(cfg):
    def docker(argv, _stdin):
        if argv[1:3] == ("run", "--rm"):
            raise KeyboardInterrupt
        return (0, "", "")

    with fakes.recorder({"docker": docker}) as calls, pytest.raises(KeyboardInterrupt):
        phoenix.run_tests(cfg, run_id="t1")
    assert calls[-2:] == CLEANUP


def test_dry_run_prints_every_step_and_runs_nothing(cfg, capsys):
    with fakes.recorder({"docker": (0, "", "")}) as calls:
        result = phoenix.run_tests(cfg, run_id="t1", dry_run=True)
    assert calls == []
    assert result.returncode == 0
    lines = capsys.readouterr().err.splitlines()
    assert lines[0] == f"[dry-run] docker network create {NET}"
    assert lines[-1] == f"[dry-run] docker network rm {NET}"


def test_random_run_ids_keep_runs_apart(cfg):
    assert phoenix.plan(cfg).network != phoenix.plan(cfg).network
    assert phoenix.plan(cfg).network.startswith("gitops-lab-phoenix-tests-")


def test_dockerfile_without_builder_arg_is_actionable(tmp_path):
    (tmp_path / "Dockerfile").write_text("FROM scratch\n")
    with pytest.raises(OpsError, match="ARG BUILDER_IMAGE"):
        phoenix.builder_image(tmp_path)


def test_check_without_summary_names_the_exit_code():
    with pytest.raises(OpsError, match=r"\(exit code 125\)"):
        phoenix.check(shell.Result(125, "", "Unable to find image"))
