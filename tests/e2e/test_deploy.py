"""`invoke deploy --overlay=dev` end to end on the kwok cluster, the way a user runs it."""

from __future__ import annotations

import json
import time

import pytest
import yaml

from tests.e2e.project import Project, make_project

NAMESPACE = "gitops-lab-dev"


@pytest.fixture(scope="module")
def project(tmp_path_factory, kwok_cluster) -> Project:
    return make_project(tmp_path_factory.mktemp("deploy") / "repo", kwok_cluster.name)


def _workloads(kube) -> dict[str, dict]:
    items = kube.json("get", "deployments,statefulsets", "-n", NAMESPACE)["items"]
    return {f"{i['kind'].lower()}/{i['metadata']['name']}": i for i in items}


def _api(kube) -> dict:
    return _workloads(kube)["deployment/api"]


def test_first_deploy_rolls_out_every_workload(project, kube):
    head = project.git("rev-parse", "HEAD")[:12]
    result = project.invoke("deploy", "--overlay=dev", "--timeout=120")
    err = result.stderr.decode()
    workloads = _workloads(kube)
    assert {"deployment/api", "deployment/redis", "statefulset/postgres"} <= set(workloads)
    for ref in workloads:
        assert f"{ref} rolled out" in err
        kube.run("rollout", "status", ref, "-n", NAMESPACE, "--timeout=5s")
    image = workloads["deployment/api"]["spec"]["template"]["spec"]["containers"][0]["image"]
    assert image == f"localhost:5000/gitops-lab/api:{head}"
    assert f"running: deployment/api revision 1 image {image}" in err
    secret = kube.json("get", "secret", "api-secrets", "-n", NAMESPACE)
    assert set(secret["data"]) >= {"SECRET_KEY_BASE", "DATABASE_URL"}
    assert kube.json("get", "secret", "api-tls", "-n", NAMESPACE)["type"] == "kubernetes.io/tls"


def test_redeploy_with_nothing_changed_is_a_fast_no_op(project, kube):
    before = _api(kube)["metadata"]["generation"]
    started = time.monotonic()
    result = project.invoke("deploy", "--overlay=dev")
    elapsed = time.monotonic() - started
    assert "nothing changed" in result.stderr.decode()
    assert _api(kube)["metadata"]["generation"] == before
    assert elapsed < 10


def test_dry_run_prints_the_plan_and_changes_nothing(project, kube):
    (project.path / "app" / "DRYRUN.md").write_text("a change that makes a new commit\n")
    new_tag = project.commit_all("test: new commit for dry-run")[:12]
    before = _api(kube)["metadata"]["resourceVersion"]
    result = project.invoke("deploy", "--overlay=dev", "--dry-run")
    err = result.stderr.decode()
    assert "[dry-run] kubectl --kubeconfig " in err
    apply = " apply --server-side --validate=false --field-manager=opskit --force-conflicts"
    assert apply + " --output=json -f - < <" in err
    assert new_tag not in _api(kube)["spec"]["template"]["spec"]["containers"][0]["image"]
    assert _api(kube)["metadata"]["resourceVersion"] == before


def test_forbidden_context_is_refused_before_anything(project, kube):
    before = _api(kube)["metadata"]["resourceVersion"]
    result = project.invoke("deploy", "--overlay=dev", "--context=prod-cluster", ok=(1,))
    err = result.stderr.decode().strip().splitlines()
    assert err == [
        "opskit: error: kube context 'prod-cluster' is not allowed for overlay dev (allowed: "
        f"{kube.context}); add it to overlays.dev.contexts in opskit.yaml, or pass --context"
    ]
    assert _api(kube)["metadata"]["resourceVersion"] == before


def test_unknown_overlay_is_one_line(project):
    result = project.invoke("deploy", "--overlay=nope", ok=(1,))
    assert result.stderr.decode().strip().endswith("unknown overlay 'nope'; use one of: dev, prod")


def _break_readiness(project: Project) -> None:
    """Commit a dev patch that labels the app's pods never-ready (kwok failure injection)."""
    from opskit.clusters import kwok_stages

    kustomization = project.path / "k8s" / "overlays" / "dev" / "kustomization.yaml"
    data = yaml.safe_load(kustomization.read_text())
    label = {kwok_stages.NEVER_READY_LABEL: "true"}
    patch = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "api"},
        "spec": {"template": {"metadata": {"labels": label}}},
    }
    data.setdefault("patches", []).append({"patch": yaml.safe_dump(patch)})
    kustomization.write_text(yaml.safe_dump(data, sort_keys=False))
    project.commit_all("test: a release whose pods never become ready")


def test_never_ready_release_is_rolled_back_and_old_revision_keeps_serving(project, kube):
    project.invoke("deploy", "--overlay=dev", "--timeout=60")  # the dry-run commit, healthy
    good = _api(kube)
    good_image = good["spec"]["template"]["spec"]["containers"][0]["image"]
    good_revision = int(good["metadata"]["annotations"]["deployment.kubernetes.io/revision"])
    _break_readiness(project)
    result = project.invoke("deploy", "--overlay=dev", "--timeout=20", ok=(1,))
    err = result.stderr.decode()
    print(err)  # quoted in the issue note: the rollback report as a user sees it
    assert "--- diagnostics for deployment/api" in err
    assert "Ready=False" in err
    assert f"rolling back deployment/api to revision {good_revision}" in err
    assert "opskit: error: deploy to dev failed: deployment/api did not roll out" in err
    after = _api(kube)
    template = after["spec"]["template"]
    assert template["spec"]["containers"][0]["image"] == good_image
    assert "opskit.dev/never-ready" not in json.dumps(template["metadata"])
    assert after["status"].get("availableReplicas") == after["spec"]["replicas"]
    kube.run("rollout", "status", "deployment/api", "-n", NAMESPACE, "--timeout=30s")
