"""kubectl bound to one cluster: an explicit kubeconfig and context on every call.

Never relies on ~/.kube/config or its current-context, so a task cannot act on a
cluster other than the one it was given.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from opskit.core import shell
from opskit.core.errors import CommandFailed, OpsError

FIELD_MANAGER = "opskit"  # owner of every field the suite writes with server-side apply
UNREACHABLE_HINT = "is the cluster up? start it with `invoke cluster.up`"
# what kubectl says when nothing answers at the server's address
UNREACHABLE = re.compile(
    r"connection to the server \S+ was refused|connect: connection refused|"
    r"Unable to connect to the server|no route to host"
)


def server_side_apply(*flags: str) -> tuple[str, ...]:
    """The one spelling of a server-side apply of the documents on stdin: as the suite's
    field manager, taking over fields another manager set (`kubectl edit`, a controller's
    defaults; git is the source of truth). `flags` go between (`--validate=false`,
    `--dry-run=server`, `--output=json`, `-n NS`)."""
    return (
        "apply",
        "--server-side",
        "--force-conflicts",
        f"--field-manager={FIELD_MANAGER}",
        *flags,
        "-f",
        "-",
    )


@dataclass(frozen=True)
class Kube:
    kubeconfig: Path | str
    context: str

    def argv(self, *args: str) -> list[str]:
        """The kubectl argv for `args` against this cluster."""
        return ["kubectl", "--kubeconfig", str(self.kubeconfig), "--context", self.context, *args]

    def step(self, *args: str, **options) -> shell.Step:
        """The same command as a value (for plans, dry-run output and pipelines)."""
        return shell.Step(argv=tuple(self.argv(*args)), **options)

    def run(self, *args: str, **shell_kwargs) -> shell.Result:
        """Run kubectl against this cluster (shell.run options pass through); an API server
        that does not answer is one line with the way to bring it back."""
        try:
            return shell.run(self.argv(*args), **shell_kwargs)
        except CommandFailed as exc:
            raise unreachable(self.context, exc) or exc from None

    def json(self, *args: str, **shell_kwargs) -> dict:
        """`kubectl <args> -o json`, parsed."""
        import json

        return json.loads(self.run(*args, "-o", "json", **shell_kwargs).stdout)


def check_kubeconfig(path: Path) -> None:
    """`path` parses as a kubeconfig (when it exists), else one line naming it."""
    from opskit.core import yamlio
    from opskit.core.errors import OpsError

    if not path.is_file():
        return
    again = "write it again: `invoke cluster.down`, then `invoke cluster.up`"
    try:
        data = yamlio.load_file(path)
    except OpsError as exc:
        raise OpsError(exc.message, again) from None
    if not isinstance(data, dict) or not isinstance(data.get("contexts", []), list):
        raise OpsError(f"{path}: not a kubeconfig (a mapping with a `contexts:` list)", again)


def unreachable(context: str, failed: CommandFailed) -> OpsError | None:
    """The one-line error for a kubectl that found no API server (None for other failures):
    a cluster that crashed or a machine that restarted is recovered by `cluster.up`."""
    if failed.tool != "kubectl" or not UNREACHABLE.search(failed.stderr_tail):
        return None
    return OpsError(
        f"the API server of {context} does not answer (connection refused)",
        "if the cluster crashed or the machine restarted, recover it with `invoke cluster.up`",
    )
