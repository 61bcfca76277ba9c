"""`mix test` of the app inside Docker, next to throwaway PostgreSQL and Redis containers.

Everything lives on a private Docker network named after the run and is removed afterwards,
whatever happened. The tests run in the Dockerfile's builder image (one Elixir for builds and
tests); the app is mounted read-only and copied inside, so nothing is written to the host.
"""

from __future__ import annotations

import re
import secrets
import time
from dataclasses import dataclass
from pathlib import Path

from opskit.core import shell
from opskit.core.config import Config
from opskit.core.errors import OpsError

# The versions the manifests run (k8s/base; tests/manifests/test_versions.py keeps them equal).
POSTGRES_IMAGE = "postgres:16.15"
REDIS_IMAGE = "redis:7.4.11"
DATABASE_URL = "ecto://postgres@postgres/api_test"
REDIS_URL = "redis://redis:6379/0"
DOCKER_HINT = "is the Docker engine running? (`docker info`)"

# Runs in the builder image: copy the sources without the host's build output, fetch the
# dependencies, run the suite with the arguments given after the script name.
MIX_TEST_SCRIPT = """\
mkdir -p /build
tar -C /src --exclude=./_build --exclude=./deps -cf - . | tar -C /build -xf -
cd /build
mix local.hex --force
mix local.rebar --force
mix deps.get
exec mix test "$@"
"""


@dataclass(frozen=True)
class Plan:
    """The names of one run's network and containers, and the image of the tests."""

    network: str
    builder_image: str
    app_dir: Path

    @property
    def postgres(self) -> str:
        return f"{self.network}-postgres"

    @property
    def redis(self) -> str:
        return f"{self.network}-redis"

    @property
    def mix(self) -> str:
        return f"{self.network}-mix"


def plan(cfg: Config, run_id: str | None = None) -> Plan:
    """Names for one run (a random id keeps concurrent runs apart)."""
    app_dir = cfg.root / cfg.app.context
    run_id = run_id or secrets.token_hex(4)
    return Plan(f"{cfg.project.name}-phoenix-tests-{run_id}", builder_image(app_dir), app_dir)


def builder_image(app_dir: Path) -> str:
    """The `ARG BUILDER_IMAGE=...` default of the app's Dockerfile."""
    dockerfile = app_dir / "Dockerfile"
    text = dockerfile.read_text() if dockerfile.is_file() else ""
    match = re.search(r"^ARG BUILDER_IMAGE=(\S+)\s*$", text, re.MULTILINE)
    if not match:
        raise OpsError(
            f"{dockerfile}: no `ARG BUILDER_IMAGE=<image>` line",
            "declare the Elixir builder image there; the tests run in it",
        )
    return match.group(1).strip("\"'")


def setup_steps(p: Plan) -> list[shell.Step]:
    """Network, then PostgreSQL and Redis, each reachable by its service name."""
    services = [
        (p.postgres, "postgres", ("-e", "POSTGRES_HOST_AUTH_METHOD=trust"), POSTGRES_IMAGE),
        (p.redis, "redis", (), REDIS_IMAGE),
    ]
    steps = [_docker(f"create network {p.network}", "network", "create", p.network)]
    for name, alias, extra, image in services:
        steps.append(
            _docker(
                f"start {alias}",
                *("run", "--detach", "--name", name, "--network", p.network),
                *("--network-alias", alias, *extra, image),
                timeout=600,  # may pull the image
            )
        )
    return steps


def postgres_ready_step(p: Plan) -> shell.Step:
    # over TCP: the image's init phase runs a socket-only server that would answer too early
    # (mutates only so that --dry-run does not probe a container it never started)
    return _docker(
        "probe postgres",
        *("exec", p.postgres, "pg_isready", "--host=127.0.0.1", "--username=postgres"),
        timeout=30,
    )


def mix_test_step(p: Plan, mix_args: tuple[str, ...] = ()) -> shell.Step:
    """`mix test` in the builder image with the app mounted read-only at /src."""
    return _docker(
        "mix test",
        *("run", "--rm", "--name", p.mix, "--network", p.network),
        *("--env", "MIX_ENV=test", "--env", f"DATABASE_URL={DATABASE_URL}"),
        *("--env", f"REDIS_URL={REDIS_URL}"),
        *("--volume", f"{p.app_dir}:/src:ro", p.builder_image),
        *("sh", "-ec", MIX_TEST_SCRIPT, "mix-test", *mix_args),
        timeout=1800,
    )


def cleanup_steps(p: Plan) -> list[shell.Step]:
    """Remove the containers (the mix one too, in case a timeout left it) and the network."""
    return [
        _docker("remove containers", "rm", "--force", "--volumes", p.mix, p.postgres, p.redis),
        _docker(f"remove network {p.network}", "network", "rm", p.network),
    ]


def run_tests(
    cfg: Config,
    mix_args: tuple[str, ...] = (),
    *,
    run_id: str | None = None,
    wait: float = 60,
    dry_run: bool = False,
) -> shell.Result:
    """Set up, wait for PostgreSQL, run `mix test`; always clean up. The Result carries the
    test output and exit code (raise with `check` once it is shown)."""
    p = plan(cfg, run_id)
    try:
        for step in setup_steps(p):
            shell.run_step(step, dry_run=dry_run)
        wait_for_postgres(p, wait, dry_run=dry_run)
        return shell.run_step(mix_test_step(p, mix_args), check=False, dry_run=dry_run)
    finally:
        for step in cleanup_steps(p):
            shell.run_step(step, check=False, dry_run=dry_run)


def wait_for_postgres(
    p: Plan, seconds: float, interval: float = 1.0, dry_run: bool = False
) -> None:
    deadline = time.monotonic() + seconds
    ready = postgres_ready_step(p)
    while shell.run_step(ready, check=False, dry_run=dry_run).returncode != 0:
        if time.monotonic() >= deadline:
            raise OpsError(
                f"PostgreSQL ({p.postgres}) not ready after {seconds:g}s",
                f"see `docker logs {p.postgres}`; {DOCKER_HINT}",
            )
        time.sleep(interval)


def check(result: shell.Result) -> None:
    """Raise an OpsError naming the ExUnit summary when the tests failed."""
    if result.returncode == 0:
        return
    summary = re.findall(r"^\d+ (?:tests?|doctests?|properties).*$", result.stdout, re.MULTILINE)
    what = summary[-1] if summary else f"exit code {result.returncode}"
    raise OpsError(
        f"mix test failed in Docker ({what})",
        "see the output above; rerun one file with `nox -s phoenix-tests -- test/<file>_test.exs`",
    )


def _docker(what: str, *args: str, timeout: float = 120) -> shell.Step:
    return shell.Step(
        what=what, argv=("docker", *args), mutates=True, timeout=timeout, hint=DOCKER_HINT
    )
