"""The CLIs as a user runs them (`sh`), inside the scratch repository, and a stopwatch."""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import sh


class BenchError(Exception):
    """A command the bench needs failed; the message carries its output's tail."""


def say(message: str) -> None:
    print(f"bench: {message}", flush=True)


def timed(action: Callable[[], object]) -> float:
    """Wall time of one call, in seconds."""
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


def program(name: str, root: Path | None = None) -> sh.Command:
    """`name` from this interpreter's bin folder, the checkout's .tools/bin, else PATH."""
    here = Path(sys.executable).parent / name
    if here.is_file():
        return sh.Command(str(here))
    if root is not None and (root / ".tools" / "bin" / name).is_file():
        return sh.Command(str(root / ".tools" / "bin" / name))
    return sh.Command(name)


def _tail(exc: sh.ErrorReturnCode) -> str:
    text = (exc.stderr or b"").decode(errors="replace") + (exc.stdout or b"").decode(
        errors="replace"
    )
    return "\n".join(text.strip().splitlines()[-15:])


@dataclass
class Workspace:
    """The scratch repository, its environment and its kwok cluster."""

    repo: Path
    cluster: str
    key_file: Path
    env: dict[str, str] = field(init=False)

    def __post_init__(self) -> None:
        tools = self.repo / ".tools" / "bin"
        self.env = {
            **os.environ,
            "OPSKIT_ROOT": str(self.repo),
            "OPSKIT_STATE_DIR": str(self.repo / ".opskit"),
            "SOPS_AGE_KEY_FILE": str(self.key_file),
            "PATH": f"{tools}{os.pathsep}{os.environ.get('PATH', '')}",
        }
        self.env.pop("SOPS_AGE_KEY", None)

    @property
    def context(self) -> str:
        return f"kwok-{self.cluster}"

    @property
    def kubeconfig(self) -> Path:
        return self.repo / ".opskit" / "clusters" / self.context / "kubeconfig"

    def _run(
        self, command: sh.Command, *args: str, stdin: str | None = None, ok: tuple[int, ...] = (0,)
    ) -> str:
        try:
            return str(
                command(
                    *args,
                    _cwd=str(self.repo),
                    _env=self.env,
                    _tty_out=False,
                    _in=stdin,
                    _ok_code=list(ok),
                )
            )
        except sh.ErrorReturnCode as exc:
            argv = " ".join(str(a) for a in exc.full_cmd.split()[:8])
            raise BenchError(f"`{argv}` failed (exit {exc.exit_code}):\n{_tail(exc)}") from None

    def invoke(self, *args: str, ok: tuple[int, ...] = (0,)) -> str:
        return self._run(program("invoke"), *args, ok=ok)

    def kubectl(self, *args: str, stdin: str | None = None) -> str:
        """kubectl against the bench cluster (explicit kubeconfig and context)."""
        return self._run(
            program("kubectl"),
            "--kubeconfig",
            str(self.kubeconfig),
            "--context",
            self.context,
            *args,
            stdin=stdin,
        )

    def tool(self, name: str, *args: str, stdin: str | None = None) -> str:
        """Any other program (kubectl kustomize, sops, git, python) run in the scratch repo."""
        return self._run(program(name, self.repo), *args, stdin=stdin)
