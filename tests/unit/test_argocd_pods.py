"""ArgoCD as pods on the embedded cluster's real node: the release's install.yaml with its
images substituted by name (and nothing else changed), KSOPS wired into the repo-server as
on k3d, the root's overlay sources given the stand-ins' component, and the wait that names
a crash-looping pod by its last log line."""

import copy
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from opskit.core import config
from opskit.core.errors import OpsError
from opskit.gitops import argocd, install, pods
from opskit.images import argocd as images
from opskit.kube import young
from opskit.kube.kubectl import Kube
from tests import fakes

ROOT = Path(__file__).resolve().parents[2]
KUBE = Kube("/state/kubeconfig", "kwok-gitops-lab")
BASE = ("kubectl", "--kubeconfig", "/state/kubeconfig", "--context", "kwok-gitops-lab")
LOCAL = {
    "quay.io/argoproj/argocd": "localhost/gitops-lab/argocd:v3.6.1-aaaa",
    "viaductoss/ksops": "localhost/gitops-lab/ksops:v3.13.3-bbbb",
    "ghcr.io/dexidp/dex": "localhost/gitops-lab/dex-standin:cccc",
    "public.ecr.aws/docker/library/redis": "localhost/gitops-lab/redis-standin:dddd",
}


def deployment(name: str, *containers: dict, init: tuple[dict, ...] = ()) -> dict:
    spec = {"containers": list(containers)}
    if init:
        spec["initContainers"] = list(init)
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name},
        "spec": {"template": {"spec": spec}},
    }


ARGOCD = "quay.io/argoproj/argocd:v3.6.1"
INSTALL = [
    {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "argocd-cm"}, "data": {}},
    deployment(
        "argocd-repo-server",
        {"name": "argocd-repo-server", "image": ARGOCD, "imagePullPolicy": "Always"},
        init=({"name": "copyutil", "image": ARGOCD, "imagePullPolicy": "Always"},),
    ),
    deployment(
        "argocd-redis",
        {"name": "redis", "image": "public.ecr.aws/docker/library/redis:8.10.1-alpine"},
        init=({"name": "secret-init", "image": ARGOCD},),
    ),
    deployment(
        "argocd-dex-server",
        {"name": "dex", "image": "ghcr.io/dexidp/dex:v2.46.0", "args": ["rundex"]},
    ),
]


@pytest.fixture
def release(tmp_path):
    folder = tmp_path / "argo-cd@v3.6.1"
    (folder / "manifests").mkdir(parents=True)
    (folder / "manifests" / "install.yaml").write_text(
        "\n---\n".join(json.dumps(doc) for doc in INSTALL)
    )
    return folder


def by_name(objects: list[dict]) -> dict[str, dict]:
    return {o["metadata"]["name"]: o for o in objects}


def test_every_image_is_replaced_by_its_stand_in_and_nothing_else_changes(release):
    objects = by_name(install.upstream_objects(release, "argocd", images=LOCAL, embedded=True))
    upstream = by_name(install.upstream_objects(release, "argocd"))
    for name in ("argocd-redis", "argocd-dex-server"):
        want = copy.deepcopy(upstream[name])
        for container in install.containers(want):
            container["image"] = LOCAL[install.repository(container["image"])]
            container["imagePullPolicy"] = "IfNotPresent"
        assert objects[name] == want
    redis = objects["argocd-redis"]["spec"]["template"]["spec"]
    assert redis["containers"][0]["image"] == "localhost/gitops-lab/redis-standin:dddd"
    assert redis["initContainers"][0]["image"] == "localhost/gitops-lab/argocd:v3.6.1-aaaa"
    dex = objects["argocd-dex-server"]["spec"]["template"]["spec"]["containers"][0]
    assert (dex["image"], dex["args"]) == ("localhost/gitops-lab/dex-standin:cccc", ["rundex"])


def test_the_repo_server_gets_ksops_and_the_age_key_as_on_k3d_only_the_images_differ(release):
    node = by_name(install.upstream_objects(release, "argocd", images=LOCAL, embedded=True))
    k3d = by_name(install.upstream_objects(release, "argocd"))
    spec = node["argocd-repo-server"]["spec"]["template"]["spec"]
    init = {c["name"]: c for c in spec["initContainers"]}
    assert init["install-ksops"] == {
        "name": "install-ksops",
        "image": "localhost/gitops-lab/ksops:v3.13.3-bbbb",
        "command": ["/usr/local/bin/ksops", "install", "/custom-tools"],
        "volumeMounts": [{"mountPath": "/custom-tools", "name": "custom-tools"}],
        "imagePullPolicy": "IfNotPresent",
    }
    server = spec["containers"][0]
    assert {"mountPath": "/usr/local/bin/ksops", "name": "custom-tools", "subPath": "ksops"} in (
        server["volumeMounts"]
    )
    assert server["env"] == [
        {"name": "SOPS_AGE_KEY_FILE", "value": "/home/argocd/.config/sops/age/keys.txt"}
    ]

    def without_images(obj):
        obj = copy.deepcopy(obj)
        for container in install.containers(obj):
            container.pop("image"), container.pop("imagePullPolicy", None)
        return obj

    assert without_images(node["argocd-repo-server"]) == without_images(k3d["argocd-repo-server"])
    assert k3d["argocd-repo-server"]["spec"]["template"]["spec"]["initContainers"][1]["image"] == (
        install.KSOPS_IMAGE
    )


def test_the_embedded_config_judges_ingress_and_excludes_what_the_cluster_lacks(release):
    objects = install.upstream_objects(
        release, "argocd", images=LOCAL, embedded=True, absent=("monitoring.coreos.com",)
    )
    data = by_name(objects)["argocd-cm"]["data"]
    assert data["kustomize.buildOptions"] == "--enable-alpha-plugins --enable-exec"
    assert (
        "no ingress controller" in data["resource.customizations.health.networking.k8s.io_Ingress"]
    )
    assert "monitoring.coreos.com" in data["resource.exclusions"]


def test_an_image_without_a_stand_in_stops_the_install_before_anything_is_applied(release):
    partial = {k: v for k, v in LOCAL.items() if "dex" not in k}
    with pytest.raises(OpsError) as info:
        install.upstream_objects(release, "argocd", images=partial, embedded=True)
    assert str(info.value).startswith(
        "the release's install.yaml names ghcr.io/dexidp/dex:v2.46.0, which is not built here "
        "(in Deployment argocd-dex-server)"
    )


@pytest.mark.parametrize(
    ("image", "repository"),
    [
        ("quay.io/argoproj/argocd:v3.6.1", "quay.io/argoproj/argocd"),
        ("localhost:5000/x/y:1", "localhost:5000/x/y"),
        ("redis", "redis"),
        ("redis:7@sha256:" + "0" * 64, "redis"),
        ("ghcr.io/dexidp/dex@sha256:" + "1" * 64, "ghcr.io/dexidp/dex"),
    ],
)
def test_repository_drops_tag_and_digest_but_keeps_a_registry_port(image, repository):
    assert install.repository(image) == repository


def test_the_pinned_release_install_yaml_has_a_stand_in_for_every_image():
    cfg = config.load(ROOT / "opskit.yaml")
    release = install.release_dir(cfg.require_argocd().version)  # the Go module cache
    objects = install.upstream_objects(release, "argocd", images=LOCAL, embedded=True)
    used = {c["image"] for o in objects for c in install.containers(o)}
    assert used == set(LOCAL.values())
    assert {c["imagePullPolicy"] for o in objects for c in install.containers(o)} == {
        "IfNotPresent"
    }


def test_stand_in_images_are_named_as_such_and_tagged_by_their_inputs(tmp_path, monkeypatch):
    release = tmp_path / "release"
    for name in images.HELPERS:
        (release / name).parent.mkdir(parents=True, exist_ok=True)
        (release / name).write_text("#!/bin/sh\n")
    stamp = {
        "argocd": {"version": "v3.6.1", "key": "k1"},
        "kustomize": {"version": "v5.8.3", "key": "k2"},
        "ksops": {"version": "v3.13.3", "key": "k3"},
    }
    monkeypatch.setattr(images, "_stamp", lambda: stamp)
    first = images.planned(release)
    assert first["quay.io/argoproj/argocd"].startswith("localhost/gitops-lab/argocd:v3.6.1-")
    assert first["viaductoss/ksops"].startswith("localhost/gitops-lab/ksops:v3.13.3-")
    assert first["ghcr.io/dexidp/dex"].startswith("localhost/gitops-lab/dex-standin:")
    assert first["public.ecr.aws/docker/library/redis"].startswith(
        "localhost/gitops-lab/redis-standin:"
    )
    stamp["argocd"]["key"] = "rebuilt"
    (release / images.HELPERS[0]).write_text("#!/bin/sh\n# changed\n")
    second = images.planned(release)
    assert second["quay.io/argoproj/argocd"] != first["quay.io/argoproj/argocd"]
    assert second["viaductoss/ksops"] == first["viaductoss/ksops"]


def test_the_root_adds_the_stand_ins_component_to_overlay_sources_only():
    cfg = config.load(ROOT / "opskit.yaml")
    url = "git://10.0.0.5:9418/"
    component = Path("k8s/components/embedded-standins")
    root = argocd.root_application(cfg, url, platform=False, components=(component,))
    patches = {
        (p["target"]["kind"], p["target"]["name"]): json.loads(p["patch"])
        for p in root["spec"]["source"]["kustomize"]["patches"]
    }
    dev = patches[("Application", "gitops-lab-dev")]
    assert dev == [
        {"op": "replace", "path": "/spec/sources/0/repoURL", "value": url},
        {"op": "replace", "path": "/spec/sources/1/repoURL", "value": url},
        {
            "op": "add",
            "path": "/spec/sources/0/kustomize",
            "value": {"components": ["../../components/embedded-standins"]},
        },
    ]  # source 1 (k8s/overlays/dev/secrets) is not an overlay: no component
    assert (ROOT / "k8s/overlays/dev/../../components/embedded-standins").is_dir()
    plain = argocd.root_application(cfg, url, platform=False)
    assert all(
        "kustomize" not in json.dumps(p) for p in plain["spec"]["source"]["kustomize"]["patches"]
    )


# --- the wait -------------------------------------------------------------------------------


def pod(name: str, owner_hash: str, *statuses: dict, init: tuple[dict, ...] = ()) -> dict:
    return {
        "kind": "Pod",
        "metadata": {"name": name, "labels": {"pod-template-hash": owner_hash}},
        "status": {"containerStatuses": list(statuses), "initContainerStatuses": list(init)},
    }


def cs(name: str, restarts=0, waiting="", exit_code=0, started="") -> dict:
    state = {"waiting": {"reason": waiting, "message": "back-off"}} if waiting else {}
    if started:
        state = {"running": {"startedAt": started}}
    last = {"terminated": {"exitCode": exit_code}} if restarts else {}
    ready = not waiting
    return {
        "name": name,
        "restartCount": restarts,
        "state": state,
        "lastState": last,
        "ready": ready,
    }


def workloads(ready: bool) -> list[dict]:
    status = {"replicas": 1, "updatedReplicas": 1, "availableReplicas": 1 if ready else 0}
    return [
        {
            "kind": "Deployment",
            "metadata": {
                "name": "argocd-server",
                "generation": 2,
                "annotations": {pods.REVISION: "2"},
            },
            "spec": {"replicas": 1},
            "status": {**status, "observedGeneration": 2},
        },
        *(
            {
                "kind": "ReplicaSet",
                "metadata": {
                    "name": f"argocd-server-{h}",
                    "labels": {"pod-template-hash": h},
                    "annotations": {pods.REVISION: rev},
                    "ownerReferences": [{"name": "argocd-server"}],
                },
            }
            for h, rev in (("old", "1"), ("new", "2"))
        ),
    ]


def test_only_pods_of_the_current_revision_count_as_crash_looping():
    items = [
        *workloads(ready=False),
        pod("argocd-server-old-x", "old", cs("argocd-server", 5, "CrashLoopBackOff", 1)),
        pod("argocd-server-new-y", "new", cs("argocd-server")),
    ]
    assert pods.failing(items) == []
    items.append(pod("argocd-server-new-s", "new", cs("argocd-server", 1, "CrashLoopBackOff", 2)))
    assert pods.failing(items) == []  # one crash at startup: upstream's normal (dex)
    items.append(pod("argocd-server-new-r", "new", cs("argocd-server", 5, started="2026-12-06")))
    assert pods.failing(items) == []  # running again: settling, not failing
    items.append(pod("argocd-server-new-z", "new", cs("argocd-server", 2, "CrashLoopBackOff", 2)))
    assert pods.failing(items) == [
        pods.Failing("argocd-server-new-z", "argocd-server", "CrashLoopBackOff", "back-off")
    ]
    init = pod("argocd-server-new-i", "new", init=(cs("install-ksops", 0, "ImagePullBackOff"),))
    assert pods.failing([*workloads(False), init])[0].container == "install-ksops"


def test_a_restarted_container_counts_as_up_only_after_it_stayed_up():
    now = datetime(2026, 12, 6, 3, 0, tzinfo=UTC)
    recent = (now - timedelta(seconds=5)).isoformat().replace("+00:00", "Z")
    items = [*workloads(ready=True), pod("argocd-server-new-y", "new", cs("a", 1, started=recent))]
    assert pods.settling(items, now) == ["pod/argocd-server-new-y"]
    assert pods.settling(items, now + timedelta(seconds=pods.STEADY)) == []
    fresh = probed(pod("argocd-server-new-y", "new", cs("a", 0, started=recent)))
    assert pods.settling([*workloads(ready=True), fresh], now) == []


def probed(obj: dict) -> dict:
    """The pod with a readiness probe on each of its containers."""
    names = [c["name"] for c in obj["status"]["containerStatuses"]]
    probe = {"httpGet": {"path": "/healthz", "port": 8080}}
    return {**obj, "spec": {"containers": [{"name": n, "readinessProbe": probe} for n in names]}}


def test_a_container_without_a_readiness_probe_counts_as_up_only_after_a_few_seconds():
    """Its Ready says only that it runs: a notifications controller told a log level that
    does not exist is Ready for the moment before it exits, and an install reading it then
    must not call ArgoCD installed (seen on a fresh clone's e2e-node run)."""
    now = datetime(2026, 12, 6, 3, 0, tzinfo=UTC)
    just = (now - timedelta(seconds=1)).isoformat().replace("+00:00", "Z")
    bare = pod("argocd-server-new-y", "new", cs("a", 0, started=just))
    assert pods.settling([*workloads(ready=True), bare], now) == ["pod/argocd-server-new-y"]
    assert pods.settling([*workloads(ready=True), bare], now + timedelta(seconds=young.YOUNG)) == []
    assert pods.settling([*workloads(ready=True), probed(bare)], now) == []


def test_a_workload_whose_pod_was_just_deleted_is_not_available_though_its_status_says_so():
    """The status still counts the deleted pod, the replacement does not exist yet: an
    install then must wait (and see it crash-loop), not call ArgoCD already installed."""
    going = pod("argocd-server-new-y", "new", cs("argocd-server"))
    going["metadata"]["deletionTimestamp"] = "2026-12-06T03:00:00Z"
    assert pods.unready([*workloads(ready=True), going]) == ["deployment/argocd-server"]
    starting = pod("argocd-server-new-z", "new", cs("argocd-server", waiting="ContainerCreating"))
    assert pods.unready([*workloads(True), going, starting]) == ["deployment/argocd-server"]
    up = pod("argocd-server-new-z", "new", cs("argocd-server"))
    assert pods.unready([*workloads(True), going, up]) == []
    old = pod("argocd-server-old-x", "old", cs("argocd-server"))
    assert pods.unready([*workloads(True), old]) == ["deployment/argocd-server"]


def test_a_crash_looping_controller_fails_the_wait_in_one_line_with_its_last_log_line():
    items = [
        *workloads(ready=False),
        pod("argocd-server-new-z", "new", cs("argocd-server", 3, "CrashLoopBackOff", 1)),
    ]

    def kubectl(argv, stdin):
        if argv[len(BASE)] == "get":
            return 0, json.dumps({"items": items}), ""
        # the error, then the usage cobra prints after it (its streams reach the log in
        # either order): the line naming the error is the one said
        usage = "Usage:\n  argocd-server [flags]\n      --loglevel string   debug|info|error\n"
        return 0, f'starting\nlevel=fatal msg="unknown flag --bogus"\n{usage}', ""

    with fakes.recorder({"kubectl": kubectl}) as calls, pytest.raises(OpsError) as info:
        pods.wait_available(KUBE, "argocd", timeout=5)
    assert info.value.message == (
        "ArgoCD pod argocd-server-new-z (argocd-server) is in CrashLoopBackOff: "
        'level=fatal msg="unknown flag --bogus"'
    )
    assert info.value.hint == (
        "see `kubectl logs -n argocd argocd-server-new-z -c argocd-server --previous`; "
        "fix it and run `invoke argocd.install` again"
    )
    assert "\n" not in str(info.value)
    assert calls == [
        (*BASE, "get", pods.KINDS, "-n", "argocd", "-o", "json"),
        (*BASE, "logs", "-n", "argocd", "argocd-server-new-z", "-c", "argocd-server",
         "--previous", "--tail=40"),
    ]  # fmt: skip


def test_a_rerun_restarts_crash_looping_pods_and_then_waits_for_them():
    answers = iter(
        [
            [
                *workloads(False),
                pod("argocd-server-new-z", "new", cs("s", 4, "CrashLoopBackOff", 1)),
            ],
            [*workloads(False), pod("argocd-server-new-w", "new", cs("s"))],
            [*workloads(True), pod("argocd-server-new-w", "new", cs("s"))],
        ]
    )

    def kubectl(argv, stdin):
        if argv[len(BASE)] == "get":
            return 0, json.dumps({"items": next(answers)}), ""
        return 0, "", ""

    lines = []
    with fakes.recorder({"kubectl": kubectl}) as calls:
        assert pods.restart_crashing(KUBE, "argocd", lines.append) == ["argocd-server-new-z"]
        pods.wait_available(KUBE, "argocd", timeout=30, report=lines.append)
    assert (
        *BASE, "delete", "pod", "-n", "argocd", "--wait=false", "argocd-server-new-z"
    ) in calls  # fmt: skip
    assert lines == ["restarting crash-looping argocd-server-new-z"]


def test_bootstrap_on_the_real_node_gives_the_overlays_the_clusters_components(
    tmp_path, monkeypatch
):
    """The root's overlay sources get what `Cluster.components` adds at deploy, and the
    git server's URL at the node's address."""
    cfg = config.load(ROOT / "opskit.yaml")

    class Cluster:
        state_dir = tmp_path
        kubeconfig = Path("/state/kubeconfig")

        def has_real_node(self):
            return True

        def components(self):
            return (cfg.root / "k8s/components/embedded-standins",)

    class Conn:
        runs_containers = False
        kube = KUBE
        cluster = Cluster()
        components = cluster.components()

    home = argocd.local(cfg, Conn.cluster)
    applied = []

    def kubectl(argv, stdin):
        if argv[len(BASE)] == "get":
            return 0, "crd\n", ""
        applied.append(stdin)
        return 0, "", ""

    monkeypatch.setattr(type(home), "running", lambda self: {"git": 1})
    (tmp_path / "argocd").mkdir()
    (tmp_path / "argocd" / "ports.json").write_text('{"git": 9418}')
    with fakes.recorder({"kubectl": kubectl}):
        argocd.bootstrap(cfg, Conn(), report=lambda _line: None)
    source = json.loads(applied[0])["spec"]["source"]
    assert source["repoURL"] == f"git://{argocd.git_hosts()[-1]}:9418/"
    assert source["path"] == "k8s/argocd"
    patches = [json.loads(p["patch"]) for p in source["kustomize"]["patches"]]
    added = [op["value"] for ops in patches for op in ops if op["path"].endswith("/kustomize")]
    assert added == [{"components": ["../../components/embedded-standins"]}] * 2  # dev, prod


def test_an_install_of_the_same_objects_and_key_onto_settled_pods_applies_nothing(
    tmp_path, monkeypatch
):
    cfg = config.load(ROOT / "opskit.yaml")
    key = tmp_path / "keys.txt"
    key.write_text("not a real key\n")
    monkeypatch.setenv("SOPS_AGE_KEY_FILE", str(key))
    objects = [{"kind": "Namespace", "metadata": {"name": "argocd"}}, *workloads(True)[:1]]
    monkeypatch.setattr(install, "release_dir", lambda version: tmp_path)
    monkeypatch.setattr(install, "upstream_objects", lambda release, ns: objects)

    class Conn:
        runs_containers = True
        kube = KUBE

        class cluster:  # a stand-in for the suite's k3d cluster
            state_dir = tmp_path / "state"

    items = [*workloads(True), pod("argocd-server-new-y", "new", cs("argocd-server"))]

    def kubectl(argv, stdin):
        if argv[len(BASE)] == "get":
            return 0, json.dumps({"items": items}), ""
        return 0, '{"kind": "Secret"}', ""

    with fakes.recorder({"kubectl": kubectl}) as calls:
        assert argocd.install(cfg, Conn(), report=lambda _line: None) is True
        first = len(calls)
        assert argocd.install(cfg, Conn(), report=lambda _line: None) is False
    assert calls[first:] == [(*BASE, "get", pods.KINDS, "-n", "argocd", "-o", "json")]
    key.write_text("another key\n")  # a new key is applied again
    with fakes.recorder({"kubectl": kubectl}) as calls:
        assert argocd.install(cfg, Conn(), report=lambda _line: None) is True
    assert any("apply" in argv for argv in calls)
    assert "another key" not in (tmp_path / "state" / "argocd" / "applied.sha256").read_text()


def test_the_line_said_is_the_one_naming_the_error_not_a_flag_of_the_usage_after_it():
    from opskit.kube import logs

    cobra = (
        'Error: failed to parse log level: not a valid logrus Level: "no-such-level"\n'
        "Usage:\n  argocd-notifications [flags]\n\nFlags:\n"
        "      --loglevel string   Set the logging level. One of: debug|info|warn|error\n"
        "      --metrics-port int   Metrics port (default 9001)\n"
    )
    assert logs.telling_line(cobra).endswith('Level: "no-such-level"')
    assert logs.telling_line("starting\nlistening on :8080\n") == "listening on :8080"
    assert logs.telling_line("\n  \n") == ""
    assert len(logs.telling_line("fatal " + "x" * 500)) == logs.LONGEST
