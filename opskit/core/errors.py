"""The suite's error types: expected failures carry a one-line message and a fix."""

from __future__ import annotations


class OpsError(Exception):
    """An expected failure: what went wrong and how to fix it (exit 1, no traceback)."""

    def __init__(self, message: str, hint: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message}; {self.hint}" if self.hint else self.message


class ConfigError(OpsError):
    """opskit.yaml (or a flag resolved against it) is invalid."""


class ToolMissing(OpsError):
    """An external executable is not installed or too old."""


class CommandFailed(OpsError):
    """An external command exited non-zero or timed out."""

    def __init__(
        self,
        tool: str,
        argv: tuple[str, ...],
        returncode: int | None,
        stderr_tail: str = "",
        hint: str = "",
        reason: str = "",
        what: str = "",
    ) -> None:
        self.tool = tool
        self.argv = argv
        self.returncode = returncode
        self.stderr_tail = stderr_tail
        self.reason = reason or f"exited with code {returncode}"  # or "timed out after 60s"
        self.what = what  # the step's purpose ("apply", "rotate data key"), said first
        purpose = f"{what}: " if what else ""
        super().__init__(f"{purpose}`{tool}` {self.reason}: {' '.join(argv)}", hint)

    def __str__(self) -> str:
        text = super().__str__()
        if self.stderr_tail:
            tail = "\n".join("  | " + line for line in self.stderr_tail.splitlines())
            text = f"{text}\n{tail}"
        return text
