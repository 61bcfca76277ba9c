"""The JUnit summary plugin: what GitHub's job page shows of a pytest run."""

from __future__ import annotations

from types import SimpleNamespace

from opskit import testsummary


def test_counts_and_failures_become_a_markdown_table():
    text = testsummary.summary_markdown("pytest: tests", {"passed": 3, "failed": 1}, ["t::x"])
    assert text == (
        "### pytest: tests\n\n| passed | failed |\n|---|---|\n| 3 | 1 |\n\n- ❌ `t::x`\n"
    )


def test_long_failure_lists_are_cut():
    failures = [f"t::{n}" for n in range(40)]
    text = testsummary.summary_markdown("pytest", {"failed": 40}, failures)
    assert text.count("❌") == testsummary.MAX_LISTED and "and 10 more" in text


def test_the_summary_is_appended_only_where_github_asks(tmp_path, monkeypatch):
    report = SimpleNamespace(nodeid="t::bad")
    reporter = SimpleNamespace(stats={"passed": [object()] * 2, "failed": [report]})
    config = SimpleNamespace(getoption=lambda name, default=None: "test-results/e2e/junit.xml")
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)
    testsummary.pytest_terminal_summary(reporter, 1, config)  # nothing to write to
    target = tmp_path / "summary.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(target))
    testsummary.pytest_terminal_summary(reporter, 1, config)
    assert target.read_text().startswith("### pytest: e2e\n")
    assert "| 2 | 1 |" in target.read_text() and "`t::bad`" in target.read_text()
