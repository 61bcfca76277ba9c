"""The only place that starts processes.

Argument lists only (never a shell), a timeout on every call, echo, dry-run, stdin from
memory or from another command, redaction of registered secrets, one error type.
Dry-run is not a switch of this module: every caller passes `dry_run` down explicitly
(from the task's flag), and a mutating step run with `dry_run=True` is printed, not run.

Processes start as plumbum command objects on an argv resolved here (tools.which), with
the environment built here, whole; stdin is written to the pipe from memory (plumbum's
`<<` spools it through a temporary file, and secrets never touch the disk). plumbum is
imported when the first process starts, never at import, and its DEBUG log of every argv
(secrets included) is turned off then. The one process a no-op deploy starts (`git
status`, a `hot` step) starts with subprocess.Popen instead, on the same argv,
environment and pipes: importing plumbum for it cost the no-op 20-45 ms of its 400.
"""

from __future__ import annotations

import base64
import contextlib
import logging
import os
import shlex
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import IO, TYPE_CHECKING, cast

from opskit.core import tools
from opskit.core.errors import CommandFailed, ToolMissing

if TYPE_CHECKING:
    from plumbum.machines.local import LocalCommand

    Popen = subprocess.Popen[bytes]

DEFAULT_TIMEOUT = 120.0
STDERR_TAIL_LINES = 20
MASK = "***"
Stream = IO[bytes] | int | None  # a child's stdin/stdout/stderr: a pipe end, PIPE, or inherited


@dataclass(frozen=True)
class Result:
    returncode: int
    stdout: str
    stderr: str


@dataclass(frozen=True)
class Step:
    """One command as a value: printed by --dry-run, asserted by tests, run by `run_step`."""

    argv: tuple[str, ...]
    what: str = ""  # its purpose ("apply", "rotate data key"): said first when it fails
    stdin: bytes | str | Step | None = None
    mutates: bool = False
    timeout: float = DEFAULT_TIMEOUT
    env: tuple[tuple[str, str], ...] = ()
    cwd: str | None = None
    hint: str = ""
    interactive: bool = False  # inherit the terminal (editors); nothing captured
    hot: bool = False  # on the no-op deploy's path: started without plumbum (see _process)

    def chain(self) -> list[Step]:
        """Upstream steps first, this one last."""
        return [*self.stdin.chain(), self] if isinstance(self.stdin, Step) else [self]

    def display(self) -> str:
        parts = []
        for step in self.chain():
            line = shlex.join(step.argv)
            if isinstance(step.stdin, bytes | str):
                line = f"{line} < <{len(step.stdin)} bytes from memory>"
            parts.append(line)
        return redact(" | ".join(parts))


@dataclass
class _Display:
    """What is shown, never what is done: echo of every command, and the secrets to mask."""

    echo: bool = False
    secrets: set[str] = field(default_factory=set)


_display = _Display()


@contextlib.contextmanager
def echoing(echo: bool | None) -> Iterator[None]:
    """Print every command (invoke's --echo) for the duration; None leaves it as it is."""
    saved = _display.echo
    if echo is not None:
        _display.echo = echo
    try:
        yield
    finally:
        _display.echo = saved


def echo_enabled() -> bool:
    """Whether commands are echoed (in-process API reads print their requests then too)."""
    return _display.echo


def secret(value: str | bytes) -> None:
    """Register a secret value: it is masked in every echoed line, dry-run line and error."""
    text = value.decode() if isinstance(value, bytes) else value
    if len(text) < 4:  # masking tiny strings would garble ordinary output
        return
    _display.secrets.add(text)
    _display.secrets.add(base64.b64encode(text.encode()).decode())


def redact(text: str) -> str:
    for value in sorted(_display.secrets, key=len, reverse=True):
        text = text.replace(value, MASK)
    return text


def run(argv: list[str] | tuple[str, ...], **options) -> Result:
    """Run one command (see `Step` for the options); raise CommandFailed unless check=False.
    `dry_run=True` prints a mutating command instead of running it."""
    check = options.pop("check", True)
    dry_run = options.pop("dry_run", False)
    env = options.pop("env", None) or {}
    step = Step(argv=tuple(str(a) for a in argv), env=tuple(env.items()), **options)
    return run_step(step, check=check, dry_run=dry_run)


def run_step(step: Step, *, check: bool = True, dry_run: bool = False) -> Result:
    """Run a step (and the steps feeding its stdin). With `dry_run`, a chain that changes
    something is printed as `[dry-run] ...` and not started; reads still run."""
    chain = step.chain()
    skip = dry_run and any(s.mutates for s in chain)
    if _display.echo or skip:
        print(("[dry-run] " if skip else "$ ") + step.display(), file=sys.stderr, flush=True)
    if skip:
        return Result(0, "", "")
    try:
        if step.interactive:
            result, failed = _run_interactive(step)
        else:
            result, failed = _run_chain(chain)
    except _Timeout as exc:
        raise CommandFailed(
            tool=_tool(step),
            argv=tuple(redact(a) for a in step.argv),
            returncode=None,
            hint=step.hint,
            reason=f"timed out after {exc.seconds:g}s",
            what=step.what,
        ) from None
    if check and failed is not None:
        raise _failure(failed, result, step.what)
    return result


def _run_interactive(step: Step) -> tuple[Result, Step | None]:
    """The terminal stays with the command (an editor); nothing is captured."""
    argv = _resolve(step)
    proc = _process(argv, step, None, None, None)
    try:
        code = proc.wait(timeout=step.timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        raise _Timeout(step.timeout) from None
    except BaseException:  # Ctrl-C, a closed terminal: the command does not outlive us
        proc.kill()
        proc.wait()
        raise
    return Result(code, "", ""), (step if code else None)


def _tool(step: Step) -> str:
    return Path(step.argv[0]).name


def _resolve(step: Step) -> list[str]:
    name = step.argv[0]
    path = tools.which(name)
    if path is None:
        raise ToolMissing(f"`{name}` not found", tools.install_hint(name))
    return [path, *step.argv[1:]]


def _environ(step: Step) -> dict[str, str]:
    env = dict(os.environ)
    env["PATH"] = f"{tools.tools_bin()}{os.pathsep}{env.get('PATH', '')}"
    env.update(dict(step.env))
    return env


def _run_chain(chain: list[Step]) -> tuple[Result, Step | None]:
    """Start every step with pipes between them; return the last step's output and the
    first step that failed (None when all exited 0)."""
    argvs = [_resolve(s) for s in chain]  # all resolved before anything starts
    procs: list[Popen] = []
    data = chain[0].stdin if isinstance(chain[0].stdin, bytes | str) else None
    for index, (step, argv) in enumerate(zip(chain, argvs, strict=True)):
        stdin = procs[-1].stdout if procs else (subprocess.PIPE if data is not None else None)
        procs.append(_popen(argv, step, stdin))
        if index and (upstream := procs[-2].stdout):
            upstream.close()  # so an early exit downstream reaches upstream as SIGPIPE
    outputs = _collect(procs, data, max(s.timeout for s in chain))
    for step, proc in zip(chain, procs, strict=True):
        if proc.returncode != 0:
            return Result(proc.returncode, outputs[-1][0], outputs[chain.index(step)][1]), step
    return Result(0, outputs[-1][0], outputs[-1][1]), None


def _popen(argv: list[str], step: Step, stdin: Stream) -> Popen:
    """Start one step with its output piped to us."""
    return _process(argv, step, stdin, subprocess.PIPE, subprocess.PIPE)


def _process(argv: list[str], step: Step, stdin: Stream, stdout: Stream, stderr: Stream) -> Popen:
    """Start a resolved argv (argv[0] an absolute path) as a plumbum command object, with
    the environment built here and the step's folder; a `hot` step without plumbum."""
    if step.hot:
        return subprocess.Popen(
            argv, stdin=stdin, stdout=stdout, stderr=stderr, env=_environ(step), cwd=step.cwd
        )
    command = _plumbum()(argv[0])[argv[1:]]
    proc = command.popen(
        env=_environ(step), cwd=step.cwd, stdin=stdin, stdout=stdout, stderr=stderr
    )
    return cast("Popen", proc)  # plumbum's Popen hands every attribute to subprocess's


@cache
def _plumbum() -> type[LocalCommand]:
    """plumbum's local command class, bound to a machine that passes each process exactly
    the environment built here. Imported on the first process only: a task that starts
    none does not pay for it."""
    from plumbum.machines.local import LocalCommand, LocalEnv, LocalMachine

    # plumbum logs "Running [argv]" at DEBUG, and an argv may carry a secret: off, and
    # dropped too should a logging setup turn DEBUG back on
    logger = logging.getLogger("plumbum.local")
    logger.setLevel(logging.INFO)
    logger.addFilter(lambda record: not str(record.msg).startswith("Running"))

    class Machine(LocalMachine):
        # plumbum's own machine merges a copy of os.environ taken when plumbum was
        # imported under the env given: a variable unset since would come back
        env = LocalEnv()

    Machine.env.clear()

    machine = Machine()

    class Command(LocalCommand):
        __slots__ = ()

        @property
        def machine(self) -> LocalMachine:
            return machine

    return Command


def _collect(procs, data: bytes | str | None, timeout: float) -> list[tuple[str, str]]:
    buffers: list[list[bytes]] = [[b"", b""] for _ in procs]
    threads = []

    def drain(stream, slot: list[bytes], index: int) -> None:
        slot[index] = stream.read()

    for i, proc in enumerate(procs):
        streams = [(proc.stderr, 1)] + ([(proc.stdout, 0)] if i == len(procs) - 1 else [])
        threads += [threading.Thread(target=drain, args=(s, buffers[i], k)) for s, k in streams]
    if data is not None:
        threads.append(threading.Thread(target=_feed, args=(procs[0].stdin, data)))
    for thread in threads:
        thread.daemon = True
        thread.start()
    deadline = time.monotonic() + timeout
    try:
        for proc in procs:
            proc.wait(timeout=max(0.0, deadline - time.monotonic()))
    except subprocess.TimeoutExpired:
        for proc in procs:
            proc.kill()
            proc.wait()
        raise _Timeout(timeout) from None
    for thread in threads:
        thread.join()
    return [(out.decode(errors="replace"), err.decode(errors="replace")) for out, err in buffers]


def _feed(pipe, data: bytes | str) -> None:
    with contextlib.suppress(BrokenPipeError):
        pipe.write(data.encode() if isinstance(data, str) else data)
    with contextlib.suppress(BrokenPipeError):
        pipe.close()


class _Timeout(Exception):
    def __init__(self, seconds: float) -> None:
        super().__init__(seconds)
        self.seconds = seconds


def _failure(step: Step, result: Result, what: str) -> CommandFailed:
    """`step` is the one that failed (in a pipeline, maybe an upstream one); `what` says
    what the whole command was for."""
    tail = "\n".join(result.stderr.strip().splitlines()[-STDERR_TAIL_LINES:])
    return CommandFailed(
        tool=_tool(step),
        argv=tuple(redact(a) for a in step.argv),
        returncode=result.returncode,
        stderr_tail=redact(tail),
        hint=step.hint,
        what=what,
    )
