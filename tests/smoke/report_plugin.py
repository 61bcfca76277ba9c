"""`pytest tests/smoke --report=DIR` (`nox -s cluster-smoke -- --report=DIR`): the checks as
report.json (schemas/deploy-report.schema.json, kind `smoke`) and junit.xml, and a Markdown
summary under GitHub Actions, through the same writer as `invoke deploy --report`."""

from __future__ import annotations

import os
from pathlib import Path

from opskit.deploy import records, report


class SmokeReport:
    def __init__(self, folder: Path, overlay: str) -> None:
        self.folder = folder
        self.record = report.DeployRecord(overlay, kind="smoke")

    def pytest_runtest_logreport(self, report) -> None:
        """One check per test that ran (a failed setup counts as a failed check)."""
        if report.skipped or not (report.when == "call" or report.failed):
            return
        detail = "" if report.passed else report.longreprtext[-4000:]
        self.record.checks.append(
            report_check(report.nodeid, report.passed, report.duration, detail)
        )

    def pytest_sessionfinish(self, session, exitstatus) -> None:
        failed = [c.name for c in self.record.checks if not c.ok]
        self.record.finish("failed" if failed else "succeeded", ", ".join(failed))
        records.write(self.record, self.folder)


def report_check(name: str, ok: bool, seconds: float, detail: str) -> report.Check:
    return report.Check(name.removeprefix("tests/smoke/"), ok, round(seconds, 3), detail)


def pytest_addoption(parser) -> None:
    parser.addoption(
        "--report",
        dest="opskit_report",
        default=None,
        help="write report.json and junit.xml of the checks to this folder",
    )


def pytest_configure(config) -> None:
    """Register the reporter when --report is given."""
    folder = config.getoption("opskit_report")
    if folder:
        overlay = os.environ.get("OVERLAY", "dev")
        config.pluginmanager.register(SmokeReport(Path(folder), overlay), "opskit-smoke-report")
