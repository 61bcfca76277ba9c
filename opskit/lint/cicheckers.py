"""External checkers of the CI definitions: vendored JSON schemas (both systems) and
actionlint (GitHub workflows: expressions, action inputs, shellcheck of `run:` lines)."""

from __future__ import annotations

import sys
from pathlib import Path

from opskit.core import paths, shell
from opskit.lint.ci import BITBUCKET_FILE, GITHUB_DIR


def schema_problems(root: Path) -> list[str]:
    """Validate both CI files against check-jsonschema's vendored schemas (no network)."""
    targets = [
        ("vendor.github-workflows", sorted((root / GITHUB_DIR).glob("*.y*ml"))),
        ("vendor.bitbucket-pipelines", [root / BITBUCKET_FILE]),
    ]
    problems = []
    for schema, files in targets:
        present = [str(f) for f in files if f.is_file()]
        if not present:
            problems.append(f"no files for {schema} ({', '.join(map(str, files)) or 'none'})")
            continue
        argv = [sys.executable, "-m", "check_jsonschema", "--builtin-schema", schema, *present]
        result = shell.run(argv, cwd=str(root), check=False, timeout=60)
        if result.returncode != 0:
            problems.append(f"{schema}: {(result.stdout + result.stderr).strip()}")
    return problems


def actionlint_problems(root: Path) -> list[str]:
    """actionlint's findings on .github/workflows, one line each (the pinned build)."""
    binary = paths.tools_bin() / "actionlint"
    if not binary.is_file():
        return [f"actionlint is not built ({binary}): run `invoke tools.install --only=actionlint`"]
    files = [str(p.relative_to(root)) for p in sorted((root / GITHUB_DIR).glob("*.y*ml"))]
    argv = [str(binary), "-no-color", "-oneline", *files]
    result = shell.run(argv, cwd=str(root), check=False, timeout=120)
    if result.returncode == 0:
        return []
    lines = (result.stdout + result.stderr).strip().splitlines()
    return [f"actionlint: {line}" for line in lines] or [f"actionlint: exit {result.returncode}"]
