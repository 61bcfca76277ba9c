"""One Kubernetes release (opskit.yaml kubernetes.version) everywhere it is used, one
version per image, one monitoring release (Helm and ArgoCD): each place below is read the
way its consumer reads it."""

from __future__ import annotations

import re
import shutil
import sys
from pathlib import Path

import sh

from opskit.clusters import k3d
from opskit.core import config
from opskit.gitops import monitoring
from opskit.images import phoenix
from opskit.kube.kubectl import Kube
from opskit.manifests import kustomize, validate
from opskit.toolchain import build

ROOT = Path(__file__).resolve().parents[2]


def gomod(module: str) -> str:
    return (ROOT / "tools" / module / "go.mod").read_text()


def test_tools_kube_builds_the_configured_release_with_matching_staging_twins(cfg):
    text = gomod("kube")
    version = cfg.kubernetes.version
    assert f"\tk8s.io/kubernetes v{version} // indirect" in text
    staging = re.findall(r"^replace (k8s\.io/\S+) => (\S+) (\S+)$", text, re.MULTILINE)
    assert len(staging) >= 30
    major_minor_patch = "0." + ".".join(version.split(".")[1:])
    assert {(name == twin, tag) for name, twin, tag in staging} == {(True, f"v{major_minor_patch}")}
    pins = cfg.tool_pins()
    for tool in build.GO_TOOLS:
        if tool.module_dir == "kube":
            assert build.pinned_version(tool, pins, ROOT / "tools") == f"v{version}"


def test_kubectl_is_built_with_the_control_plane():
    kubectl = build.select(("kubectl",))[0]
    assert (kubectl.module_dir, kubectl.package) == ("kube", "k8s.io/kubernetes/cmd/kubectl")
    flags = kubectl.argv("v1.37.2", Path("o"))
    assert "-X k8s.io/client-go/pkg/version.gitVersion=v1.37.2" in " ".join(flags)


def test_schemas_are_of_the_same_minor(cfg):
    assert validate.load_schemas(cfg.kubernetes.version).version == cfg.kubernetes.minor


def test_the_k3s_image_is_of_the_same_release(cfg):
    argv = k3d.K3dCluster(cfg).create_argv()
    assert argv[argv.index("--image") + 1] == f"rancher/k3s:v{cfg.kubernetes.version}-k3s1"


def test_ci_installs_the_configured_kubectl_and_k3d(cfg, tmp_path):
    (tmp_path / "ci").mkdir()
    shutil.copy(ROOT / "ci" / "_lib.sh", tmp_path / "ci")
    shutil.copy(ROOT / "opskit.yaml", tmp_path)
    (tmp_path / ".venv" / "bin").mkdir(parents=True)  # `pinned` asks the project's Python
    python = tmp_path / ".venv" / "bin" / "python"
    python.write_text(f'#!/bin/sh\nexec "{sys.executable}" "$@"\n')
    python.chmod(0o755)
    script = 'source ci/_lib.sh; echo "$(pinned kubernetes.version) $(pinned cluster.k3d.version)"'
    out = sh.bash("-c", script, _cwd=tmp_path, _return_cmd=True)
    assert str(out).split() == [cfg.kubernetes.version, cfg.cluster.k3d.version]
    lib = (ROOT / "ci" / "_lib.sh").read_text()
    assert 'KUBECTL_VERSION="v$(pinned kubernetes.version)"' in lib
    assert re.search(r"\d+\.\d+\.\d+", lib.replace("${0##*/}", "")) is None  # no literal pins


def test_the_phoenix_test_services_run_the_manifests_images(render):
    images = {
        c["image"]
        for o in render("dev")
        for c in (o.get("spec", {}).get("template", {}).get("spec", {}).get("containers") or [])
    }
    assert {phoenix.POSTGRES_IMAGE, phoenix.REDIS_IMAGE} <= images


def test_a_second_place_naming_the_kubernetes_release_is_refused(tmp_path):
    text = (ROOT / "opskit.yaml").read_text().replace("tools:", "tools:\n  kubernetes: v1.36.0", 1)
    (tmp_path / "opskit.yaml").write_text(text)
    try:
        config.load(tmp_path / "opskit.yaml")
    except config.ConfigError as exc:
        assert "tools.kubernetes: the Kubernetes release is named once" in str(exc)
    else:
        raise AssertionError("tools.kubernetes was accepted")


def test_argocd_syncs_the_monitoring_release_that_helm_installs(cfg):
    """k8s/platform/monitoring.yaml and `invoke monitoring.install` name the same chart,
    version, release and namespace: opskit.yaml's `monitoring:` pins."""
    app = next(
        o for o in validate.argocd_objects(cfg) if o["metadata"]["name"].endswith("-monitoring")
    )
    chart = next(s for s in app["spec"]["sources"] if "chart" in s)
    mon = cfg.monitoring
    assert (chart["repoURL"], chart["chart"], chart["targetRevision"]) == (
        mon.repo_url,
        mon.chart,
        mon.version,
    )
    assert chart["helm"]["releaseName"] == mon.release
    assert app["spec"]["destination"]["namespace"] == mon.namespace == "monitoring"
    assert chart["helm"]["valueFiles"] == [f"$values/{kustomize.MONITORING_VALUES.as_posix()}"]
    argv = monitoring.install_step(cfg, Kube("/k", "ctx")).argv
    assert argv[3:5] == (mon.release, mon.chart)
    assert argv[argv.index("--version") + 1] == chart["targetRevision"]
    assert argv[argv.index("--namespace") + 1] == app["spec"]["destination"]["namespace"]
    assert argv[argv.index("-f") + 1] == kustomize.MONITORING_VALUES.as_posix()


def test_a_monitoring_application_at_another_version_fails_validation(cfg):
    objects = validate.argocd_objects(cfg)
    app = next(o for o in objects if o["metadata"]["name"].endswith("-monitoring"))
    app["spec"]["sources"][0]["targetRevision"] = "1.0.0"
    app["spec"]["sources"][0]["helm"]["releaseName"] = "other"
    target = validate.Target("argocd", cfg.argocd.namespace)
    assert sorted(str(v) for v in validate.check_target(cfg, target, objects)) == [
        "argocd/Application/gitops-lab-monitoring: spec.sources[0].helm.releaseName: is "
        f'"other", expected "{cfg.monitoring.release}" (monitoring.release in opskit.yaml)',
        "argocd/Application/gitops-lab-monitoring: spec.sources[0].targetRevision: is "
        f'"1.0.0", expected "{cfg.monitoring.version}" (monitoring.version in opskit.yaml)',
    ]


def third_party_images(cfg, render) -> set[str]:
    """Every image the overlays run that this repository does not build, and the base images
    of its Dockerfiles (`ARG <NAME>_IMAGE=...`)."""
    ours = tuple(image.repository for image in cfg.images.values())
    found = {
        container["image"]
        for name in cfg.overlays
        for obj in render(name)
        for _, container in kustomize.containers(obj)
        if not container["image"].startswith(ours)
    }
    for dockerfile in (ROOT / "app" / "Dockerfile", ROOT / "services/telemetry/Dockerfile"):
        found |= set(re.findall(r"^ARG \w+_IMAGE=(\S+)$", dockerfile.read_text(), re.MULTILINE))
    return found


def test_every_third_party_image_has_its_row_in_the_versions_page(cfg, render):
    """An image pin changes with its row in docs/versions.md (why this patch), never alone."""
    page = (ROOT / "docs" / "versions.md").read_text()
    images = third_party_images(cfg, render)
    assert {"postgres", "redis", "eclipse-mosquitto", "python"} <= {i.split(":")[0] for i in images}
    missing = sorted(image for image in images if f"`{image}`" not in page)
    assert not missing, f"docs/versions.md has no row naming {missing}"
