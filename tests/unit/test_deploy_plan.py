"""The deploy orchestrator without a cluster: the Plan it builds, the one apply it runs, and
what it does when the apply or the rollout fails. kustomize, sops, age, git and mkcert run
for real; only the kubectl calls that need a cluster are answered at the shell boundary."""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from opskit import clusters
from opskit.clusters.kwok import NEVER_READY_LABEL
from opskit.core import gitinfo, paths
from opskit.core.errors import OpsError
from opskit.deploy import pipeline, report, restore
from opskit.kube.ref import ObjectRef
from opskit.secrets import generate
from tests import fakes, overlays
from tests.unit.apiserver import ApiServer, documents
from tests.unit.conftest import needs_sops

pytestmark = needs_sops
ROOT = Path(__file__).resolve().parents[2]
LIVE_CONFIG = {
    "apiVersion": "v1",
    "kind": "ConfigMap",
    "metadata": {
        "name": "api-config",
        "namespace": "gitops-lab-dev",
        "uid": "u-1",
        "resourceVersion": "41",
        "creationTimestamp": "2026-01-01T00:00:00Z",
        "managedFields": [{"manager": "opskit"}],
        "annotations": {"kubectl.kubernetes.io/last-applied-configuration": "{}", "keep": "me"},
    },
    "data": {"POOL_SIZE": "5"},
}


@pytest.fixture
def project(secrets_project, monkeypatch):
    """A committed copy of k8s/ with dev secrets for this test's own age key."""
    cfg = secrets_project
    root = cfg.root
    shutil.copytree(ROOT / "k8s", root / "k8s")
    shutil.copy(ROOT / ".sops.yaml", root / ".sops.yaml")
    (root / ".tools").symlink_to(ROOT / ".tools")
    monkeypatch.setattr(paths, "root", lambda: root)
    monkeypatch.delenv("OPSKIT_STATE_DIR", raising=False)
    generate.init(cfg, cfg.overlay("dev"))
    env = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t"}
    env["GIT_COMMITTER_EMAIL"] = "t@t"
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    (root / ".gitignore").write_text(".opskit/\n.certs/\n.tools\n")
    subprocess.run(["git", "-C", str(root), "add", "-A"], check=True)
    subprocess.run(["git", "-C", str(root), "commit", "-qm", "test"], check=True)
    return cfg


def _verbs(calls):
    return [c[5] if "--kubeconfig" in c else c[1] for c in calls]


def test_plan_holds_every_rendered_object_the_private_docs_and_one_apply(project):
    dev = project.overlay("dev")
    target = clusters.connect(project, dev)
    lines: list[str] = []
    with fakes.recorder({"kubectl": ApiServer()}):
        plan = pipeline.build_plan(project, dev, target, False, lines.append)
    # the render is kept for the next deploy (a dry run keeps none: the test below)
    assert len(list((paths.state_dir() / "cache" / "render").iterdir())) == 1
    kinds = sorted({o["kind"] for o in plan.objects})
    assert kinds == [
        "ConfigMap",
        "CronJob",
        "Deployment",
        "Ingress",
        "Namespace",
        "NetworkPolicy",
        "Service",
        "StatefulSet",
    ]
    assert not any(o["kind"] == "Secret" for o in plan.objects)  # Secrets only in memory
    private = [yaml.safe_load(doc)["metadata"]["name"] for doc in plan.private]
    assert sorted(private) == [
        "api-secrets",
        "api-tls",
        "mqtt-passwd",
        "mqtt-tls",
        "postgres-credentials",
        "simulator-credentials",
        "telemetry-mqtt",
    ]
    assert plan.unserved == [
        f"ServiceMonitor/{name}: API monitoring.coreos.com/v1 not served by this cluster; "
        "install it with `invoke monitoring.install`"
        for name in ("api", "telemetry")
    ]
    assert lines == [f"warning: not applied: {u}" for u in plan.unserved]
    head = gitinfo.head(project.root)
    assert plan.image == f"{project.app.image}:{head[:12]}"
    step = plan.apply_step()
    assert step.argv == (
        *target.kube.argv(
            "apply",
            "--server-side",
            "--force-conflicts",
            "--field-manager=opskit",
            "--validate=false",
            "--output=json",
            "-f",
            "-",
        ),
    )
    assert step.mutates and step.stdin.count(b"\n---\n") >= len(plan.objects) + 1
    sent = [d for d in yaml.safe_load_all(step.stdin) if d]
    kinds = [d["kind"] for d in sent]
    # the Namespace, then the Secrets before any pod needs them, then the rest
    assert kinds[0] == "Namespace" and set(kinds[1 : 1 + len(private)]) == {"Secret"}
    assert kinds.count("Secret") == len(private) and len(sent) == len(plan.sent()) + len(private)


def test_dry_run_called_as_a_library_mutates_nothing_and_writes_nothing(project, capsys):
    cluster = ApiServer()
    with fakes.recorder({"kubectl": cluster}) as calls:
        done = pipeline.deploy(project, "dev", dry_run=True, notify=lambda _m: None)
    assert done == pipeline.Deployed({}, {})
    assert set(_verbs(calls)) - {"kustomize", "version"} == {"api-versions"}  # reads only
    assert "[dry-run] kubectl --kubeconfig " in capsys.readouterr().err
    assert not (paths.state_dir() / "cache").exists()  # no render cache
    assert not (paths.state_dir() / "locks").exists()
    assert not (project.root / ".certs").exists()  # no CA, no certificate for TLS or the broker


def test_rejected_apply_puts_back_what_existed_and_deletes_what_it_created(project):
    rejected = (1, "", 'Error from server (Invalid): Deployment.apps "api" is invalid: immutable')
    cluster = ApiServer([LIVE_CONFIG], refuse_next=rejected)  # an admission webhook
    lines: list[str] = []
    with fakes.recorder({"kubectl": cluster}) as calls, pytest.raises(OpsError) as caught:
        pipeline.deploy(project, "dev", notify=lines.append)
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith("apply to dev rejected by the API server: Error from server")
    verbs = [v for v in _verbs(calls) if v not in ("kustomize", "version", "api-versions")]
    assert verbs == ["get", "get", "apply", "apply", "delete"]  # snapshot, capture, ...
    restored = json.loads(cluster.stdin["apply"][1])["items"]
    assert restored == [
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {
                "name": "api-config",
                "namespace": "gitops-lab-dev",
                "annotations": {"keep": "me"},
            },
            "data": {"POOL_SIZE": "5"},
        }
    ]
    deleted = {f"{o['kind']}/{o['metadata']['name']}" for o in _items(cluster.stdin["delete"][0])}
    assert "Deployment/api" in deleted and "Secret/api-secrets" in deleted
    assert "Namespace/gitops-lab-dev" not in deleted  # never removed by an undo
    assert "ConfigMap/api-config" not in deleted  # it existed: restored instead
    assert any("restored 1 object(s)" in line for line in lines)


def _items(data: bytes) -> list[dict]:
    return json.loads(data)["items"]


def _never_ready(obj: dict) -> None:
    obj["spec"]["template"]["metadata"]["labels"][NEVER_READY_LABEL] = "true"


def test_failed_rollout_restores_and_waits_only_for_workloads_that_were_ready(project):
    """The real rollout logic against the fake API server: api's new pods never get Ready,
    so the deploy puts back api and redis (someone had broken redis live: it was not
    ready) as they were, and waits for api only."""
    server, lines = ApiServer(), []
    api = ObjectRef("Deployment", "gitops-lab-dev", "api")
    redis = ObjectRef("Deployment", "gitops-lab-dev", "redis")
    with fakes.recorder({"kubectl": server}):
        pipeline.deploy(project, "dev", notify=lambda _m: None)
        server.edit(redis, _never_ready)
        before = _as_stored(server.objects)
        overlays.patch_never_ready(project.root / "k8s/overlays/dev")
        subprocess.run(["git", "-C", str(project.root), "commit", "-qam", "never"], check=True)
        record = report.DeployRecord("dev")
        with pytest.raises(OpsError) as caught:
            pipeline.deploy(project, "dev", timeout=5, notify=lines.append, record=record)
    failed = [(r.workload, r.status, r.detail) for r in record.rollouts if r.status == "failed"]
    assert failed == [
        (
            "deployment/api",
            "failed",
            'deployment/api did not roll out: ReplicaSet "api" has timed out progressing.',
        )
    ]  # what `--report` writes of the failed rollout
    assert str(caught.value) == (
        'deploy to dev failed: deployment/api did not roll out: ReplicaSet "api" has timed out '
        "progressing.; restored the 37 object(s) it had changed or created; see the "
        "diagnostics above"
    )
    assert [line for line in lines if line.startswith("waiting for ")] == [
        "waiting for deployment/api, deployment/redis, deployment/telemetry (timeout 5s)",
        # after the put-back, the workloads that were ready: not redis
        "waiting for deployment/api, deployment/telemetry, statefulset/mosquitto, "
        "statefulset/postgres (timeout 120s)",
    ]
    assert next(line for line in lines if line.startswith("--- ")).splitlines() == [
        "--- diagnostics for deployment/api (namespace gitops-lab-dev)",
        "pod/api-0: Ready=False (ContainersNotReady)",  # api's pods only
        "pod/api-0 log: (no logs: empty)",
        "event: (none)",
    ]
    assert len(applied_names(server, -1)) == 37  # the put-back: every object of the plan
    assert _as_stored(server.objects) == before  # api and redis as they were
    assert server.read(api)["status"]["availableReplicas"] == 1
    assert server.read(redis)["status"]["availableReplicas"] == 0  # still broken: not ours


def test_the_deploy_record_holds_its_stages_its_commit_and_each_workloads_state(project):
    """What `--report` writes: the stages, the commit deployed, each workload's rollout
    (rolled out the first time, unchanged the second)."""
    first, second = report.DeployRecord("dev"), report.DeployRecord("dev")
    quiet = lambda _m: None  # noqa: E731
    with fakes.recorder({"kubectl": ApiServer()}):
        pipeline.deploy(project, "dev", notify=quiet, record=first)
        pipeline.deploy(project, "dev", notify=quiet, record=second)
    head = gitinfo.head(project.root)
    assert [c.name for c in first.checks] == ["plan", "served APIs", "apply"]
    assert [c.name for c in second.checks] == ["plan", "served APIs"]  # nothing to send
    for record in (first, second):
        assert all(c.ok for c in record.checks) and record.commit == head
    workloads = [
        "deployment/api",
        "deployment/redis",
        "deployment/telemetry",
        "statefulset/mosquitto",
        "statefulset/postgres",
    ]
    assert sorted(r.workload for r in first.rollouts) == workloads
    assert {r.status for r in first.rollouts} == {"rolled-out"}
    assert len(first.objects) == 37 and {o.result for o in first.objects} == {"applied"}
    assert sorted(r.workload for r in second.rollouts) == workloads
    assert {r.status for r in second.rollouts} == {"unchanged"}


def test_a_dirty_tree_deploys_only_when_allowed_with_a_dirty_tag(project):
    (project.root / "notes.txt").write_text("wip\n")
    server = ApiServer()
    with fakes.recorder({"kubectl": server}):
        with pytest.raises(OpsError, match=r"working tree has uncommitted changes \(notes.txt\)"):
            pipeline.deploy(project, "dev", notify=lambda _m: None)
        assert not server.stdin.get("apply")  # nothing applied
        record = report.DeployRecord("dev")
        pipeline.deploy(project, "dev", allow_dirty=True, notify=lambda _m: None, record=record)
        pipeline.deploy(project, "dev", allow_dirty=True, dry_run=True, notify=lambda _m: None)
        server.stdin.clear()
        guarded = dataclasses.replace(project.overlays["dev"], protected=True)
        cfg = dataclasses.replace(project, overlays={**project.overlays, "dev": guarded})
        with pytest.raises(OpsError) as refused:  # a protected overlay takes commits only
            pipeline.deploy(cfg, "dev", allow_dirty=True, notify=lambda _m: None)
        assert not server.stdin.get("apply")
    assert "-dirty-" in record.image
    assert refused.value.message == "deploy to dev refuses a dirty working tree (notes.txt)"


def test_a_deploy_goes_to_the_context_asked_for_if_the_overlay_allows_it(project):
    dev = dataclasses.replace(project.overlays["dev"], contexts=("gitops-lab",))
    cfg = dataclasses.replace(project, overlays={**project.overlays, "dev": dev})
    record, quiet = report.DeployRecord("dev"), (lambda _m: None)
    with fakes.recorder({"kubectl": ApiServer()}) as calls:
        with pytest.raises(OpsError, match="'kwok-gitops-lab' is not allowed for overlay dev"):
            pipeline.deploy(cfg, "dev", context="kwok-gitops-lab", notify=quiet)  # prod's
        pipeline.deploy(cfg, "dev", context="gitops-lab", dry_run=True, notify=quiet, record=record)
    contexts = {c[4] for c in calls if c[0] == "kubectl" and "--kubeconfig" in c}
    assert contexts == {"gitops-lab"}
    assert [c.name for c in record.checks] == ["plan", "served APIs"]


def test_outcomes_tell_changed_unchanged_and_created_from_the_apply_output():
    before = restore.Before(previous=(restore._as_applied(LIVE_CONFIG),), created=())
    same = dict(LIVE_CONFIG, metadata={**LIVE_CONFIG["metadata"], "resourceVersion": "42"})
    changed = dict(LIVE_CONFIG, data={"POOL_SIZE": "6"})
    new = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "api", "namespace": "x"}}

    def output(*items):
        return json.dumps({"kind": "List", "items": list(items)})

    assert restore.outcomes(before, output(same, new)) == {
        "ConfigMap/api-config": "unchanged",  # server-set metadata does not count
        "Service/api": "created",
    }
    assert restore.outcomes(before, output(changed)) == {"ConfigMap/api-config": "changed"}
    assert restore.outcomes(before, "") == restore.outcomes(before, "{}") == {}


def applied_names(server: ApiServer, index: int) -> list[str]:
    docs = documents(server.stdin["apply"][index])
    return sorted(f"{d['kind']}/{d['metadata']['name']}" for d in docs)


def test_a_redeploy_sends_only_what_changed_since_the_last_one(project, monkeypatch):
    from opskit.secrets import sops

    server, quiet, calls = ApiServer(), (lambda _m: None), []
    real_sops = sops.run_sops

    def counted(cfg, *args, **kwargs):  # sops runs for real; the test counts its decrypts
        calls.append(("sops", *args))
        return real_sops(cfg, *args, **kwargs)

    monkeypatch.setattr(sops, "run_sops", counted)
    with fakes.recorder({"kubectl": server}):
        done = pipeline.deploy(project, "dev", notify=quiet)
        assert done.rolled_out == (
            "deployment/api",
            "deployment/redis",
            "deployment/telemetry",
            "statefulset/mosquitto",
            "statefulset/postgres",
        )
        assert (paths.state_dir() / "cache" / "valid").is_dir()  # the validation pass, kept
        first = len(applied_names(server, 0))
        decrypts = sum(1 for c in calls if c[0] == "sops")
        assert first == 37 and decrypts == 5  # everything, every Secret decrypted
        record = (paths.state_dir() / "applied").rglob("dev.json")
        text = next(record).read_text()
        docs = [d for d in yaml.safe_load_all(server.stdin["apply"][0]) if d]
        secret = next(d for d in docs if d["metadata"]["name"] == "postgres-credentials")
        assert all(str(v) not in text for v in secret["stringData"].values())  # digests only

        lines: list[str] = []
        pipeline.deploy(project, "dev", notify=lines.append)  # nothing changed
        assert len(server.stdin["apply"]) == 1, applied_names(server, 1)
        assert sum(c[0] == "sops" for c in calls) == decrypts
        assert any("37 unchanged since the last deploy, not sent" in line for line in lines)

        key = ObjectRef("ConfigMap", "gitops-lab-dev", "api-config")
        server.objects[key]["metadata"]["resourceVersion"] = "edited"  # someone changed it
        secret_key = ObjectRef("Secret", "gitops-lab-dev", "api-secrets")
        server.objects[secret_key]["metadata"]["resourceVersion"] = "edited-too"
        pipeline.deploy(project, "dev", notify=quiet)
        assert applied_names(server, 1) == ["ConfigMap/api-config", "Secret/api-secrets"]
        assert sum(c[0] == "sops" for c in calls) == decrypts + 1  # only that Secret's file

        server.refuse_next = (1, "", "Error from server (Invalid): rejected")
        server.objects[key]["metadata"]["resourceVersion"] = "edited-again"
        with pytest.raises(OpsError):
            pipeline.deploy(project, "dev", notify=quiet)
        # a failed deploy forgets (the record of this project's cluster, whatever its context)
        assert not list((paths.state_dir() / "applied").rglob("dev.json"))
        pipeline.deploy(project, "dev", notify=quiet)
        assert len(applied_names(server, len(server.stdin["apply"]) - 1)) == 37  # all again


def test_objects_that_passed_validation_are_not_validated_again(project, monkeypatch):
    from opskit.manifests import validate, validcache

    dev = project.overlay("dev")
    objects = pipeline.kustomize.render_overlay(project, dev, tag="0123456789ab")
    pipeline._validate(project, dev, objects, keep=False)  # a dry run: nothing kept
    assert not (paths.state_dir() / "cache" / "valid").exists()
    pipeline._validate(project, dev, objects)
    assert validcache.known(validcache.key(project, dev, objects))
    calls = []
    monkeypatch.setattr(validate, "validate_objects", lambda *a: calls.append(a) or [])
    pipeline._validate(project, dev, objects)
    assert calls == []  # the same objects: the pass is known
    objects[0]["metadata"]["labels"] = {"bad label": "x"}
    pipeline._validate(project, dev, objects)
    assert len(calls) == 1  # anything different is validated again
    monkeypatch.undo()
    with pytest.raises(OpsError, match="validation problem"):
        pipeline._validate(project, dev, objects)  # and a failure is never kept
    with pytest.raises(OpsError, match="validation problem"):
        pipeline._validate(project, dev, objects)


def _as_stored(objects: dict) -> dict:
    """What a client set, without what the server sets (resourceVersion changes on a put-back)."""
    drop = ("resourceVersion", "generation")
    return {
        key: {**obj, "metadata": {k: v for k, v in obj["metadata"].items() if k not in drop}}
        for key, obj in objects.items()
    }


def test_an_apply_rejected_half_way_leaves_every_object_as_it_was(project):
    """The server takes the objects before the Deployment whose selector changed (immutable)
    and rejects it: the deploy puts back the ones it took, as they were."""
    server, quiet = ApiServer(), (lambda _m: None)
    root = project.root
    with fakes.recorder({"kubectl": server}):
        pipeline.deploy(project, "dev", notify=quiet)
        before = _as_stored(server.objects)
        config = root / "k8s/overlays/dev/api-config.yaml"
        config.write_text(config.read_text().replace('POOL_SIZE: "5"', 'POOL_SIZE: "99"'))
        kustomization = root / "k8s/overlays/dev/kustomization.yaml"
        data = yaml.safe_load(kustomization.read_text())
        label = {"opskit.dev/track": "canary"}  # selector and template agree: valid offline
        patch = {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "api"},
            "spec": {
                "selector": {"matchLabels": label},
                "template": {"metadata": {"labels": label}},
            },
        }
        data.setdefault("patches", []).append({"patch": yaml.safe_dump(patch)})
        kustomization.write_text(yaml.safe_dump(data, sort_keys=False))
        subprocess.run(["git", "-C", str(root), "commit", "-qam", "canary"], check=True)
        with pytest.raises(OpsError) as caught:
            pipeline.deploy(project, "dev", notify=quiet)
    assert "rejected by the API server" in str(caught.value)
    assert "field is immutable" in str(caught.value)
    taken = [d["metadata"]["name"] for d in yaml.safe_load_all(server.stdin["apply"][1]) if d]
    assert "api-config" in taken  # the server had taken the new ConfigMap before the reject
    assert _as_stored(server.objects) == before
    key = ObjectRef("ConfigMap", "gitops-lab-dev", "api-config")
    assert server.objects[key]["data"]["POOL_SIZE"] == "5"


NEW_OBJECTS = """\
apiVersion: v1
kind: ConfigMap
metadata: {name: extra, labels: {app.kubernetes.io/name: api}}
data: {A: "1"}
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: held
  labels: {app.kubernetes.io/name: api}
  finalizers: [example.com/hold]
data: {A: "1"}
---
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: scratch, labels: {app.kubernetes.io/name: api}}
spec: {accessModes: [ReadWriteOnce], resources: {requests: {storage: 1Gi}}}
"""


def test_a_rejected_apply_deletes_what_it_had_created_but_keeps_data(project):
    """The deploy adds two ConfigMaps and a PVC and changes api's selector (immutable): the
    server takes the new objects before it rejects api. The put-back deletes the ConfigMaps
    (without waiting for the one a finalizer holds) and keeps the PVC: it holds data."""
    server, lines = ApiServer(), []
    root = project.root
    new = [ObjectRef("ConfigMap", "gitops-lab-dev", n) for n in ("extra", "held")]
    claim = ObjectRef("PersistentVolumeClaim", "gitops-lab-dev", "scratch")
    with fakes.recorder({"kubectl": server}):
        pipeline.deploy(project, "dev", notify=lambda _m: None)
        before = _as_stored(server.objects)
        (root / "k8s/overlays/dev/new.yaml").write_text(NEW_OBJECTS)
        kustomization = root / "k8s/overlays/dev/kustomization.yaml"
        data = yaml.safe_load(kustomization.read_text())
        data["resources"].append("new.yaml")
        label = {"opskit.dev/track": "canary"}
        patch = {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "api"},
            "spec": {
                "selector": {"matchLabels": label},
                "template": {"metadata": {"labels": label}},
            },
        }
        data.setdefault("patches", []).append({"patch": yaml.safe_dump(patch)})
        kustomization.write_text(yaml.safe_dump(data, sort_keys=False))
        subprocess.run(["git", "-C", str(root), "add", "-A"], check=True)
        subprocess.run(["git", "-C", str(root), "commit", "-qm", "new objects"], check=True)
        with pytest.raises(OpsError) as caught:
            pipeline.deploy(project, "dev", notify=lines.append)
    taken = [d["metadata"]["name"] for d in documents(server.stdin["apply"][1])]
    assert {"extra", "held", "scratch"} <= set(taken)  # the server had taken them
    said = "the API server rejected the apply: "
    reason = next(line for line in lines if line.startswith(said)).removeprefix(said)
    assert "field is immutable" in reason
    restored = len(before)
    assert str(caught.value) == (
        f"apply to dev rejected by the API server: {reason}; restored the {restored + 2} "
        "object(s) of the plan as they were; fix the object named above and deploy again"
    )
    assert f"restored {restored} object(s) as they were before this deploy" in lines
    assert "deleted 2 object(s) this deploy had created: ConfigMap/extra, ConfigMap/held" in lines
    assert new[0] not in server.objects
    assert server.objects[new[1]]["metadata"]["deletionTimestamp"]  # deleted, held
    assert claim in server.objects  # created by the deploy, kept
    del server.objects[new[1]], server.objects[claim]
    assert _as_stored(server.objects) == before


def test_a_dry_run_on_a_container_cluster_prints_the_image_build_and_load(project, capsys):
    cluster = dataclasses.replace(project.cluster, provider="k3d")
    cfg = dataclasses.replace(project, cluster=cluster)
    docker = {"inspect": (1, "", "No such image")}  # a build or a load is not answered
    fake = {
        "kubectl": ApiServer(),
        "docker": lambda argv, _stdin: docker[argv[2]],
        "k3d": lambda argv, _stdin: pytest.fail(f"ran {argv}"),
    }
    with fakes.recorder(fake) as calls:
        assert pipeline.deploy(cfg, "dev", dry_run=True, notify=lambda _m: None).objects == {}
    looked = [c for c in calls if c[0] == "docker"]
    assert looked and all(c[1:3] == ("image", "inspect") for c in looked)  # reads only
    err = capsys.readouterr().err
    assert "[dry-run] docker build " in err and "[dry-run] k3d image import " in err


def _images_at_head(cfg) -> list[str]:
    """Each project image at the tag of the commit deployed (HEAD), as `repository:tag`."""
    tag = gitinfo.head(cfg.root)[: cfg.app.tag_length]
    return [f"{image.repository}:{tag}" for image in cfg.images.values()]


def _docker_without_images(built: list[str], revisions: list[str]):
    """docker on a machine with none of the project's images and no daemon to ask (`info`:
    provider auto finds no Docker); each build's tag and REVISION build-arg recorded."""

    def docker(argv, _stdin):
        if argv[1] == "info":
            return 1, "", "Cannot connect to the Docker daemon"
        if argv[1:3] == ("image", "inspect"):
            return 1, "", "Error: No such image"
        assert argv[1] == "build", argv
        built.append(argv[argv.index("--tag") + 1])
        revisions.append(argv[argv.index("--build-arg") + 1])
        return 0, "", ""

    return docker


def test_a_deploy_to_a_container_cluster_builds_the_missing_images_and_loads_them(project, capsys):
    """Docker and k3d do not run here: answered at the shell boundary, their argv checked."""
    cluster = dataclasses.replace(project.cluster, provider="k3d")
    cfg = dataclasses.replace(project, cluster=cluster)
    built, loaded, revisions = [], [], []
    docker = _docker_without_images(built, revisions)

    def k3d(argv, _stdin):
        assert argv[1:3] == ("image", "import") and argv[4:] == ("--cluster", "gitops-lab"), argv
        loaded.append(argv[3])
        return 0, "", ""

    with fakes.recorder({"kubectl": ApiServer(), "docker": docker, "k3d": k3d}):
        pipeline.deploy(cfg, "dev", notify=lambda _m: None)
    assert built and built == loaded  # each image built, then loaded into the cluster
    assert built == _images_at_head(cfg)  # each image of the project at the commit deployed
    assert revisions == [f"REVISION={gitinfo.head(cfg.root)}"] * len(built)  # says its commit
    assert "[dry-run]" not in capsys.readouterr().err


def test_preflight_holds_a_context_to_the_overlays_allow_list(project):
    with pytest.raises(OpsError) as caught:
        pipeline.preflight(project, project.overlay("dev"), "someone-elses-prod")
    assert caught.value.message == (
        "kube context 'someone-elses-prod' is not allowed for overlay dev "
        "(allowed: kwok-gitops-lab, k3d-gitops-lab, gitops-lab)"
    )


def test_the_secrets_of_an_unchanged_overlay_are_decrypted_once(project, monkeypatch):
    from opskit.secrets import sops

    dev, runs = project.overlay("dev"), []
    real_sops = sops.run_sops
    monkeypatch.setattr(sops, "run_sops", lambda *a, **k: runs.append(a) or real_sops(*a, **k))
    first = sops.decrypted_secrets(project, dev)
    decrypts = len(runs)
    assert decrypts == len(sops.secret_files(dev))
    assert sops.decrypted_secrets(project, dev) == first and len(runs) == decrypts
    # ... until the user's key changes: its file rewritten, or a key given in SOPS_AGE_KEY
    key = sops.key_file()
    stat = key.stat()
    os.utime(key, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
    assert sops.decrypted_secrets(project, dev) == first and len(runs) == 2 * decrypts
    monkeypatch.setenv("SOPS_AGE_KEY", key.read_text())
    assert sops.decrypted_secrets(project, dev) == first and len(runs) == 3 * decrypts
    assert sops.decrypted_secrets(project, dev) == first and len(runs) == 3 * decrypts


def test_a_dry_run_on_the_real_node_names_each_image_it_would_ship_and_the_local_volumes(
    project, monkeypatch, capsys
):
    """The embedded cluster with a real node: the one thing replaced is whether its daemons
    run (`has_real_node`); buildah answers for real, kubectl at the shell boundary, and ctr
    must not run at all (a dry run)."""
    from opskit.clusters.kwok import KwokCluster
    from opskit.images import embedded

    monkeypatch.setattr(KwokCluster, "has_real_node", lambda _self: True)
    monkeypatch.setattr(KwokCluster, "image_loaded", lambda _self, _image: False)
    notes: list[str] = []
    server = ApiServer()
    fake = {"kubectl": server, "ctr": lambda argv, _stdin: pytest.fail(f"ran {argv}")}
    with fakes.recorder(fake):
        deployed = pipeline.deploy(project, "dev", dry_run=True, notify=notes.append)
    assert deployed.objects == {}
    shipped = sorted(n.split()[2] for n in notes if n.startswith("would build "))
    head = gitinfo.head(project.root)[:12]
    telemetry = f"{project.images['telemetry'].repository}:{head}"
    assert telemetry in shipped and len(shipped) >= 4  # telemetry and the stand-ins
    standins = {s.split(":")[0] for s in shipped if s != telemetry}  # the cluster's component
    assert standins == {
        f"localhost/gitops-lab/{n}-standin" for n in ("mosquitto", "postgres", "redis")
    }
    assert not any(s.startswith(f"{project.app.image}:") for s in shipped)  # the api: simulated
    assert f"{project.app.name}: {embedded.API_STAYS_SIMULATED}" in notes
    err = capsys.readouterr().err
    imports = [line for line in err.splitlines() if " images import " in line]
    assert len(imports) == len(shipped) and all(i.startswith("[dry-run] ctr ") for i in imports)
    volumes = [n for n in notes if n.startswith("local volumes on ")]
    assert len(volumes) == 1 and volumes[0].endswith(" for: data-mosquitto-0, data-postgres-0")
    assert not server.objects  # the volumes too were only printed: nothing applied
    assert not list(project.root.glob(".opskit/clusters/*/node/volumes"))  # nor made
    plan = [n for n in notes if n.startswith("plan: ")]
    assert len(plan) == 1 and plan[0].endswith("namespace gitops-lab-dev")  # nothing unchanged


def test_a_deploy_waits_only_for_a_deploy_of_its_own_overlay_to_its_own_cluster(project):
    """The deploy lock's scope: one deploy per overlay and cluster. Another process holding
    the lock of the same overlay and cluster refuses this deploy once its wait is over (with
    nothing applied); the locks of another overlay or another cluster do not hold it."""
    import fcntl
    import os

    from opskit.core import lock

    context = clusters.connect(project, project.overlay("dev")).context

    def held(name_context: str, overlay: str) -> int:
        path = lock.deploy_lock(name_context, overlay)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        os.write(fd, b"4242\n")
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # as another process holds it
        return fd

    others = [held(context, "prod"), held("someone-elses-cluster", "dev")]
    server = ApiServer()
    try:
        with fakes.recorder({"kubectl": server}):
            assert pipeline.deploy(project, "dev", timeout=60, notify=lambda _m: None).objects
        server.objects.clear()
        mine, said = held(context, "dev"), []
        try:
            with fakes.recorder({"kubectl": server}), pytest.raises(OpsError) as caught:
                pipeline.deploy(project, "dev", timeout=0.5, notify=said.append)
        finally:
            os.close(mine)
    finally:
        for fd in others:
            os.close(fd)
    assert caught.value.message.startswith("a deploy to dev is already running (pid 4242, lock ")
    assert said == [
        "a deploy to dev is running in pid 4242; waiting up to 0.5s"
    ]  # the wait is told
    assert not server.objects  # refused before anything was sent


def test_a_deploy_reads_its_workloads_again_until_their_slow_controllers_made_them_ready(
    project,
):
    """Controllers take a while: the deploy polls the overlay's namespace until each workload
    it changed is ready; a redeploy that changes nothing still waits for a workload that is
    not ready (its pods restarting) instead of saying nothing changed."""
    server, lines = ApiServer(rollout_reads=2), []
    listing = ("get", "deployments,statefulsets,controllerrevisions", "-n", "gitops-lab-dev")
    with fakes.recorder({"kubectl": server}) as calls:
        done = pipeline.deploy(project, "dev", notify=lines.append, timeout=5)
        assert len(done.rolled_out) == 5
        assert sum(c[5:9] == listing for c in calls) >= 3  # the plan's read, then the wait's
        server.lag(ObjectRef("Deployment", "gitops-lab-dev", "redis"), 2)
        lines.clear()
        pipeline.deploy(project, "dev", notify=lines.append, timeout=5)
    assert any(line.startswith("waiting for deployment/redis") for line in lines), lines
    assert any(line.startswith("deployment/redis rolled out in") for line in lines), lines
    assert not any("nothing changed" in line for line in lines)


def test_an_image_already_built_at_the_commit_is_loaded_not_built_again(project):
    cluster = dataclasses.replace(project.cluster, provider="k3d")
    cfg = dataclasses.replace(project, cluster=cluster)
    present = set(_images_at_head(cfg))

    def docker(argv, _stdin):
        assert argv[1:3] == ("image", "inspect"), argv  # a build would fail the test here
        return (0, "sha256:1\n", "") if argv[-1] in present else (1, "", "Error: No such image")

    loaded = []

    def k3d(argv, _stdin):
        loaded.append(argv[3])
        return 0, "", ""

    with fakes.recorder({"kubectl": ApiServer(), "docker": docker, "k3d": k3d}):
        pipeline.deploy(cfg, "dev", notify=lambda _m: None)
    assert sorted(loaded) == sorted(present)


def test_a_deploy_to_a_cluster_the_suite_did_not_start_builds_every_image_for_its_registry(
    project,
):
    """Nothing is loaded into such a cluster (it pulls from its registry), and each missing
    image is still built, not just the first."""
    dev = dataclasses.replace(project.overlays["dev"], contexts=("gitops-lab",))
    cfg = dataclasses.replace(project, overlays={**project.overlays, "dev": dev})
    built, lines = [], []
    docker = _docker_without_images(built, [])
    fake = {"kubectl": ApiServer(), "docker": docker, "k3d": lambda a, _s: pytest.fail(f"{a}")}
    with fakes.recorder(fake):
        pipeline.deploy(cfg, "dev", context="gitops-lab", notify=lines.append)
    assert built == _images_at_head(cfg)
    pulls = [line for line in lines if "from its registry" in line]
    assert pulls == [
        f"gitops-lab pulls {ref} from its registry (`invoke image.push`)" for ref in built
    ]


def test_a_redeploy_that_sends_nothing_reports_each_object_unchanged_and_nothing_else(project):
    with fakes.recorder({"kubectl": ApiServer()}):
        first = pipeline.deploy(project, "dev", notify=lambda _m: None)
        again = pipeline.deploy(project, "dev", notify=lambda _m: None)
    assert again.objects == dict.fromkeys(first.objects, "unchanged")
    assert len(again.objects) == 37


@pytest.mark.parametrize("missing", ["git", "kubectl", "sops"])
def test_a_deploy_without_one_of_its_tools_stops_before_it_reads_or_renders_anything(
    project, tmp_path, monkeypatch, missing
):
    """The deploy's preflight: each tool it runs (git for the tag, kubectl, sops) is looked
    for first, so a machine without one gets the one-line error with its install hint before
    any git, render or cluster read, not halfway through the plan."""
    from opskit.core import tools
    from opskit.core.errors import ToolMissing

    found = {name: tools.which(name) for name in ("git", "kubectl", "sops", "age", "age-keygen")}
    assert all(found.values()), found  # the project installs them all (tools.install, bootstrap)
    path = tmp_path / "bin"
    path.mkdir()
    for name, exe in found.items():
        if name != missing:
            (path / name).symlink_to(exe)
    monkeypatch.setattr(tools, "tools_bin", lambda: tmp_path / "no-tools-bin")
    monkeypatch.setenv("PATH", str(path))
    server = ApiServer()
    with fakes.recorder({"kubectl": server}) as calls, pytest.raises(ToolMissing) as caught:
        pipeline.deploy(project, "dev", timeout=5, notify=lambda _m: None)
    assert caught.value.message == f"`{missing}` not found"
    assert caught.value.hint == tools.install_hint(missing)
    assert calls == [] and not server.objects  # nothing read, rendered or applied


def test_an_overlay_without_ingress_or_broker_gets_neither_tls_secret(project):
    """The TLS Secrets go with what uses them: the Ingress's (`api-tls`) only when the
    overlay renders an Ingress, the broker's (`mqtt-tls`) only with the mqtt component."""
    kustomization = project.root / "k8s/overlays/dev/kustomization.yaml"
    text = kustomization.read_text()
    for component in ("tls-ingress", "mqtt"):
        text = text.replace(f"  - ../../components/{component}\n", "")
    kustomization.write_text(text)
    subprocess.run(["git", "-C", str(project.root), "commit", "-qam", "no ingress"], check=True)
    with fakes.recorder({"kubectl": ApiServer()}):
        done = pipeline.deploy(project, "dev", timeout=5, notify=lambda _m: None)
    assert "Deployment/api" in done.objects and "Ingress/api" not in done.objects
    assert not {"Secret/api-tls", "Secret/mqtt-tls"} & set(done.objects), done.objects


def test_a_deploy_whose_decrypted_secret_breaks_the_schema_sends_nothing(project):
    """The decrypted Secrets pass the same strict schema as the rendered objects, in the
    plan: one that does not stops the deploy before anything is applied."""
    broken = (
        "apiVersion: v1\nkind: Secret\nmetadata: {name: broken, namespace: gitops-lab-dev}\n"
        "stringData: {TOKEN: not-shown}\nbogus: field\n"
    )
    refused = _deploy_refused_with_secret(project, "broken", broken)
    lines = refused.message.splitlines()
    assert lines[0] == "dev: 1 problem(s) in decrypted Secrets, nothing applied:"
    assert "bogus" in lines[1] and "not-shown" not in refused.message


def _deploy_refused_with_secret(project, name: str, manifest: str) -> OpsError:
    """Commit `manifest` as the dev Secret file `name`, deploy: the refusal, nothing sent."""
    from opskit.secrets import sops

    sops.encrypt(project, sops.secret_path(project.overlay("dev"), name), manifest)
    subprocess.run(["git", "-C", str(project.root), "add", "-A"], check=True)
    subprocess.run(["git", "-C", str(project.root), "commit", "-qm", name], check=True)
    server = ApiServer()
    with fakes.recorder({"kubectl": server}), pytest.raises(OpsError) as caught:
        pipeline.deploy(project, "dev", timeout=5, notify=lambda _m: None)
    assert not server.objects and not server.stdin.get("apply")
    return caught.value


@pytest.mark.parametrize("namespace", [None, "default"])
def test_a_decrypted_secret_outside_the_overlays_namespace_is_refused(project, namespace):
    """kustomize does not render the Secrets, so nothing sets their namespace: one without
    (which the apply would write into the context's default namespace) or with another
    stops the deploy in its plan, in one line, before anything is sent."""
    meta = {"name": "stray", **({"namespace": namespace} if namespace else {})}
    stray = yaml.safe_dump(
        {"apiVersion": "v1", "kind": "Secret", "metadata": meta, "stringData": {"K": "v"}}
    )
    refused = _deploy_refused_with_secret(project, "stray", stray)
    where = f"is {namespace}" if namespace else "is not set"
    assert refused.message.splitlines()[1:] == [
        f"dev/Secret/stray: metadata.namespace: {where}; a Secret of dev names gitops-lab-dev"
    ]


def test_a_secret_file_changed_in_git_is_sent_again_though_the_cluster_did_not_move(project):
    """A Secret's fingerprint is its encrypted file's: a new value committed (re-encrypted)
    is sent by the next deploy, the only Secret sent, though its live resourceVersion has
    not moved."""
    from opskit.secrets import sops

    dev = project.overlay("dev")
    path = sops.secret_files(dev)[0]
    server = ApiServer()
    with fakes.recorder({"kubectl": server}):
        pipeline.deploy(project, "dev", notify=lambda _m: None)
        doc = yaml.safe_load(sops.decrypt(project, dev, path))
        doc.setdefault("stringData", {})["ADDED"] = "a new value"
        sops.encrypt(project, path, yaml.safe_dump(doc))
        subprocess.run(["git", "-C", str(project.root), "commit", "-qam", "new value"], check=True)
        pipeline.deploy(project, "dev", notify=lambda _m: None)
    secrets = [n for n in applied_names(server, 1) if n.startswith("Secret/")]
    assert secrets == [f"Secret/{doc['metadata']['name']}"]  # (the commit moved the image tags)


def test_a_renewed_certificate_is_sent_again_and_alone(project):
    """A TLS Secret's fingerprint is the certificate's: reissued (`certs.issue --force`,
    or renewed near its expiry), it is the one object the next deploy sends."""
    from opskit.secrets import certs

    server = ApiServer()
    with fakes.recorder({"kubectl": server}):
        pipeline.deploy(project, "dev", notify=lambda _m: None)
        certs.issue(project, project.overlay("dev"), force=True)
        pipeline.deploy(project, "dev", notify=lambda _m: None)
    assert applied_names(server, 1) == ["Secret/api-tls"]


def test_an_overlay_without_any_secret_file_is_refused_before_anything_is_sent(project):
    """Its pods would wait for Secrets that never come: the plan stops with the command
    that makes them."""
    folder = project.root / "k8s/overlays/dev/secrets"
    subprocess.run(["git", "-C", str(project.root), "rm", "-rq", str(folder)], check=True)
    subprocess.run(["git", "-C", str(project.root), "commit", "-qm", "no secrets"], check=True)
    server = ApiServer()
    with fakes.recorder({"kubectl": server}), pytest.raises(OpsError) as caught:
        pipeline.deploy(project, "dev", timeout=5, notify=lambda _m: None)
    assert caught.value.message == (
        "overlay 'dev' has no encrypted Secrets in k8s/overlays/dev/secrets"
    )
    assert caught.value.hint == "run `invoke secrets.init --overlay dev`"
    assert not server.objects and not server.stdin.get("apply")
