"""Drift lines from live and merged (server dry-run) objects; the e2e suite runs the same
comparison against the kwok cluster after a real `kubectl edit`."""

from __future__ import annotations

import base64

from opskit.diff import live, status

LIVE = {
    "apiVersion": "apps/v1",
    "kind": "Deployment",
    "metadata": {"name": "api", "resourceVersion": "7", "generation": 3, "managedFields": []},
    "spec": {"replicas": 3, "template": {"spec": {"containers": [{"image": "api:old"}]}}},
    "status": {"readyReplicas": 3},
}


def merged(**spec) -> dict:
    obj = {**LIVE, "metadata": {**LIVE["metadata"], "resourceVersion": "8", "generation": 4}}
    return {**obj, "spec": {**LIVE["spec"], **spec}, "status": {}}


def secret(**data: str) -> dict:
    encoded = {k: base64.b64encode(v.encode()).decode() for k, v in data.items()}
    return {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"}, "data": encoded}


def test_the_changed_field_is_named_with_both_values():
    found = live.compare([LIVE], [merged(replicas=1)])
    assert found == [live.Drift("Deployment/api", ("spec.replicas: live 3, commit 1",))]


def test_volatile_metadata_and_status_are_not_drift():
    assert live.compare([LIVE], [merged()]) == []


def test_list_items_are_compared_by_index():
    spec = {"template": {"spec": {"containers": [{"image": "api:new"}]}}}
    (found,) = live.compare([LIVE], [merged(**spec)])
    assert found.fields == ("spec.template.spec.containers[0].image: live api:old, commit api:new",)


def test_an_object_not_in_the_cluster_is_missing():
    assert live.compare([], [merged()]) == [
        live.Drift("Deployment/api", ("missing in the cluster",))
    ]


def test_secrets_are_compared_by_key_never_by_value():
    live_secret = secret(A="same-value", B="live-value-XYZ", C="only-live")
    want = secret(A="same-value", B="commit-value-XYZ", D="new")
    (found,) = live.compare([live_secret], [want])
    assert found.fields == (
        "data.B: differs",
        "data.C: only in the cluster",
        "data.D: missing in the cluster",
    )
    assert "XYZ" not in repr(found) and base64.b64encode(b"live-value-XYZ").decode() not in repr(
        found
    )


def test_long_values_are_shortened():
    (line,) = live.field_changes("x" * 100, "y", "data.k")
    assert line == f"data.k: live {'x' * 57}..., commit y"


def test_status_text_and_json():
    found = status.Status(
        overlay="dev",
        namespace="ns",
        context="kwok-x",
        commit="0123456789ab",
        image="img:0123456789ab",
        workloads=(
            status.WorkloadStatus("deployment/api", 2, ("img:0123456789ab",), 1, 3, "Progressing"),
            status.WorkloadStatus("statefulset/postgres", None, (), 0, 0, "Missing"),
        ),
        drift=(live.Drift("Deployment/api", ("spec.replicas: live 3, commit 1",)),),
        skipped=("ServiceMonitor/api: API monitoring.coreos.com/v1 not served",),
    )
    assert status.text(found).splitlines() == [
        "WORKLOAD              REVISION  READY  HEALTH       IMAGE",
        "deployment/api        2         1/3    Progressing  img:0123456789ab",
        "statefulset/postgres  -         0/0    Missing      -",
        "drift: Deployment/api: spec.replicas: live 3, commit 1",
        "not compared: ServiceMonitor/api: API monitoring.coreos.com/v1 not served",
    ]
    data = found.as_json()
    assert data["in_sync"] is False
    assert data["drift"] == [
        {"object": "Deployment/api", "fields": ["spec.replicas: live 3, commit 1"]}
    ]
    assert data["workloads"][0] == {
        "workload": "deployment/api",
        "revision": 2,
        "images": ["img:0123456789ab"],
        "ready": 1,
        "desired": 3,
        "health": "Progressing",
    }


def test_the_unified_view_shows_the_changed_field_as_a_diff():
    text = live.unified([LIVE], [merged(replicas=1)])
    assert text.splitlines()[:2] == ["--- live/Deployment/api", "+++ commit/Deployment/api"]
    assert "-  replicas: 3\n" in text and "+  replicas: 1\n" in text
    assert live.unified([LIVE], [merged()]) == ""  # resourceVersion, status: not changes


def test_the_unified_view_of_a_new_object_is_all_additions():
    lines = live.unified([], [merged()]).splitlines()
    assert lines[0] == "--- live/Deployment/api"
    assert all(line.startswith(("+", "@@", "---")) for line in lines)


def test_the_unified_view_masks_every_secret_value():
    live_secret = secret(A="same-value", B="live-value-XYZ", C="only-live")
    want = secret(A="same-value", B="commit-value-XYZ", D="new-value-XYZ")
    text = live.unified([live_secret], [want])
    assert "-  B: '*** (before)'\n" in text and "+  B: '*** (after)'\n" in text
    assert "-  C: '***'\n" in text and "+  D: '***'\n" in text
    assert "  A: '***'\n" in text  # unchanged, masked too
    values = ("same-value", "live-value-XYZ", "commit-value-XYZ", "only-live", "new-value-XYZ")
    for value in values:
        assert value not in text and base64.b64encode(value.encode()).decode() not in text
    assert live.unified([live_secret], [live_secret]) == ""


def test_a_new_secret_is_masked_too():
    text = live.unified([], [secret(K="brand-new-XYZ")])
    assert "+  K: '***'\n" in text and "XYZ" not in text
