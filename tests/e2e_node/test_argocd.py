"""ArgoCD as pods on the real node, driven like a user would from a scratch copy of the
repository: `argocd.install` applies the release's install.yaml with images built here,
KSOPS runs in the repo-server pod, a crash-looping controller fails the install in one line
and a rerun converges, `argocd.bootstrap` + `release --watch` reach Synced/Healthy with
real pods. The tests run in order on one install."""

from __future__ import annotations

import base64
import json
import sys
import time
from collections.abc import Iterator

import pytest
import sh
import yaml

from opskit.core import tools
from opskit.images import localbuild
from tests.e2e.project import Project, make_project
from tests.e2e_node.conftest import leave_no_overlay_behind

# the first test includes building and loading ArgoCD's images (~2 min cold)
pytestmark = [
    pytest.mark.tools("argocd", "kustomize", "ksops", "buildah"),
    pytest.mark.timeout(900),
]
NS = "argocd"
DEV_NS = "gitops-lab-dev"
SECRETS = "k8s/overlays/dev/secrets"
PARAMS = "argocd-cmd-params-cm"
BAD_LEVEL = "notificationscontroller.log.level"


def _say(message: str) -> None:
    print(f"[e2e-node] {message}", file=sys.stderr, flush=True)


@pytest.fixture(scope="module")
def project(real_cluster, tmp_path_factory) -> Iterator[Project]:
    """A scratch copy of this checkout wired to the session's cluster, ArgoCD installed."""
    project = make_project(tmp_path_factory.mktemp("argocd") / "source", real_cluster.name)
    started = time.monotonic()
    done = project.invoke("argocd.install")
    _say(f"argocd.install (images built if missing, loaded) took {time.monotonic() - started:.1f}s")
    assert "ArgoCD's pods available in" in done.stderr.decode()
    yield project
    leave_no_overlay_behind(real_cluster.kube(), NS)


def argocd_pods(kube) -> list[dict]:
    return kube.json("get", "pods", "-n", NS)["items"]


def test_every_argocd_component_is_a_real_pod_of_an_image_built_here(project, kube, real_cluster):
    pods = argocd_pods(kube)
    names = {p["metadata"]["labels"]["app.kubernetes.io/name"] for p in pods}
    assert names == {
        "argocd-application-controller",
        "argocd-applicationset-controller",
        "argocd-dex-server",
        "argocd-notifications-controller",
        "argocd-redis",
        "argocd-repo-server",
        "argocd-server",
    }
    for pod in pods:
        assert pod["spec"]["nodeName"] == f"{real_cluster.name}-real"
        assert pod["status"]["phase"] == "Running"
        spec = pod["spec"]
        for container in (*spec.get("initContainers", []), *spec["containers"]):
            assert container["image"].startswith("localhost/gitops-lab/"), container["image"]


def test_the_repo_server_runs_ksops_from_its_init_container_with_the_age_key(project, kube):
    exec_ = ("exec", "-n", NS, "deploy/argocd-repo-server", "-c", "argocd-repo-server", "--")
    version = kube.run(*exec_, "ksops", "--version", timeout=60).stdout.strip()
    assert version.startswith("ksops (gitops-lab) on sops ")
    key = kube.run(*exec_, "sh", "-c", 'test -s "$SOPS_AGE_KEY_FILE" && echo present', timeout=60)
    assert key.stdout.strip() == "present"  # the key itself is never printed


def test_a_second_install_changes_nothing_and_rebuilds_nothing(project, kube):
    before = {p["metadata"]["name"] for p in argocd_pods(kube)}
    err = project.invoke("argocd.install").stderr.decode()
    assert "building" not in err and "loaded" not in err
    assert {p["metadata"]["name"] for p in argocd_pods(kube)} == before


def test_a_crash_looping_controller_fails_the_install_in_one_line_and_a_rerun_converges(
    project, kube
):
    patch = json.dumps({"data": {BAD_LEVEL: "no-such-level"}})
    kube.run("patch", "configmap", PARAMS, "-n", NS, "--type", "merge", "-p", patch)
    label = "app.kubernetes.io/name=argocd-notifications-controller"
    kube.run("delete", "pod", "-n", NS, "-l", label, "--wait=false")
    failed = project.invoke("argocd.install", ok=(1,))
    err = failed.stderr.decode().strip().splitlines()
    lines = [line for line in err if line.startswith("opskit: error:")]
    assert len(lines) == 1, err
    assert lines[0].startswith("opskit: error: ArgoCD pod argocd-notifications-controller-")
    assert "is in CrashLoopBackOff: " in lines[0] and "no-such-level" in lines[0]
    fix = json.dumps([{"op": "remove", "path": f"/data/{BAD_LEVEL}"}])
    kube.run("patch", "configmap", PARAMS, "-n", NS, "--type", "json", "-p", fix)
    started = time.monotonic()
    project.invoke("argocd.install")
    _say(f"argocd.install after the fix converged in {time.monotonic() - started:.1f}s")
    pods = [p for p in argocd_pods(kube) if label.split("=")[1] in p["metadata"]["name"]]
    assert [p["status"]["containerStatuses"][0]["ready"] for p in pods] == [True]


@pytest.fixture(scope="module")
def bootstrapped(project, real_cluster) -> Project:
    """The overlay's images where the node has them: the stand-ins and the telemetry image
    of HEAD (`image.build`, `image.load`, as a user would); one `invoke deploy` (mqtt-tls is
    made at deploy by `certs`, not kept in git); then the root applied: ArgoCD takes over."""
    for name in ("postgres", "redis", "mosquitto"):
        real_cluster.load_image(localbuild.build_standin(name, report=_say))
    project.invoke("image.build", "--image=telemetry")  # the api's cannot be built here
    project.invoke("image.load", "--image=telemetry")
    project.invoke("deploy", "--overlay=dev")
    project.invoke("argocd.bootstrap")
    head = project.git("rev-parse", "HEAD")
    deadline = time.monotonic() + 180  # the root creates the overlay's Application, which syncs
    while time.monotonic() < deadline:
        found = kube_of(real_cluster).run(
            "get", "applications.argoproj.io", "gitops-lab-dev", "-n", NS, "-o", "json",
            check=False, timeout=30,
        )  # fmt: skip
        status = json.loads(found.stdout or "{}").get("status", {})
        if status.get("sync", {}).get("status") == "Synced" and (
            status["sync"].get("revisions", [""])[0] == head
        ):
            return project
        time.sleep(1)
    raise AssertionError(f"gitops-lab-dev not Synced at {head[:12]} within 180 s")


def kube_of(cluster):
    return cluster.kube()


def app(kube) -> dict:
    return kube.json("get", "applications.argoproj.io", "gitops-lab-dev", "-n", NS)


def test_argocd_health_is_the_health_of_the_real_pods(bootstrapped, kube):
    """Before a release the overlay in git pins a telemetry tag no node has: ArgoCD rolls
    the deployed pod to it, the real pod cannot pull it, and ArgoCD calls the Deployment,
    and so the Application, not Healthy."""
    deadline, waiting, health = time.monotonic() + 180, "", {}
    while time.monotonic() < deadline:
        pods = kube.json("get", "pods", "-n", DEV_NS, "-l", "app.kubernetes.io/name=telemetry")
        states = [cs.get("state", {}) for p in pods["items"] for cs in p["status"].get(
            "containerStatuses", []
        )]  # fmt: skip
        waiting = next((s["waiting"]["reason"] for s in states if "waiting" in s), "")
        status = app(kube).get("status", {})
        health = {
            r["name"]: r.get("health", {}).get("status")
            for r in status.get("resources", [])
            if r["kind"] == "Deployment"
        }
        if waiting in ("ErrImagePull", "ImagePullBackOff") and "telemetry" in health:
            break
        time.sleep(1)
    assert waiting in ("ErrImagePull", "ImagePullBackOff")
    assert health["telemetry"] in ("Progressing", "Degraded")
    assert status["health"]["status"] == health["telemetry"]
    assert health["redis"] == "Healthy"  # its stand-in is loaded: a Ready real pod


def test_bootstrap_and_release_watch_sync_real_pods_to_synced_healthy(bootstrapped, kube):
    started = time.monotonic()
    done = bootstrapped.invoke("release", "--overlay=dev", "--watch", "--timeout=300")
    seconds = time.monotonic() - started
    head = bootstrapped.git("rev-parse", "HEAD")
    assert f"Synced+Healthy at {head[:12]}" in done.stderr.decode()
    _say(f"first release -> Synced/Healthy with real pods in {seconds:.1f}s")
    pods = kube.json("get", "pods", "-n", DEV_NS)["items"]
    real = [p for p in pods if p["spec"].get("nodeName", "").endswith("-real")]
    assert {p["metadata"]["labels"].get("app.kubernetes.io/name") for p in real} >= {
        "postgres",
        "redis",
        "telemetry",
    }
    assert all(c["ready"] for p in real for c in p["status"]["containerStatuses"])


def test_the_secrets_are_those_ksops_decrypted_in_the_repo_server_pod(bootstrapped, kube):
    sops = sh.Command(tools.which("sops"))
    for file in sorted((bootstrapped.path / SECRETS).glob("*.sops.yaml")):
        plain = yaml.safe_load(str(sops("-d", str(file), _env=bootstrapped.env)))
        live = kube.json("get", "secret", plain["metadata"]["name"], "-n", DEV_NS)
        decoded = {k: base64.b64decode(v).decode() for k, v in live["data"].items()}
        assert decoded == plain["stringData"], f"{file.name} differs (values not shown)"
