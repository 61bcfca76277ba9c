"""Reading workload state from kubectl JSON (the live behaviour is covered in tests/e2e)."""

from opskit.kube import rollout


def _deployment(generation=2, observed=2, replicas=2, updated=2, available=2, revision="3"):
    return {
        "kind": "Deployment",
        "metadata": {
            "name": "api",
            "generation": generation,
            "annotations": {rollout.REVISION: revision},
        },
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": "api"}},
            "template": {"spec": {"containers": [{"image": "r/api:abc"}]}},
        },
        "status": {
            "observedGeneration": observed,
            "updatedReplicas": updated,
            "availableReplicas": available,
            "replicas": replicas,
        },
    }


def _statefulset(current="pg-1", update="pg-1", ready=1):
    return {
        "kind": "StatefulSet",
        "metadata": {"name": "postgres", "generation": 1},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": {"app": "pg"}},
            "template": {"spec": {"containers": [{"image": "postgres:16"}]}},
        },
        "status": {
            "observedGeneration": 1,
            "readyReplicas": ready,
            "currentRevision": current,
            "updateRevision": update,
        },
    }


def test_ready_deployment():
    w = rollout._workload(_deployment(), {})
    assert (w.ref.resource, w.revision, w.ready, w.images) == (
        "deployment/api",
        3,
        True,
        ("r/api:abc",),
    )
    assert w.selector == (("app", "api"),)


def test_deployment_not_ready_while_updating_or_unobserved():
    assert not rollout._workload(_deployment(available=1), {}).ready
    assert not rollout._workload(_deployment(observed=1), {}).ready


def test_statefulset_revision_and_readiness():
    w = rollout._workload(_statefulset(), {"pg-1": 4})
    assert (w.ref.resource, w.revision, w.ready) == ("statefulset/postgres", 4, True)
    assert not rollout._workload(_statefulset(update="pg-2"), {"pg-2": 5}).ready


def test_changed_lists_new_and_regenerated_workloads():
    old = rollout._workload(_deployment(generation=2), {})
    same = rollout._workload(_deployment(generation=2), {})
    bumped = rollout._workload(_deployment(generation=3, observed=2), {})
    pg = rollout._workload(_statefulset(), {"pg-1": 1})
    assert rollout.changed({old.ref: old}, {same.ref: same}) == []
    assert rollout.changed({old.ref: old}, {bumped.ref: bumped, pg.ref: pg}) == [bumped, pg]


def test_progress_and_stalled_rollout_are_read_from_status():
    item = _deployment(available=1)
    w = rollout._workload(item, {})
    assert (w.ready, w.progress, w.stalled) == (False, "updated 2/2, available 1/2", "")
    item["status"]["conditions"] = [
        {
            "type": "Progressing",
            "status": "False",
            "reason": "ProgressDeadlineExceeded",
            "message": 'ReplicaSet "api-1" has timed out progressing.',
        }
    ]
    assert rollout._workload(item, {}).stalled == 'ReplicaSet "api-1" has timed out progressing.'


def test_old_pods_still_terminating_is_not_ready():
    item = _deployment()
    item["status"].update(replicas=3, unavailableReplicas=1)  # an old pod has not gone yet
    workload = rollout._workload(item, {})
    assert not workload.ready
    assert workload.progress == "updated 2/2, available 2/2, 1 unavailable, 1 old"


def test_unchanged_reads_the_apply_output():
    import json

    api = rollout._workload(_deployment(), {})
    applied = {"kind": "List", "items": [_deployment(), {"kind": "Service", "metadata": {}}]}
    assert rollout.unchanged({api.ref: api}, json.dumps(applied)) == {api.ref: api}
    bumped = {"kind": "List", "items": [_deployment(generation=3)]}
    assert rollout.unchanged({api.ref: api}, json.dumps(bumped)) is None
    assert rollout.unchanged({}, json.dumps(applied)) is None  # new workload
    slow = rollout._workload(_deployment(available=1), {})
    assert rollout.unchanged({slow.ref: slow}, json.dumps(applied)) is None  # not ready before
