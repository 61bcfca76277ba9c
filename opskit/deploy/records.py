"""A deploy record (opskit.deploy.report) as files CI shows: report.json, junit.xml, and a Markdown
summary appended to $GITHUB_STEP_SUMMARY when that is set."""

from __future__ import annotations

import contextlib
import json
import os
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

from opskit.core import paths
from opskit.deploy.report import DeployRecord

SCHEMA = Path(__file__).resolve().parents[2] / "schemas" / "deploy-report.schema.json"
FAILED_ROLLOUTS = ("failed", "rolled-back")


def junit(record: DeployRecord) -> str:
    """One testcase per workload rollout and per check; failures carry the diagnostics."""
    suite = ET.Element(
        "testsuite", name=f"{record.kind} {record.overlay}", timestamp=record.started_at
    )
    failures = 0
    for check in record.checks:
        case = ET.SubElement(
            suite,
            "testcase",
            classname=f"{record.kind}.{record.overlay}.check",
            name=check.name,
            time=f"{check.seconds:.3f}",
        )
        if not check.ok:
            failures += 1
            ET.SubElement(
                case,
                "failure",
                message=check.detail.splitlines()[0][:200] if check.detail else "failed",
            ).text = check.detail
    diagnostics = "\n".join(record.log)
    for item in record.rollouts:
        case = ET.SubElement(
            suite,
            "testcase",
            classname=f"{record.kind}.{record.overlay}.rollout",
            name=item.workload,
            time=f"{item.seconds or 0:.3f}",
        )
        if item.status in FAILED_ROLLOUTS:
            failures += 1
            failure = ET.SubElement(case, "failure", message=item.detail or item.status)
            failure.text = diagnostics
        else:
            ET.SubElement(
                case, "system-out"
            ).text = f"{item.status}: revision {item.revision}, {', '.join(item.images)}"
    suite.set("tests", str(len(record.checks) + len(record.rollouts)))
    suite.set("failures", str(failures))
    suite.set("errors", "0")
    suite.set("time", f"{record.seconds:.3f}")
    root = ET.Element("testsuites", name="opskit")
    root.append(suite)
    ET.indent(root)
    return '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def markdown(record: DeployRecord) -> str:
    """A short summary: the outcome, then a table of rollouts and a list of failed checks."""
    icon = {"succeeded": "✅", "dry-run": "📝"}.get(record.status, "❌")
    lines = [
        f"### {icon} {record.kind} {record.overlay}: {record.status}",
        "",
        f"`{record.image}` at `{record.commit[:12]}` to `{record.context}` "
        f"in {record.seconds:.1f}s, {len(record.objects)} objects applied, "
        f"{sum(c.ok for c in record.checks)}/{len(record.checks)} checks passed",
        "",
    ]
    if record.rollouts:
        lines += ["| workload | status | revision | seconds |", "|---|---|---|---|"]
        lines += [
            f"| {r.workload} | {r.status} | {r.revision or '-'} | "
            + (f"{r.seconds:.1f}" if r.seconds is not None else "-")
            + " |"
            for r in record.rollouts
        ]
        lines.append("")
    lines += [f"- rolled back {b.workload} to revision {b.to_revision}" for b in record.rollback]
    lines += [
        f"- check **{c.name}** failed: {c.detail.splitlines()[0]}"
        for c in record.checks
        if not c.ok and c.detail
    ]
    if record.error:
        lines += ["", f"Error: {record.error.splitlines()[0]}"]
    return "\n".join(lines) + "\n"


def write(record: DeployRecord, folder: Path) -> list[Path]:
    """report.json and junit.xml in `folder`; the step summary too under GitHub Actions."""
    folder.mkdir(parents=True, exist_ok=True)
    written = [folder / "report.json", folder / "junit.xml"]
    paths.write_atomic(written[0], json.dumps(record.as_json(), indent=2) + "\n")
    paths.write_atomic(written[1], junit(record))
    if summary := os.environ.get("GITHUB_STEP_SUMMARY"):
        with open(summary, "a", encoding="utf-8") as stream:
            stream.write(markdown(record))
    return written


@contextlib.contextmanager
def recorded(record: DeployRecord, folder) -> Iterator[DeployRecord]:
    """Finish the record however the deploy ends, and write its files to `folder` (if any)."""
    try:
        yield record
    except BaseException as exc:
        record.finish("rolled-back" if record.rollback else "failed", str(exc))
        raise
    else:
        record.finish("dry-run" if record.dry_run else "succeeded")
    finally:
        if folder:
            write(record, Path(folder))
