"""The inner loop: deploy the working tree and deploy it again on every save."""

import sys

from invoke import task

from opskit.tasks._common import CONTEXT_HELP, OVERLAY_HELP, load_config, opskit_task, say


def _problem(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


@task(
    help={
        "overlay": OVERLAY_HELP + "; not a protected one",
        "context": CONTEXT_HELP,
        "once": "stop after the first batch of saves (exit 1 when its deploy failed)",
        "test": "run the fast tests of the changed area before each deploy",
        "timeout": "seconds to wait for a rollout before restoring (default 120)",
        "verbose": "show every line of each deploy, not only the status line",
    }
)
@opskit_task
def dev(c, overlay="dev", context=None, once=False, test=False, timeout="120", verbose=False):
    """Deploy the working tree, then watch k8s/, app/, the images' sources, opskit.yaml and
    deploy each save."""
    from opskit.core import args
    from opskit.deploy import devloop

    wait = args.seconds(timeout, "--timeout")
    devloop.run(
        load_config(c),
        overlay,
        context=context,
        once=once,
        test=test,
        timeout=wait,
        verbose=verbose,
        notify=say,
        problem=_problem,
    )
