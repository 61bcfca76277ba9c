"""Prometheus through Helm: exact helm argv (remote charts cannot be fetched here)."""

import shutil

import pytest

from opskit.core import config
from opskit.core.errors import OpsError
from opskit.gitops import monitoring
from opskit.kube.kubectl import Kube
from tests import fakes

KUBE = Kube("/state/kubeconfig", "k3d-gitops-lab")
BASE = ("kubectl", "--kubeconfig", "/state/kubeconfig", "--context", "k3d-gitops-lab")


@pytest.fixture
def cfg(tmp_path, root):
    shutil.copy(root / "opskit.yaml", tmp_path / "opskit.yaml")
    (tmp_path / "k8s" / "monitoring").mkdir(parents=True)
    (tmp_path / "k8s" / "monitoring" / "values.yaml").write_text("grafana: {enabled: false}\n")
    return config.load(tmp_path / "opskit.yaml")


def test_install_is_one_pinned_helm_upgrade_install(cfg):
    with fakes.recorder({"helm": (0, "", "")}) as calls:
        step = monitoring.install(cfg, KUBE)
    assert calls == [
        (
            "helm",
            "upgrade",
            "--install",
            "kps",
            "kube-prometheus-stack",
            "--repo",
            "https://prometheus-community.github.io/helm-charts",
            "--version",
            "91.5.0",
            "--namespace",
            "monitoring",
            "--create-namespace",
            "-f",
            "k8s/monitoring/values.yaml",
            "--wait",
            "--timeout",
            "10m",
            "--kubeconfig",
            "/state/kubeconfig",
            "--kube-context",
            "k3d-gitops-lab",
        )
    ]
    assert step.cwd == str(cfg.root)


def test_install_dry_run_prints_the_helm_command(cfg, capsys):
    with fakes.recorder({"helm": (0, "", "")}) as calls:
        monitoring.install(cfg, KUBE, dry_run=True)
    assert calls == []
    assert capsys.readouterr().err.startswith(
        "[dry-run] helm upgrade --install kps kube-prometheus-stack --repo "
    )


def test_missing_values_file_stops_before_helm(cfg):
    (cfg.root / "k8s" / "monitoring" / "values.yaml").unlink()
    with fakes.recorder({"helm": (0, "", "")}) as calls, pytest.raises(OpsError, match="values"):
        monitoring.install(cfg, KUBE)
    assert calls == []


def test_helm_failure_is_one_actionable_error(cfg):
    with (
        fakes.recorder({"helm": (1, "", "Error: chart not found")}),
        pytest.raises(OpsError) as info,
    ):
        monitoring.install(cfg, KUBE)
    assert "chart not found" in str(info.value) and "network access" in str(info.value)


def fake_kubectl(served=True, releases="1 superseded\n2 deployed\n", monitors="api"):
    def kubectl(argv, _stdin):
        args = argv[len(BASE) :]
        if args[:2] == ("get", "crd"):
            return (0, "", "") if served else (1, "", "NotFound")
        if args[:2] == ("get", "secrets"):
            return 0, releases, ""
        return 0, monitors, ""

    return kubectl


def test_status_reports_release_api_and_servicemonitors(cfg):
    with fakes.recorder({"kubectl": fake_kubectl()}) as calls:
        checks = monitoring.status(cfg, KUBE, [cfg.overlay("dev")])
    assert [c.line() for c in checks] == [
        "ok       helm release kps (kube-prometheus-stack 91.5.0): revision 2 deployed",
        "ok       ServiceMonitor API: served",
        "ok       ServiceMonitor in gitops-lab-dev: api",
    ]
    assert calls[0] == (
        *BASE,
        "get",
        "secrets",
        "-n",
        "monitoring",
        "-l",
        "owner=helm,name=kps",
        "-o",
        "jsonpath={range .items[*]}{.metadata.labels.version} "
        '{.metadata.labels.status}{"\\n"}{end}',
    )


def test_status_without_prometheus_says_how_to_install(cfg):
    with fakes.recorder({"kubectl": fake_kubectl(served=False, releases="")}):
        checks = monitoring.status(cfg, KUBE, [cfg.overlay("dev")])
    assert [c.ok for c in checks] == [False, False]
    assert all("invoke monitoring.install" in c.detail for c in checks)
