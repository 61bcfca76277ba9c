"""`invoke status` (drift) and `invoke deploy --report` on the kwok cluster, as a user runs
them: in sync after a deploy, drifted after a real `kubectl edit`, and the report files of a
passing and of a rolled-back deploy read by a JSON Schema validator and a JUnit reader."""

from __future__ import annotations

import base64
import json

import jsonschema
import pytest
from junitparser import Failure, JUnitXml

from opskit.deploy import records
from tests.e2e.project import Project, make_project
from tests.e2e.test_deploy import NAMESPACE, _break_readiness

SCHEMA = json.loads(records.SCHEMA.read_text())


@pytest.fixture(scope="module")
def project(tmp_path_factory, kwok_cluster) -> Project:
    return make_project(tmp_path_factory.mktemp("status") / "repo", kwok_cluster.name)


def report(folder) -> dict:
    data = json.loads((folder / "report.json").read_text())
    jsonschema.validate(data, SCHEMA)
    return data


def junit_cases(folder) -> dict:
    suite = next(iter(JUnitXml.fromfile(str(folder / "junit.xml"))))
    return {f"{case.classname}/{case.name}": case for case in suite}


def test_a_passing_deploy_writes_valid_reports(project, tmp_path):
    summary = tmp_path / "summary.md"
    project.env["GITHUB_STEP_SUMMARY"] = str(summary)
    try:
        project.invoke("deploy", "--overlay=dev", "--timeout=120", f"--report={tmp_path}")
    finally:
        del project.env["GITHUB_STEP_SUMMARY"]
    data = report(tmp_path)
    assert data["status"] == "succeeded"
    assert data["commit"] == project.git("rev-parse", "HEAD")
    assert data["image"].endswith(":" + data["commit"][:12])
    assert {"Deployment/api", "StatefulSet/postgres", "Secret/api-secrets"} <= {
        o["object"] for o in data["objects"]
    }
    rolled = {r["workload"]: r for r in data["rollouts"]}
    assert rolled["deployment/api"]["status"] == "rolled-out"
    assert rolled["deployment/api"]["seconds"] > 0
    cases = junit_cases(tmp_path)
    assert {"deploy.dev.rollout/deployment/api", "deploy.dev.check/plan"} <= set(cases)
    assert all(case.is_passed for case in cases.values())
    assert summary.read_text().startswith("### ✅ deploy dev: succeeded\n")


def test_status_in_sync_exits_0(project):
    result = project.invoke("status", "--overlay=dev", "--json")
    data = json.loads(result.stdout.decode())
    assert data["in_sync"] is True, data["drift"]
    api = next(w for w in data["workloads"] if w["workload"] == "deployment/api")
    assert (api["health"], api["ready"], api["desired"]) == ("Healthy", 1, 1)
    assert "opskit: dev on kwok-" in result.stderr.decode()


def test_a_manual_kubectl_edit_is_drift_with_the_field_named(project, kube):
    editor = {"KUBE_EDITOR": "sed -i -e 's/^  replicas: 1$/  replicas: 3/'"}
    kube.run("edit", "deployment/api", "-n", NAMESPACE, env=editor, timeout=60)
    try:
        result = project.invoke("status", "--overlay=dev", ok=(1,))
        out = result.stdout.decode()
        assert "drift: Deployment/api: spec.replicas: live 3, commit 1" in out
        assert "drifted (1 objects)" in result.stderr.decode()
        # the same comparison as a diff: `manifests.diff --live`
        shown = project.invoke("manifests.diff", "--live", "--overlay=dev", ok=(1,))
        text = shown.stdout.decode()
        assert "--- live/Deployment/api -n " in text
        assert "-  replicas: 3\n+  replicas: 1\n" in text
        assert text.count("--- live/") == 1, text
        assert "dev vs kwok-" in shown.stderr.decode()
    finally:
        kube.run("scale", "deployment/api", "-n", NAMESPACE, "--replicas=1", mutates=True)


def test_a_changed_secret_value_is_drift_by_key_only(project, kube):
    sentinel = "LiveSentinel-5f0c9e"
    patch = json.dumps({"stringData": {"DATABASE_URL": sentinel}})
    kube.run("patch", "secret/api-secrets", "-n", NAMESPACE, "-p", patch, mutates=True)
    result = project.invoke("status", "--overlay=dev", "--json", ok=(1,))
    data = json.loads(result.stdout.decode())
    assert {"object": "Secret/api-secrets", "fields": ["data.DATABASE_URL: differs"]} in (
        data["drift"]
    )
    shown = project.invoke("manifests.diff", "--live", "--overlay=dev", ok=(1,))
    assert "-  DATABASE_URL: '*** (before)'\n" in shown.stdout.decode()
    assert "+  DATABASE_URL: '*** (after)'\n" in shown.stdout.decode()
    encoded = base64.b64encode(sentinel.encode()).decode()
    for out in (result, shown):
        for text in (out.stdout.decode(), out.stderr.decode()):
            assert sentinel not in text and encoded not in text
    project.invoke("deploy", "--overlay=dev", "--timeout=60")  # the commit's value again
    assert project.invoke("status", "--overlay=dev").exit_code == 0


def test_a_rolled_back_deploy_writes_valid_reports(project, kube, tmp_path):
    api = kube.json("get", "deployment/api", "-n", NAMESPACE)
    good_revision = int(api["metadata"]["annotations"]["deployment.kubernetes.io/revision"])
    _break_readiness(project)
    project.invoke("deploy", "--overlay=dev", "--timeout=20", f"--report={tmp_path}", ok=(1,))
    data = report(tmp_path)
    assert data["status"] == "rolled-back"
    assert data["error"].startswith("deploy to dev failed: deployment/api did not roll out")
    # every workload the deploy changed is in it (the tag pin moves telemetry too)
    back = next(r for r in data["rollback"] if r["workload"] == "deployment/api")
    assert back["to_revision"] == good_revision
    assert back["from_revision"] is None or back["from_revision"] > good_revision
    api = junit_cases(tmp_path)["deploy.dev.rollout/deployment/api"]
    (failure,) = api.result
    assert isinstance(failure, Failure)
    assert "--- diagnostics for deployment/api" in failure.text
    assert "Ready=False" in failure.text
