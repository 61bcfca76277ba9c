"""A deploy to the embedded cluster's real node, without starting it: the overlay gets the
stand-ins component there only (real kustomize), the api stays on a simulated node, the
images the pods run are built and loaded once, each StatefulSet claim gets a local volume,
and waits follow progress instead of a clock."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from opskit.clusters import node_volumes, node_wait
from opskit.clusters.kwok import STANDINS_COMPONENT, KwokCluster
from opskit.core import config
from opskit.core.errors import OpsError
from opskit.images import embedded, localbuild
from opskit.manifests import kustomize

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def cfg():
    return config.load(ROOT / "opskit.yaml")


def _images(objects: list[dict]) -> dict[str, str]:
    return {
        o["metadata"]["name"]: c["image"]
        for o in objects
        for _, c in kustomize.containers(o)
        if o["kind"] != "CronJob"
    }


def test_the_component_swaps_the_images_and_keeps_the_api_on_a_simulated_node(cfg):
    plain = kustomize.render_overlay(cfg, "dev")
    real = kustomize.render_overlay(cfg, "dev", components=(cfg.root / STANDINS_COMPONENT,))
    assert _images(plain)["postgres"].startswith("postgres:")
    swapped = {k: v for k, v in _images(real).items() if v != _images(plain)[k]}
    assert swapped == {
        "postgres": localbuild.standin_image("postgres"),
        "redis": localbuild.standin_image("redis"),
        "mosquitto": localbuild.standin_image("mosquitto"),
    }
    api = next(o for o in real if o["kind"] == "Deployment" and o["metadata"]["name"] == "api")
    pod = api["spec"]["template"]["spec"]
    assert pod["nodeSelector"] == {"type": "kwok"}
    assert pod["tolerations"][0]["key"] == "kwok.x-k8s.io/node"
    others = [o for o in real if o["kind"] in ("Deployment", "StatefulSet") and o is not api]
    assert all("nodeSelector" not in o["spec"]["template"]["spec"] for o in others)
    # nothing else changes: probes and security contexts are the overlay's own
    unpinned = {**pod}
    del unpinned["nodeSelector"], unpinned["tolerations"]
    plain_api = next(
        o for o in plain if o["kind"] == "Deployment" and o["metadata"]["name"] == "api"
    )
    assert unpinned == plain_api["spec"]["template"]["spec"]


def test_a_cluster_without_a_real_node_adds_no_component(cfg, tmp_path, monkeypatch):
    monkeypatch.setenv("OPSKIT_STATE_DIR", str(tmp_path))
    cluster = KwokCluster(cfg, "lab")
    assert cluster.has_real_node() is False
    assert cluster.components() == ()
    assert cluster.image_loaded("localhost/gitops-lab/redis-standin:x") is False


class _Node:
    """A cluster's image side: what is loaded, and the loads asked for."""

    def __init__(self, loaded: set[str]):
        self.loaded, self.loads = loaded, []

    def image_loaded(self, image: str) -> bool:
        return image in self.loaded

    def load_image(self, image: str, dry_run: bool = False) -> None:
        self.loads.append((image, dry_run))


def _deployment(name: str, image: str) -> dict:
    pod = {"containers": [{"name": name, "image": image}]}
    return {"kind": "Deployment", "metadata": {"name": name}, "spec": {"template": {"spec": pod}}}


def test_ship_builds_what_buildah_lacks_loads_what_the_node_lacks_and_skips_the_api(
    cfg, monkeypatch
):
    built: list[tuple[str, str]] = []
    monkeypatch.setattr("opskit.images.debian.present", lambda image: "redis" in image)
    monkeypatch.setattr(
        localbuild, "build_project_image", lambda p, tag, rev, report: built.append((p.name, tag))
    )
    monkeypatch.setattr(
        localbuild, "build_standin", lambda name, report: built.append((name, "")) or ""
    )
    redis, postgres = (localbuild.standin_image(n) for n in ("redis", "postgres"))
    telemetry = f"{cfg.images['telemetry'].repository}:abc123"
    objects = [
        _deployment("api", f"{cfg.app.image}:abc123"),
        _deployment("telemetry", telemetry),
        _deployment("redis", redis),
        _deployment("postgres", postgres),
        _deployment("loaded", "localhost/gitops-lab/mosquitto-standin:old"),
    ]
    node = _Node({"localhost/gitops-lab/mosquitto-standin:old"})
    with pytest.raises(OpsError) as caught:  # the stand-in built is not the tag named
        embedded.ship(cfg, objects, "abc123", node, print)
    assert "k8s/components/embedded-standins names" in str(caught.value)
    assert built == [("postgres", "")]  # sorted: it stopped at the first problem
    built.clear()
    monkeypatch.setattr(localbuild, "build_standin", lambda name, report: postgres)
    node.loads.clear()
    embedded.ship(cfg, objects, "abc123", node, print)
    assert built == [("telemetry", telemetry)]
    assert sorted(i for i, _ in node.loads) == sorted([postgres, redis, telemetry])


def test_an_image_neither_built_here_nor_a_standin_is_a_one_line_error(cfg, monkeypatch):
    monkeypatch.setattr("opskit.images.debian.present", lambda image: False)
    with pytest.raises(OpsError) as caught:
        embedded.ship(
            cfg, [_deployment("x", "docker.io/library/nginx:1")], "c", _Node(set()), print
        )
    assert "\n" not in caught.value.message and "nginx" in caught.value.message


def test_a_dry_run_ships_nothing(cfg, monkeypatch):
    monkeypatch.setattr("opskit.images.debian.present", lambda image: False)
    node, said = _Node(set()), []
    redis = localbuild.standin_image("redis")
    embedded.ship(cfg, [_deployment("redis", redis)], "c", node, said.append, dry_run=True)
    assert node.loads == [(redis, True)] and said == [
        f"would build {redis} (unless buildah has it) and load it into the real node"
    ]


def _statefulset(replicas: int = 1) -> dict:
    template = {
        "metadata": {"name": "data"},
        "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}},
    }
    return {
        "kind": "StatefulSet",
        "metadata": {"name": "postgres", "namespace": "lab"},
        "spec": {"replicas": replicas, "volumeClaimTemplates": [template]},
    }


def test_each_statefulset_claim_gets_a_local_volume_pre_bound_on_the_real_node(tmp_path):
    claims = node_volumes.claims([_statefulset(2), _deployment("redis", "r")], "other")
    assert [(c.namespace, c.name, c.size) for c in claims] == [
        ("lab", "data-postgres-0", "1Gi"),
        ("lab", "data-postgres-1", "1Gi"),
    ]
    volumes = json.loads(node_volumes.manifest(claims[:1], tmp_path, "lab-real"))["items"]
    spec = volumes[0]["spec"]
    assert spec["claimRef"] == {"namespace": "lab", "name": "data-postgres-0"}
    assert spec["local"] == {"path": str(tmp_path / "lab" / "data-postgres-0")}
    assert spec["storageClassName"] == "standard"  # the claims' (default) class
    terms = spec["nodeAffinity"]["required"]["nodeSelectorTerms"]
    assert terms[0]["matchExpressions"][0]["values"] == ["lab-real"]


def test_a_claim_of_another_storage_class_is_left_to_its_provisioner():
    sts = _statefulset()
    sts["spec"]["volumeClaimTemplates"][0]["spec"]["storageClassName"] = "fast"
    assert node_volumes.claims([sts], "lab") == []


def test_a_wait_goes_on_while_there_is_progress_and_says_why_it_gave_up(monkeypatch):
    monkeypatch.setattr(node_wait, "IDLE", 0.3)
    ticks = iter(range(1000))
    started = time.monotonic()
    calls = {"n": 0}

    def done() -> bool:
        calls["n"] += 1
        return time.monotonic() - started > 0.8  # longer than IDLE, but always moving

    node_wait.until(done, lambda: next(ticks), _raise, every=0.01)
    assert calls["n"] > 10
    with pytest.raises(OpsError, match=r"stuck: no progress for \d+s"):
        node_wait.until(lambda: False, lambda: "same", _raise, every=0.01)


def _raise(why: str):
    raise OpsError(f"stuck: {why}", "look")


def test_an_apiserver_that_never_gets_ready_names_its_last_log_line(cfg, tmp_path, monkeypatch):
    monkeypatch.setenv("OPSKIT_STATE_DIR", str(tmp_path))
    monkeypatch.setattr(node_wait, "IDLE", 0.2)
    cluster = KwokCluster(cfg, "lab")
    logs = cluster.cluster_dir / "logs"
    logs.mkdir(parents=True)
    (logs / "kube-apiserver.log").write_text("E1206 bind: address already in use\n")
    monkeypatch.setattr(KwokCluster, "_ready", lambda self: False)
    with pytest.raises(OpsError) as caught:
        cluster._wait_api()
    assert "kwok cluster lab: apiserver not ready (no progress for" in caught.value.message
    assert caught.value.message.endswith("E1206 bind: address already in use")


def test_fake_nodes_that_never_register_name_the_kwok_controllers_last_line(tmp_path, monkeypatch):
    from tests.unit.test_real_node_parts import _Kube

    monkeypatch.setattr(node_wait, "IDLE", 0.2)
    log = tmp_path / "kwok-controller.log"
    log.write_text("E1206 failed to watch nodes: connection refused\n")
    with pytest.raises(OpsError) as caught:
        node_wait.nodes_ready(_Kube([]), None, None, "kwok-controller", print, "type=kwok", log)
    assert caught.value.message.startswith("node not Ready (no progress for")
    assert "no node registered" in caught.value.message
    assert caught.value.message.endswith(
        "kwok-controller's last log line: E1206 failed to watch nodes: connection refused"
    )
    assert caught.value.hint == f"see {log}"


def test_an_image_is_pushed_to_an_archive_once_and_reused_by_the_next_node(tmp_path, monkeypatch):
    from opskit.clusters import node_images
    from tests.fakes import recorder

    monkeypatch.setenv("OPSKIT_STATE_DIR", str(tmp_path))
    image = "localhost/gitops-lab/redis-standin:766eb1cc6f"
    ident = "sha256:" + "ab" * 32

    def buildah(argv, _stdin):  # `images` names the ID; `push` writes where its argv says
        if argv[1] == "push":
            Path(argv[-1].split(":")[1]).write_text("oci")
        return 0, ident + "\n" if argv[1] == "images" else "", ""

    fakes = {"buildah": buildah}
    with recorder(fakes) as calls:
        first = node_images.image_archive(image)
        again = node_images.image_archive(image)
    name = f"localhost_gitops-lab_redis-standin--766eb1cc6f--{'ab' * 8}.oci.tar"
    assert first == again == tmp_path / "images" / name
    partial = f"{first}.partial"
    assert calls == [
        ("buildah", "images", "--quiet", "--no-trunc", image),
        ("buildah", "push", "--quiet", image, f"oci-archive:{partial}:{image}"),
        ("buildah", "images", "--quiet", "--no-trunc", image),
    ]
    with recorder(fakes) as more:  # another tag of the same image ID: its own archive
        other = node_images.image_archive(image.replace("766eb1cc6f", "other"))
    assert other != first and other.name.endswith(f"--other--{'ab' * 8}.oci.tar")
    assert more[1][1] == "push"


def test_an_image_missing_from_buildah_is_a_one_line_error(tmp_path, monkeypatch):
    from opskit.clusters import node_images
    from tests.fakes import recorder

    monkeypatch.setenv("OPSKIT_STATE_DIR", str(tmp_path))
    with recorder({"buildah": (0, "", "")}), pytest.raises(OpsError) as caught:
        node_images.image_archive("localhost/gitops-lab/x:1")
    assert caught.value.message == "image localhost/gitops-lab/x:1 is not in buildah's store"
    assert not (tmp_path / "images").exists()


def test_after_a_restart_the_fake_nodes_leases_are_dropped_for_the_new_controller(cfg, monkeypatch):
    from opskit.core.shell import Result

    calls: list[tuple[str, ...]] = []

    class Kube:
        def run(self, *args, **_options):
            calls.append(args)
            return Result(0, "node/node-000000\nnode/node-000001\n" if args[0] == "get" else "", "")

    monkeypatch.setattr(KwokCluster, "kube", lambda self: Kube())
    said: list[str] = []
    KwokCluster(cfg, "lab")._release_fake_leases(said.append)
    assert calls == [
        ("get", "nodes", "-l", "type=kwok", "-o", "name"),
        ("delete", "lease", "-n", "kube-node-lease", "--ignore-not-found",
         "node-000000", "node-000001"),
    ]  # fmt: skip
    assert said == [
        "releasing the node leases of the stopped kwok-controller: node-000000, node-000001"
    ]
