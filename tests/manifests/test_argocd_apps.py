"""k8s/argocd: one Application per overlay, and k8s/platform: those plus monitoring, in step
with opskit.yaml."""

from __future__ import annotations

import copy
import shutil

import pytest

from opskit.core import shell
from opskit.manifests import kustomize, validate


@pytest.fixture(scope="module")
def objects(cfg) -> list[dict]:
    return validate.argocd_objects(cfg)


def application(objects: list[dict], overlay: str) -> dict:
    return next(o for o in objects if o["metadata"]["name"] == f"gitops-lab-{overlay}")


@pytest.mark.parametrize("folder", ["argocd", "platform"])
def test_files_are_what_kustomize_renders(cfg, root, folder):
    rendered = shell.run(["kubectl", "kustomize", str(root / "k8s" / folder)]).stdout
    read = validate.argocd_objects(cfg, root / "k8s" / folder)
    assert sorted(kustomize.load_documents(rendered), key=_key) == sorted(read, key=_key)


def test_validation_covers_the_platform(objects):
    assert {(o["kind"], o["metadata"]["name"]) for o in objects} == {
        ("AppProject", "gitops-lab"),
        ("AppProject", "platform"),
        ("Application", "gitops-lab-dev"),
        ("Application", "gitops-lab-prod"),
        ("Application", "gitops-lab-monitoring"),
    }


def _key(obj: dict) -> tuple[str, str]:
    return obj["kind"], obj["metadata"]["name"]


@pytest.mark.parametrize("name", ["dev", "prod"])
def test_application_matches_opskit_yaml(cfg, objects, name):
    overlay = cfg.overlay(name)
    spec = application(objects, name)["spec"]
    path = overlay.path.relative_to(cfg.root).as_posix()
    assert spec["sources"] == [
        {"repoURL": cfg.project.repo_url, "targetRevision": cfg.project.revision, "path": path},
        {
            "repoURL": cfg.project.repo_url,
            "targetRevision": cfg.project.revision,
            "path": f"{path}/secrets",
        },
    ]
    assert spec["destination"]["namespace"] == overlay.namespace
    assert spec["project"] == "gitops-lab"


def test_dev_syncs_automatically_and_prod_by_hand(cfg, objects):
    assert application(objects, "dev")["spec"]["syncPolicy"]["automated"] == {
        "prune": True,
        "selfHeal": True,
    }
    assert "automated" not in application(objects, "prod")["spec"]["syncPolicy"]
    assert (cfg.overlay("dev").protected, cfg.overlay("prod").protected) == (False, True)


def test_project_allows_this_repo_and_the_overlay_namespaces(cfg, objects):
    objects = copy.deepcopy(objects)
    project = next(o for o in objects if o["kind"] == "AppProject")
    assert project["spec"]["sourceRepos"] == [cfg.project.repo_url]
    assert {d["namespace"] for d in project["spec"]["destinations"]} == {
        ov.namespace for ov in cfg.overlays.values()
    }
    project["spec"]["sourceRepos"] = ["https://example.invalid/fork.git"]
    project["spec"]["destinations"].pop()
    target = validate.Target("argocd", cfg.argocd.namespace)
    assert [str(v) for v in validate.check_target(cfg, target, objects)] == [
        "argocd/AppProject/gitops-lab: spec.sourceRepos: does not list "
        "https://github.com/gitops-lab/gitops-lab.git (project.repo_url)",
        "argocd/AppProject/gitops-lab: spec.destinations: does not allow namespace gitops-lab-prod",
    ]


def test_drift_from_opskit_yaml_is_reported(cfg, objects):
    changed = copy.deepcopy(objects)
    dev, prod = application(changed, "dev"), application(changed, "prod")
    dev["spec"]["sources"][0]["repoURL"] = "https://example.invalid/fork.git"
    dev["spec"]["syncPolicy"]["automated"]["prune"] = False
    prod["spec"]["syncPolicy"]["automated"] = {"prune": True}
    prod["spec"]["destination"]["namespace"] = "default"
    target = validate.Target("argocd", cfg.argocd.namespace)
    assert sorted(str(v) for v in validate.check_target(cfg, target, changed)) == [
        "argocd/Application/gitops-lab-dev: spec.sources[0].repoURL: is "
        '"https://example.invalid/fork.git", expected '
        '"https://github.com/gitops-lab/gitops-lab.git" (project.repo_url in opskit.yaml)',
        "argocd/Application/gitops-lab-dev: spec.syncPolicy.automated.prune: must be true: "
        "dev syncs automatically",
        'argocd/Application/gitops-lab-prod: spec.destination.namespace: is "default", '
        'expected "gitops-lab-prod"',
        "argocd/Application/gitops-lab-prod: spec.syncPolicy.automated: prod is protected in "
        "opskit.yaml: it is synced by hand",
    ]


def test_an_overlay_without_application_is_reported(cfg, objects):
    without_prod = [o for o in objects if o["metadata"]["name"] != "gitops-lab-prod"]
    target = validate.Target("argocd", cfg.argocd.namespace)
    assert [str(v) for v in validate.check_target(cfg, target, without_prod)] == [
        "argocd/Application/gitops-lab-prod: spec.sources: missing: no Application deploys "
        "overlay prod (k8s/overlays/prod)",
    ]


def test_monitoring_application_drift_is_reported(cfg, objects):
    changed = copy.deepcopy(objects)
    mon = next(o for o in changed if o["metadata"]["name"] == "gitops-lab-monitoring")
    chart, values = mon["spec"]["sources"]
    chart["repoURL"] = "https://charts.example.invalid"
    chart["helm"]["valueFiles"] = ["values.yaml"]
    values["targetRevision"] = "v1"
    mon["spec"]["destination"]["namespace"] = "default"
    mon["spec"]["syncPolicy"]["syncOptions"] = ["CreateNamespace=true"]
    target = validate.Target("argocd", cfg.argocd.namespace)
    assert sorted(str(v) for v in validate.check_target(cfg, target, changed)) == [
        'argocd/Application/gitops-lab-monitoring: spec.destination.namespace: is "default", '
        'expected "monitoring" (monitoring.namespace in opskit.yaml)',
        "argocd/Application/gitops-lab-monitoring: spec.sources[0].helm.valueFiles: must be "
        "[$values/k8s/monitoring/values.yaml] (as helm's -f)",
        "argocd/Application/gitops-lab-monitoring: spec.sources[0].repoURL: is "
        '"https://charts.example.invalid", expected '
        '"https://prometheus-community.github.io/helm-charts" (monitoring.repo_url in opskit.yaml)',
        'argocd/Application/gitops-lab-monitoring: spec.sources[1].targetRevision: is "v1", '
        'expected "main" (project.revision in opskit.yaml)',
        "argocd/Application/gitops-lab-monitoring: spec.syncPolicy.syncOptions: must include "
        "ServerSideApply=true",
    ]


def test_each_project_must_allow_the_namespaces_of_its_own_applications(cfg, objects):
    changed = copy.deepcopy(objects)
    platform = next(o for o in changed if o["metadata"]["name"] == "platform")
    platform["spec"]["destinations"] = platform["spec"]["destinations"][1:]  # no monitoring
    platform["spec"]["sourceRepos"] = platform["spec"]["sourceRepos"][1:]  # no chart repo
    target = validate.Target("argocd", cfg.argocd.namespace)
    assert [str(v) for v in validate.check_target(cfg, target, changed)] == [
        "argocd/AppProject/platform: spec.sourceRepos: does not list "
        "https://prometheus-community.github.io/helm-charts, a source of its Applications",
        "argocd/AppProject/platform: spec.destinations: does not allow namespace monitoring",
    ]


def test_a_commit_from_before_k8s_platform_still_diffs_its_k8s_argocd(cfg, root, tmp_path):
    """manifests.diff --base=<older commit>: that side has k8s/argocd but no k8s/platform."""
    from opskit.core import config
    from opskit.diff import sources

    shutil.copy(root / "opskit.yaml", tmp_path / "opskit.yaml")
    shutil.copytree(root / "k8s" / "argocd", tmp_path / "k8s" / "argocd")
    old = sources.Tree("base", "0" * 40, config.load(tmp_path / "opskit.yaml"))
    names = {o["metadata"]["name"] for o in sources.load(old, ["argocd"]).objects["argocd"]}
    assert names == {"gitops-lab", "gitops-lab-dev", "gitops-lab-prod"}
