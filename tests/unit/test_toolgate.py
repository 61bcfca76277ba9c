"""The tool gate (tests/toolgate.py): a missing tool skips here and fails under CI=true."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CHECKS = """
import pytest

@pytest.mark.tools("sops")
def test_needs_sops():
    pass

@pytest.mark.tools("go", "sops")
def test_needs_go_and_sops():
    pass

@pytest.mark.tools("go")
def test_needs_go():
    pass

@pytest.mark.tools("python3")
def test_needs_python():
    pass
"""


def run(tmp_path: Path, ci: str) -> subprocess.CompletedProcess[str]:
    (tmp_path / "conftest.py").write_text('pytest_plugins = ["tests.toolgate"]\n')
    (tmp_path / "test_checks.py").write_text(CHECKS)
    # a project root without built tools, a PATH with Python only: sops and go are missing
    env = {
        **os.environ,
        "CI": ci,
        "OPSKIT_ROOT": str(tmp_path),
        "PATH": str(Path(sys.executable).parent),
        "PYTHONPATH": str(ROOT),
    }
    argv = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:cov"]
    return subprocess.run(
        [*argv, str(tmp_path)],
        check=False,
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize("ci", ["", "false"])
def test_outside_ci_a_missing_tool_skips_and_the_summary_counts_each_reason(tmp_path, ci):
    done = run(tmp_path, ci)
    assert done.returncode == 0, done.stdout
    assert "1 passed, 3 skipped" in done.stdout
    lines = done.stdout.splitlines()
    assert "   1 skipped: needs sops: run `invoke tools.install --only=sops`" in lines
    assert "   1 skipped: needs go: install Go from go.dev/dl" in lines
    both = "needs go, sops: install Go from go.dev/dl; run `invoke tools.install --only=sops`"
    assert f"   1 skipped: {both}" in lines


@pytest.mark.parametrize("ci", ["true", "1"])
def test_under_ci_a_missing_project_tool_is_an_error_naming_the_fix(tmp_path, ci):
    done = run(tmp_path, ci)
    assert done.returncode == 1, done.stdout
    assert "1 passed, 1 skipped, 2 errors" in done.stdout
    assert (
        "ERROR test_checks.py::test_needs_sops - Failed: CI=true and a tool is missing: "
        "needs sops: run `invoke tools.install --only=sops`"
    ) in done.stdout.splitlines()
    # Go is not the project's to install: still a skip, counted in the summary
    assert "   1 skipped: needs go: install Go from go.dev/dl" in done.stdout.splitlines()
