"""Deploy reports: the record deploy fills, and the files written from it (report.json against
its JSON Schema, junit.xml through a real JUnit reader, the Markdown step summary).

The end-to-end tests write the same files from real deploys on the kwok cluster."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
from junitparser import Failure, JUnitXml

from opskit.core import shell
from opskit.deploy import records, report
from opskit.kube.rollout import Workload

SCHEMA = json.loads(records.SCHEMA.read_text())
COMMIT = "0123456789abcdef0123456789abcdef01234567"


def workload(name: str, revision: int, kind: str = "Deployment") -> Workload:
    return Workload(kind, name, 2, revision, True, (("app", name),), (f"img/{name}:1",))


def filled(status: str) -> report.DeployRecord:
    """A record as opskit.deploy.pipeline leaves it after a passing or a rolled-back deploy."""
    record = report.DeployRecord("dev", context="kwok-x", commit=COMMIT, image="img/api:0123")
    record.manifest_hash = "ab" * 32
    with record.check("plan"):
        pass
    items = [
        {"kind": kind, "metadata": {"name": "api", "creationTimestamp": f"{year}-01-01T00:00:00Z"}}
        for kind, year in (("Deployment", 2999), ("Service", 2000))
    ]
    record.applied(json.dumps({"kind": "List", "items": items}), since=report.now())
    record.rollout(workload("redis", 1), "unchanged")
    record.ready(workload("api", 2), 1.23456)
    if status == "rolled-back":
        record.tee(lambda _m: None)("--- diagnostics for deployment/api\npod/api-1: Ready=False")
        record.rollout(workload("api", 2), "failed", detail="deployment/api did not roll out")
        record.rollback.append(report.Rollback("deployment/api", 2, 1))
    record.finish(status, "deploy to dev failed" if status != "succeeded" else "")
    return record


@pytest.mark.parametrize("status", ["succeeded", "rolled-back"])
def test_report_json_matches_its_schema(tmp_path, status):
    written = records.write(filled(status), tmp_path)
    data = json.loads(written[0].read_text())
    jsonschema.validate(data, SCHEMA, format_checker=jsonschema.FormatChecker())
    assert data["status"] == status
    assert data["objects"] == [
        {"object": "Deployment/api", "result": "created"},
        {"object": "Service/api", "result": "applied"},
    ]
    assert [r["workload"] for r in data["rollouts"]] == ["deployment/redis", "deployment/api"]


def test_the_schema_rejects_what_it_does_not_document():
    data = filled("succeeded").as_json()
    for broken in ({**data, "status": "fine"}, {**data, "extra": 1}, {**data, "commit": "HEAD"}):
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate(broken, SCHEMA)


def cases(path: Path) -> dict[str, object]:
    suite = next(iter(JUnitXml.fromfile(str(path))))
    return {f"{case.classname}/{case.name}": case for case in suite}


def test_junit_of_a_passing_deploy_has_a_case_per_rollout_and_check(tmp_path):
    record = filled("succeeded")
    found = cases(records.write(record, tmp_path)[1])
    assert set(found) == {
        "deploy.dev.check/plan",
        "deploy.dev.rollout/deployment/redis",
        "deploy.dev.rollout/deployment/api",
    }
    assert all(case.is_passed for case in found.values())
    seconds = next(r.seconds for r in record.rollouts if r.workload == "deployment/api")
    assert found["deploy.dev.rollout/deployment/api"].time == pytest.approx(seconds, abs=1e-3)


def test_rollout_seconds_count_from_the_apply():
    record = report.DeployRecord("dev")
    record.ready(workload("api", 1), 1.23456)  # no apply seen: the wait's own seconds
    assert record.rollouts[-1].seconds == 1.235
    record.applied("", since=report.now())
    record.ready(workload("api", 1), 50.0)
    assert record.rollouts[-1].seconds < 5


def test_junit_of_a_rolled_back_deploy_carries_the_diagnostics(tmp_path):
    found = cases(records.write(filled("rolled-back"), tmp_path)[1])
    api = found["deploy.dev.rollout/deployment/api"]
    (failure,) = api.result
    assert isinstance(failure, Failure)
    assert failure.message == "deployment/api did not roll out"
    assert "pod/api-1: Ready=False" in failure.text
    assert found["deploy.dev.rollout/deployment/redis"].is_passed


def test_a_failed_check_is_a_failed_case_with_the_error(tmp_path):
    record = report.DeployRecord("dev")
    with pytest.raises(RuntimeError), record.check("plan"):
        raise RuntimeError("dev: 1 validation problem(s), nothing applied:\nDeployment/api: x")
    record.finish("failed", "dev: 1 validation problem(s)")
    (failure,) = cases(records.write(record, tmp_path)[1])["deploy.dev.check/plan"].result
    assert failure.message == "dev: 1 validation problem(s), nothing applied:"
    assert failure.text.endswith("Deployment/api: x")
    jsonschema.validate(json.loads((tmp_path / "report.json").read_text()), SCHEMA)


def test_step_summary_is_appended_under_github_actions(tmp_path, monkeypatch):
    summary = tmp_path / "summary.md"
    summary.write_text("earlier step\n")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    records.write(filled("rolled-back"), tmp_path / "out")
    text = summary.read_text()
    assert text.startswith("earlier step\n### ❌ deploy dev: rolled-back\n")
    assert "| deployment/api | failed | 2 | - |" in text
    assert "- rolled back deployment/api to revision 1" in text


def test_no_summary_without_github_actions(tmp_path, monkeypatch):
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)
    assert [p.name for p in records.write(filled("succeeded"), tmp_path)] == [
        "report.json",
        "junit.xml",
    ]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["junit.xml", "report.json"]


def test_a_registered_secret_never_reaches_the_record(tmp_path):
    shell.secret("hunter2-very-secret")
    record = report.DeployRecord("dev")
    record.tee(lambda _m: None)("apply failed: hunter2-very-secret rejected")
    with pytest.raises(ValueError), record.check("apply"):
        raise ValueError("bad value hunter2-very-secret")
    record.finish("failed", "error hunter2-very-secret")
    records.write(record, tmp_path)
    for path in tmp_path.iterdir():
        assert "hunter2-very-secret" not in path.read_text()


def test_recorded_writes_the_files_however_the_deploy_ends(tmp_path):
    with records.recorded(report.DeployRecord("dev"), tmp_path / "ok") as record:
        record.context = "kwok-x"
    assert json.loads((tmp_path / "ok/report.json").read_text())["status"] == "succeeded"
    with (
        pytest.raises(RuntimeError),
        records.recorded(report.DeployRecord("dev"), tmp_path / "bad") as record,
    ):
        record.rollback.append(report.Rollback("deployment/api", 2, 1))
        raise RuntimeError("deploy to dev failed: deployment/api did not roll out")
    data = json.loads((tmp_path / "bad/report.json").read_text())
    assert (data["status"], data["error"]) == (
        "rolled-back",
        "deploy to dev failed: deployment/api did not roll out",
    )
    jsonschema.validate(data, SCHEMA)


def test_recorded_without_a_folder_writes_nothing(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with records.recorded(report.DeployRecord("dev", dry_run=True), None) as record:
        pass
    assert record.status == "dry-run"
    assert list(tmp_path.iterdir()) == []


def test_planned_records_commit_image_and_manifest_hash():
    import hashlib
    from types import SimpleNamespace

    objects = [{"kind": "ConfigMap", "metadata": {"name": "a"}}]
    plan = SimpleNamespace(
        image="img:1", objects=objects, unserved=["ServiceMonitor/api: ..."], commit="f" * 40
    )
    record = report.DeployRecord("dev")
    report.planned(record, plan)
    assert (record.image, record.commit) == ("img:1", "f" * 40)  # the plan's own: no git call
    canonical = json.dumps(objects, sort_keys=True).encode()
    assert record.manifest_hash == hashlib.sha256(canonical).hexdigest()
    assert record.checks[-1].name == "served APIs"
    assert record.checks[-1].detail == "ServiceMonitor/api: ..."
