"""The Phoenix app in app/: its ExUnit suite, run in Docker."""

from invoke import task

from opskit.core import toolcheck
from opskit.tasks._common import DRY_RUN_HELP, load_config, opskit_task, say


@task(
    name="test",
    help={
        "args": 'arguments for `mix test`, e.g. "test/api_web --seed 0"',
        "dry_run": DRY_RUN_HELP,
    },
)
@opskit_task
def test_in_docker(c, args="", dry_run=False):
    """`mix test` of app/ in Docker beside PostgreSQL and Redis containers, removed after."""
    import sys

    from opskit.core.args import words
    from opskit.images import phoenix

    argv = words(args, "--args")
    if not dry_run:
        toolcheck.require("docker")
    result = phoenix.run_tests(load_config(c), argv, dry_run=dry_run)
    print(result.stdout, end="")
    print(result.stderr, end="", file=sys.stderr)
    phoenix.check(result)
    if not dry_run:
        say("mix test passed in Docker")
