"""pytest plugin (`-p opskit.testsummary`): the run's outcome on GitHub's job page.

GitHub shows Markdown appended to $GITHUB_STEP_SUMMARY; Bitbucket reads the JUnit XML in
test-results/ by itself. Without that variable the plugin does nothing.
"""

from __future__ import annotations

import os
from pathlib import Path

OUTCOMES = ("passed", "failed", "error", "skipped", "xfailed", "xpassed")
MAX_LISTED = 30


def summary_markdown(title: str, counts: dict[str, int], failures: list[str]) -> str:
    """A heading, one table row of counts, and the ids of the failed tests."""
    shown = [o for o in OUTCOMES if counts.get(o)]
    lines = [f"### {title}", ""]
    if shown:
        lines += ["| " + " | ".join(shown) + " |", "|" + "---|" * len(shown)]
        lines += ["| " + " | ".join(str(counts[o]) for o in shown) + " |", ""]
    else:
        lines += ["no tests ran", ""]
    lines += [f"- ❌ `{nodeid}`" for nodeid in failures[:MAX_LISTED]]
    if len(failures) > MAX_LISTED:
        lines.append(f"- … and {len(failures) - MAX_LISTED} more (see the JUnit artifact)")
    return "\n".join(lines) + "\n"


def pytest_terminal_summary(terminalreporter, exitstatus, config) -> None:
    target = os.environ.get("GITHUB_STEP_SUMMARY")
    if not target:
        return
    stats = terminalreporter.stats
    counts = {o: len(stats.get(o, [])) for o in OUTCOMES}
    failures = [r.nodeid for o in ("failed", "error") for r in stats.get(o, [])]
    junit = config.getoption("xmlpath", None)
    title = f"pytest: {Path(junit).parent.name}" if junit else "pytest"
    with open(target, "a", encoding="utf-8") as stream:
        stream.write(summary_markdown(title, counts, failures))
