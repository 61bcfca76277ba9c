"""One identity for a cluster object (opskit.kube.ref.ObjectRef): the same object matches
wherever it comes from, and each place that shows or stores it keeps its text."""

import json
from pathlib import Path

import pytest

from opskit.deploy import report, restore
from opskit.diff import live
from opskit.kube import applied, kubectl, rollout
from opskit.kube.ref import ObjectRef

API = {"kind": "Deployment", "metadata": {"name": "api", "namespace": "dev"}}


def test_one_identity_three_renderings():
    ref = ObjectRef.of(API)
    assert ref == ObjectRef("Deployment", "dev", "api")
    assert (str(ref), ref.kind_name, ref.resource) == (
        "Deployment/dev/api",
        "Deployment/api",
        "deployment/api",
    )
    assert ObjectRef.parse(str(ref)) == ref
    assert ObjectRef.of({"kind": "Namespace", "metadata": {"name": "dev"}}).namespace == ""


def test_objects_in_two_namespaces_are_two_objects():
    other = {**API, "metadata": {"name": "api", "namespace": "prod"}}
    assert ObjectRef.of(API) != ObjectRef.of(other)
    assert ObjectRef.of(API).kind_name == ObjectRef.of(other).kind_name


@pytest.mark.parametrize("text", ["Deployment/api", "a/b/c/d", ""])
def test_parse_refuses_what_str_never_wrote(text):
    with pytest.raises(ValueError):
        ObjectRef.parse(text)


def test_the_deploy_record_keeps_its_keys_and_reads_them_back(tmp_path, monkeypatch):
    monkeypatch.setenv("OPSKIT_STATE_DIR", str(tmp_path))
    server = {**API, "metadata": {**API["metadata"], "uid": "u1", "resourceVersion": "7"}}
    applied.save("ctx", "dev", {ObjectRef.of(API): "f1"}, [server])
    (file,) = tmp_path.rglob("dev.json")
    assert json.loads(file.read_text()) == {
        "Deployment/dev/api": {"fingerprint": "f1", "uid": "u1", "resourceVersion": "7"}
    }
    record = applied.load("ctx", "dev")
    assert applied.same(record, ObjectRef.of(API), "f1", server)
    assert not applied.same(record, ObjectRef.of(API), "f2", server)


def test_a_record_with_a_key_this_version_never_wrote_is_no_record(tmp_path, monkeypatch):
    monkeypatch.setenv("OPSKIT_STATE_DIR", str(tmp_path))
    applied.save("ctx", "dev", {ObjectRef.of(API): "f1"}, [API])
    (file,) = tmp_path.rglob("dev.json")
    file.write_text(json.dumps({"Deployment/api": {"fingerprint": "f1"}}))
    assert applied.load("ctx", "dev") == {}  # everything is sent again


def test_a_workload_is_the_object_restore_puts_back():
    item = {
        **API,
        "metadata": {**API["metadata"], "generation": 1},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": {"app": "api"}},
            "template": {"spec": {"containers": [{"image": "api:1"}]}},
        },
        "status": {"observedGeneration": 1, "readyReplicas": 1, "updatedReplicas": 1},
    }
    workload = rollout._workload(item, {})
    before = restore.Before(previous=(restore._as_applied(item),), created=())
    (put,) = [ObjectRef.of(o) for o in before.previous]
    assert workload.ref == put
    assert workload.ref.resource == "deployment/api"  # what kubectl and the report say


def test_drift_matches_by_identity_and_names_kind_and_name():
    changed = {**API, "spec": {"replicas": 2}}
    same = {**API, "spec": {"replicas": 1}}
    (drift,) = live.compare([same], [changed])
    assert drift == live.Drift("Deployment/api", ("spec.replicas: live 1, commit 2",))
    elsewhere = {**changed, "metadata": {"name": "api", "namespace": "prod"}}
    (missing,) = live.compare([same], [elsewhere])
    assert missing.fields == ("missing in the cluster",)


def test_the_report_names_applied_objects_kind_slash_name():
    record = report.DeployRecord("dev")
    record.applied(json.dumps({"kind": "List", "items": [API]}), since="9999")
    assert [(o.object, o.result) for o in record.objects] == [("Deployment/api", "applied")]


def test_every_server_side_apply_is_spelled_by_one_builder():
    assert kubectl.server_side_apply() == (
        "apply",
        "--server-side",
        "--force-conflicts",
        "--field-manager=opskit",
        "-f",
        "-",
    )
    assert kubectl.server_side_apply("-n", "argocd")[4:6] == ("-n", "argocd")
    spelled = [
        path
        for path in Path(kubectl.__file__).parents[1].rglob("*.py")
        if '"--server-side"' in path.read_text() and path.name != "kubectl.py"
    ]
    assert spelled == []  # a new apply goes through kubectl.server_side_apply
