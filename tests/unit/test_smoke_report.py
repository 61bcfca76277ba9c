"""`pytest tests/smoke --report=DIR`: the smoke checks as report.json (valid against the
schema) and junit.xml (read back with junitparser), from a real pytest run of three checks."""

import json
import subprocess
import sys
from pathlib import Path

import jsonschema
from junitparser import JUnitXml

from opskit.deploy import records

ROOT = Path(__file__).resolve().parents[2]
CHECKS = """
import pytest

def test_ok():
    pass

def test_broken():
    assert 1 == 2, "the api answered 503"

@pytest.mark.skip(reason="kwok runs no containers")
def test_skipped():
    pass
"""


def test_smoke_checks_become_a_report(tmp_path):
    (tmp_path / "test_checks.py").write_text(CHECKS)
    out = tmp_path / "reports"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            str(tmp_path / "test_checks.py"),
            "-q",
            "-p",
            "tests.smoke.report_plugin",
            f"--report={out}",
            "-p",
            "no:cacheprovider",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 1, done.stdout + done.stderr
    data = json.loads((out / "report.json").read_text())
    jsonschema.validate(data, json.loads(records.SCHEMA.read_text()))
    assert (data["kind"], data["status"]) == ("smoke", "failed")
    assert [(c["name"].split("::")[-1], c["ok"]) for c in data["checks"]] == [
        ("test_ok", True),
        ("test_broken", False),
    ]
    suite = next(iter(JUnitXml.fromfile(str(out / "junit.xml"))))
    cases = {case.name.split("::")[-1]: case for case in suite}
    assert cases["test_ok"].is_passed
    (failure,) = cases["test_broken"].result
    assert "the api answered 503" in failure.text
