"""The repository's files as git knows them, and shellcheck over its shell scripts."""

from __future__ import annotations

import re
from pathlib import Path

from opskit.core import shell
from opskit.core.errors import OpsError

SHEBANG = re.compile(rb"^#!\s*(?:/usr)?(?:/bin/env\s+|/bin/)(?:ba|da|k)?sh\b")


def tracked_files(root: Path) -> list[Path]:
    """Files git knows about: tracked, plus untracked ones that are not ignored."""
    argv = ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"]
    result = shell.run(argv, cwd=str(root), timeout=30, hint="run it inside the git checkout")
    paths = sorted({root / p for p in result.stdout.split("\0") if p})
    return [p for p in paths if p.is_file()]


def shell_scripts(root: Path) -> list[Path]:
    """Tracked shell scripts: `*.sh`, or a sh/bash shebang (e.g. .ci/run, scripts/*)."""
    return [p for p in tracked_files(root) if p.suffix == ".sh" or _has_shell_shebang(p)]


def _has_shell_shebang(path: Path) -> bool:
    with path.open("rb") as handle:
        return bool(SHEBANG.match(handle.readline(200)))


def shellcheck(root: Path, scripts: list[Path]) -> list[str]:
    """shellcheck's findings, one line each (`file:line:col: level: message [SCxxxx]`)."""
    if not scripts:
        return []
    argv = ["shellcheck", "--external-sources", "--format=gcc"]
    argv += [str(p.relative_to(root)) for p in scripts]
    result = shell.run(argv, cwd=str(root), check=False, timeout=120)
    if result.returncode not in (0, 1):
        lines = (result.stderr or result.stdout).strip().splitlines()
        raise OpsError(
            f"shellcheck failed: {lines[-1] if lines else f'exit code {result.returncode}'}",
            "run `shellcheck --version` to check the install",
        )
    return result.stdout.splitlines()
