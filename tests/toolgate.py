"""`@pytest.mark.tools("sops", ...)`: a test that needs commands says which.

Outside CI a test whose tool is missing skips, and the run ends with one line per reason and
its count. Under CI (`CI=true`: GitHub Actions, Bitbucket Pipelines and `.ci/run` set it) a
missing tool that the project installs (`invoke tools.install`, `./bootstrap.sh setup`) is an
error that names the tool and the command that installs it: a CI run must not go green by
skipping what it never ran. A tool the project does not install (Go, Docker) still skips.
"""

from __future__ import annotations

import os
from collections import Counter
from pathlib import Path

import pytest

from opskit.core import tools
from opskit.toolchain.build import GO_TOOLS

GO_BUILT = frozenset(tool.name for tool in GO_TOOLS)
APT = {  # command -> the Debian package `./bootstrap.sh setup` installs
    "git": "git",
    "curl": "curl",
    "openssl": "openssl",
    "age": "age",
    "age-keygen": "age",
    "mkcert": "mkcert",
    "shellcheck": "shellcheck",
    "elixir": "elixir",
    "make": "make",
    "mosquitto": "mosquitto",
    "mosquitto_pub": "mosquitto-clients",
    "redis-server": "redis-server",
    "gcc": "gcc",  # the real node's pause image
    "buildah": "buildah",  # images built without a registry
    "start-stop-daemon": "dpkg",  # the real node's and local ArgoCD's daemons
}
FIXED_PATHS = {"mosquitto": "/usr/sbin/mosquitto"}  # not on a user's PATH


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in ("true", "1", "yes")


def install_command(name: str) -> str | None:
    """How the project installs this command (None: it does not)."""
    if name in GO_BUILT:
        return f"invoke tools.install --only={name}"
    if name in APT:
        return f"./bootstrap.sh setup (apt-get install {APT[name]})"
    return None


def present(name: str) -> bool:
    if name in FIXED_PATHS:
        return Path(FIXED_PATHS[name]).is_file()
    return tools.which(name) is not None


def fix(name: str) -> str:
    if command := install_command(name):
        return f"run `{command}`"
    known = tools.TOOLS.get(name)
    return known.hint if known else f"install {name}"


def missing_message(missing: list[str]) -> str:
    return f"needs {', '.join(missing)}: {'; '.join(dict.fromkeys(map(fix, missing)))}"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "tools(*names): the commands the test runs (tests/toolgate.py)"
    )


@pytest.hookimpl(tryfirst=True)  # before the fixtures, which may already run the tool
def pytest_runtest_setup(item: pytest.Item) -> None:
    names = [name for mark in item.iter_markers("tools") for name in mark.args]
    missing = [name for name in dict.fromkeys(names) if not present(name)]
    if not missing:
        return
    if in_ci() and any(install_command(name) for name in missing):
        pytest.fail(f"CI=true and a tool is missing: {missing_message(missing)}", pytrace=False)
    pytest.skip(missing_message(missing))


def skip_reasons(reports: list[pytest.TestReport]) -> Counter[str]:
    reasons: Counter[str] = Counter()
    for report in reports:
        longrepr = report.longrepr
        reason = longrepr[2] if isinstance(longrepr, tuple) else str(longrepr)
        reasons[reason.removeprefix("Skipped: ")] += 1
    return reasons


def pytest_terminal_summary(terminalreporter, exitstatus: int, config: pytest.Config) -> None:
    reasons = skip_reasons(terminalreporter.stats.get("skipped", []))
    if not reasons:
        return
    total = sum(reasons.values())
    terminalreporter.section(f"did not run: {total} skipped", sep="-")
    for reason, count in reasons.most_common():
        terminalreporter.write_line(f"{count:4d} skipped: {reason}")
