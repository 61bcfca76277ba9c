"""The process boundary replaced for the tools that cannot run here (docker, k3d, helm, ...).

`recorder({"docker": (0, "out", "")})` swaps opskit.core.shell's one process runner for a serial
one: the named tools answer from the fakes (a (code, stdout, stderr) tuple or a callable
(argv, stdin) -> tuple), every other command in the same pipeline runs for real. It yields
the argv of every faked call, in order, for the test to assert. Nothing of this lives in
the product: the product's only seam is `shell._run_chain`.
"""

from __future__ import annotations

import contextlib
import subprocess
from collections.abc import Callable, Iterator
from unittest import mock

from opskit.core import shell

Fake = tuple[int, str, str] | Callable[[tuple[str, ...], bytes], tuple[int, str, str]]


@contextlib.contextmanager
def recorder(fakes: dict[str, Fake]) -> Iterator[list[tuple[str, ...]]]:
    calls: list[tuple[str, ...]] = []
    real = shell._run_chain

    def run_chain(chain: list[shell.Step]):
        if not any(shell._tool(step) in fakes for step in chain):
            return real(chain)
        return _serial(chain, fakes, calls)

    with mock.patch.object(shell, "_run_chain", run_chain):
        yield calls


def _serial(chain, fakes, calls):
    """A pipeline one step at a time: each step's stdout is the next one's stdin."""
    data = chain[0].stdin if isinstance(chain[0].stdin, bytes | str) else b""
    data = data.encode() if isinstance(data, str) else data
    result = shell.Result(0, "", "")
    for step in chain:
        fake = fakes.get(shell._tool(step))
        if fake is not None:
            calls.append(step.argv)
            code, out, err = fake(step.argv, data) if callable(fake) else fake
            result = shell.Result(code, out, err)
        else:
            proc = shell._popen(shell._resolve(step), step, subprocess.PIPE)
            ((out, err),) = shell._collect([proc], data, step.timeout)
            result = shell.Result(proc.returncode, out, err)
        if result.returncode != 0:
            return result, step
        data = result.stdout.encode()
    return result, None


def real(argv: tuple[str, ...], stdin: bytes) -> tuple[int, str, str]:
    """Run the command for real from inside a fake (e.g. `kubectl kustomize` while the
    cluster-facing kubectl calls are faked)."""
    step = shell.Step(argv=tuple(argv))
    proc = shell._popen(shell._resolve(step), step, subprocess.PIPE)
    ((out, err),) = shell._collect([proc], stdin, step.timeout)
    return proc.returncode, out, err
