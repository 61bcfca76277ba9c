"""ArgoCD tasks: exact kubectl argv (its controllers cannot run here), manifests from a tmp repo."""

import json
import shutil

import pytest

from opskit import argocd, config
from opskit.errors import OpsError
from opskit.kube import Kube
from tests import fakes

KUBE = Kube("/state/kubeconfig", "kwok-gitops-lab")
BASE = ("kubectl", "--kubeconfig", "/state/kubeconfig", "--context", "kwok-gitops-lab")
PROJECT = """\
apiVersion: argoproj.io/v1alpha1
kind: AppProject
metadata: {name: gitops-lab}
spec: {sourceRepos: ['*'], destinations: [{server: '*', namespace: '*'}]}
"""
APP = """\
apiVersion: argoproj.io/v1alpha1
kind: Application
metadata: {{name: gitops-lab-{name}}}
spec:
  project: gitops-lab
  source: {{repoURL: https://example.invalid/x.git, targetRevision: main, path: {path}}}
  destination: {{server: https://kubernetes.default.svc, namespace: gitops-lab-{name}}}
"""
MULTI_SOURCE_APP = """\
apiVersion: argoproj.io/v1alpha1
kind: Application
metadata: {{name: gitops-lab-{name}}}
spec:
  project: gitops-lab
  sources:
    - {{repoURL: https://example.invalid/x.git, targetRevision: main, path: {path}}}
    - {{repoURL: https://example.invalid/x.git, targetRevision: main, path: {path}/secrets}}
  destination: {{server: https://kubernetes.default.svc, namespace: gitops-lab-{name}}}
"""


@pytest.fixture
def cfg(tmp_path, root):
    shutil.copy(root / "opskit.yaml", tmp_path / "opskit.yaml")
    folder = tmp_path / "k8s" / "argocd"
    folder.mkdir(parents=True)
    (folder / "project.yaml").write_text(PROJECT)
    (folder / "dev.yaml").write_text(APP.format(name="dev", path="k8s/overlays/dev"))
    (folder / "prod.yaml").write_text(
        MULTI_SOURCE_APP.format(name="prod", path="k8s/overlays/prod")
    )
    return config.load(tmp_path / "opskit.yaml")


def test_install_applies_the_pinned_upstream_manifest_server_side(cfg):
    with fakes.recorder({"kubectl": (0, "", "")}) as calls:
        argocd.install(cfg, KUBE)
    url = "https://raw.githubusercontent.com/argoproj/argo-cd/v2.14.11/manifests/install.yaml"
    assert calls == [
        (*BASE, "apply", "--server-side", "--field-manager=opskit", "-f", "-"),
        (
            *BASE,
            "apply",
            "--server-side",
            "--force-conflicts",
            "--field-manager=opskit",
            "-n",
            "argocd",
            "-f",
            url,
        ),
        (
            *BASE,
            "wait",
            "-n",
            "argocd",
            "--for=condition=Available",
            "deployment",
            "--all",
            "--timeout=300s",
        ),
    ]


def test_install_dry_run_prints_every_command_and_runs_none(cfg, capsys):
    with fakes.recorder({"kubectl": (0, "", "")}) as calls:
        argocd.install(cfg, KUBE, dry_run=True)
    lines = capsys.readouterr().err.splitlines()
    assert calls == []
    assert len(lines) == 3 and all(line.startswith("[dry-run] kubectl ") for line in lines)
    assert "argo-cd/v2.14.11/manifests/install.yaml" in lines[1]


def fake_cluster(crd_installed=True, items=()):
    applied = []

    def kubectl(argv, stdin):
        verb = argv[len(BASE)]
        if verb == "get" and argv[len(BASE) + 1] == "crd":
            return (0, "crd\n", "") if crd_installed else (1, "", "NotFound")
        if verb == "get":
            return 0, json.dumps({"items": list(items)}), ""
        applied.append((argv, stdin))
        return 0, "", ""

    return kubectl, applied


def test_bootstrap_applies_the_project_and_only_that_overlays_application(cfg):
    kubectl, applied = fake_cluster()
    with fakes.recorder({"kubectl": kubectl}):
        name = argocd.bootstrap(cfg, KUBE, cfg.overlay("dev"))
    assert name == "gitops-lab-dev"
    ((argv, stdin),) = applied
    assert argv == (
        *BASE,
        "apply",
        "--server-side",
        "--field-manager=opskit",
        "-n",
        "argocd",
        "-f",
        "-",
    )
    items = json.loads(stdin)["items"]
    assert [(i["kind"], i["metadata"]["name"], i["metadata"]["namespace"]) for i in items] == [
        ("AppProject", "gitops-lab", "argocd"),
        ("Application", "gitops-lab-dev", "argocd"),
    ]


def test_bootstrap_of_a_multi_source_application(cfg):
    kubectl, applied = fake_cluster()
    with fakes.recorder({"kubectl": kubectl}):
        assert argocd.bootstrap(cfg, KUBE, cfg.overlay("prod")) == "gitops-lab-prod"
    assert [i["kind"] for i in json.loads(applied[0][1])["items"]] == ["AppProject", "Application"]


def test_unreachable_cluster_is_not_mistaken_for_a_missing_argocd(cfg):
    refused = (1, "", "The connection to the server 127.0.0.1:6443 was refused")
    with fakes.recorder({"kubectl": refused}), pytest.raises(OpsError) as info:
        argocd.status(cfg, KUBE)
    assert str(info.value) == (
        "cannot read the cluster at context kwok-gitops-lab: The connection to the server "
        "127.0.0.1:6443 was refused; is it running? (`invoke cluster.status`, `invoke cluster.up`)"
    )


def test_bootstrap_without_argocd_says_how_to_install_and_applies_nothing(cfg):
    kubectl, applied = fake_cluster(crd_installed=False)
    with fakes.recorder({"kubectl": kubectl}), pytest.raises(OpsError) as info:
        argocd.bootstrap(cfg, KUBE, cfg.overlay("dev"))
    assert "invoke argocd.install" in str(info.value)
    assert applied == []


def test_overlay_without_application_is_a_clear_error(cfg):
    (cfg.root / "k8s" / "argocd" / "prod.yaml").unlink()
    with pytest.raises(
        OpsError,
        match=r"no Application has source path k8s/overlays/prod "
        r"\(Applications: gitops-lab-dev\)",
    ):
        argocd.bootstrap_objects(cfg, cfg.overlay("prod"))


def test_real_repository_has_a_project_and_an_application_per_overlay(root):
    if not any((root / "k8s" / "argocd").glob("*.yaml")):
        pytest.skip("k8s/argocd not written yet")
    cfg = config.load(root / "opskit.yaml")
    for overlay in cfg.overlays.values():
        kinds = [o["kind"] for o in argocd.bootstrap_objects(cfg, overlay)]
        assert kinds[-1] == "Application" and "AppProject" in kinds


def test_status_reads_sync_and_health_from_the_application_objects(cfg):
    items = [
        {
            "metadata": {"name": "gitops-lab-dev"},
            "status": {
                "sync": {"status": "Synced", "revisions": ["0123456789abcdef0123", "x"]},
                "health": {"status": "Healthy"},
                "operationState": {"phase": "Succeeded"},
            },
        },
        {"metadata": {"name": "gitops-lab-prod"}, "operation": {"sync": {}}},
    ]
    kubectl, _ = fake_cluster(items=items)
    with fakes.recorder({"kubectl": kubectl}) as calls:
        rows = argocd.status(cfg, KUBE)
    assert calls[-1] == (*BASE, "get", "applications.argoproj.io", "-n", "argocd", "-o", "json")
    assert argocd.table(rows).splitlines() == [
        "APPLICATION      SYNC     HEALTH   REVISION      OPERATION",
        "gitops-lab-dev   Synced   Healthy  0123456789ab  Succeeded",
        "gitops-lab-prod  Unknown  Unknown  -             Requested",
    ]


def test_sync_patches_an_operation_into_the_application(cfg):
    kubectl, applied = fake_cluster()
    with fakes.recorder({"kubectl": kubectl}):
        assert argocd.sync(cfg, KUBE, cfg.overlay("prod")) == "gitops-lab-prod"
    ((argv, _),) = applied
    patch = (
        '{"operation":{"initiatedBy":{"username":"opskit"},"sync":{"syncStrategy":{"hook":{}}}}}'
    )
    assert argv == (
        *BASE,
        "patch",
        "applications.argoproj.io",
        "gitops-lab-prod",
        "-n",
        "argocd",
        "--type",
        "merge",
        "-p",
        patch,
    )
