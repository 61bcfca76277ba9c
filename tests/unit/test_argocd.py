"""ArgoCD tasks: exact kubectl argv and manifests where its controllers cannot run (k3d,
minikube), the root Application and its repo-URL override, status and wait logic."""

import json
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from opskit.clusters import argocd_local
from opskit.clusters.daemons import alive
from opskit.core import config, shell
from opskit.core.errors import OpsError
from opskit.gitops import argocd, install, wait
from opskit.kube.kubectl import Kube
from tests import fakes

KUBE = Kube("/state/kubeconfig", "k3d-gitops-lab")
BASE = ("kubectl", "--kubeconfig", "/state/kubeconfig", "--context", "k3d-gitops-lab")
APPLY = ("apply", "--server-side", "--force-conflicts", "--field-manager=opskit", "-f", "-")
CM = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "argocd-cm"}, "data": {}}
PARAMS = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "argocd-cmd-params-cm"}}
REPO_SERVER = {
    "apiVersion": "apps/v1",
    "kind": "Deployment",
    "metadata": {"name": "argocd-repo-server"},
    "spec": {"template": {"spec": {"containers": [{"name": "argocd-repo-server"}]}}},
}
CRD = {
    "apiVersion": "apiextensions.k8s.io/v1",
    "kind": "CustomResourceDefinition",
    "metadata": {"name": "applications.argoproj.io"},
}

# a stand-in, not a key: built at run time so no key-shaped literal sits in the file
KEY_PREFIX = "-".join(("AGE", "SECRET", "KEY"))
FAKE_AGE_KEY = f"{KEY_PREFIX}-1TEST"


@dataclass
class FakeCluster:
    state_dir: Path
    kubeconfig: Path = Path("/state/kubeconfig")

    def has_real_node(self) -> bool:
        return False

    def components(self) -> tuple[Path, ...]:
        return ()


@dataclass
class FakeConnection:
    """What opskit.clusters.connect returns: kubectl, the suite's cluster, containers or not."""

    runs_containers: bool
    state_dir: Path
    kube: Kube = KUBE

    @property
    def cluster(self):
        return FakeCluster(self.state_dir)

    @property
    def components(self) -> tuple[Path, ...]:
        return self.cluster.components()


@pytest.fixture
def cfg(tmp_path, root):
    shutil.copy(root / "opskit.yaml", tmp_path / "opskit.yaml")
    for folder in ("argocd", "platform", "monitoring"):
        shutil.copytree(root / "k8s" / folder, tmp_path / "k8s" / folder)
    return config.load(tmp_path / "opskit.yaml")


@pytest.fixture
def release(tmp_path, monkeypatch):
    """A stand-in for the release module's manifests/ (the real one is 36k lines)."""
    folder = tmp_path / "argo-cd@v3.6.1" / "manifests"
    (folder / "crds").mkdir(parents=True)
    (folder / "base" / "config").mkdir(parents=True)
    (folder / "crds" / "application-crd.yaml").write_text(yaml.safe_dump(CRD))
    (folder / "base" / "config" / "argocd-cm.yaml").write_text(yaml.safe_dump(CM))
    (folder / "install.yaml").write_text(yaml.safe_dump_all([CRD, CM, PARAMS, REPO_SERVER]))
    monkeypatch.setattr(install, "release_dir", lambda version: folder.parent)
    return folder.parent


def fake_kubectl(crd_installed=True, items=()):
    applied = []

    def kubectl(argv, stdin):
        verb = argv[len(BASE)]
        if verb == "get" and argv[len(BASE) + 1] == "crd":
            return (0, "crd\n", "") if crd_installed else (1, "", "NotFound")
        if verb == "get":
            return 0, json.dumps({"items": list(items)}), ""
        if verb == "create":  # the age-key Secret, rendered client-side
            return 0, '{"kind": "Secret"}', ""
        applied.append((argv, stdin))
        return 0, "", ""

    return kubectl, applied


def test_release_module_is_found_with_the_go_command_and_the_newer_toolchain(root):
    answer = json.dumps({"Dir": "/mod/github.com/argoproj/argo-cd/v3@v3.6.1"})
    with fakes.recorder({"go": (0, answer, "")}) as calls:
        found = install.release_dir("v3.6.1")
    assert found == Path("/mod/github.com/argoproj/argo-cd/v3@v3.6.1")
    assert calls == [("go", "mod", "download", "-json", "github.com/argoproj/argo-cd/v3@v3.6.1")]


def test_container_cluster_gets_the_release_manifest_plus_ksops_and_the_age_key(
    cfg, release, tmp_path
):
    key = tmp_path / "keys.txt"
    key.write_text(FAKE_AGE_KEY + "\n")
    kubectl, applied = fake_kubectl()
    with fakes.recorder({"kubectl": kubectl}) as calls:
        objects = install.upstream_objects(release, "argocd")
        steps = install.upstream_steps(cfg, KUBE, objects, key)
        for step in steps:
            shell.run_step(step)
    assert calls[1] == (
        *BASE,
        "create",
        "secret",
        "generic",
        "sops-age",
        "-n",
        "argocd",
        f"--from-file=keys.txt={key}",
        "--dry-run=client",
        "-o",
        "json",
    )
    assert [argv for argv, _ in applied] == [
        (*BASE, *APPLY),
        (*BASE, *APPLY),  # the age key, piped from `create --dry-run`
        (*BASE, *APPLY),
    ]  # then opskit.gitops.pods waits for the pods (tests/unit/test_argocd_pods.py)
    assert KEY_PREFIX not in " ".join(" ".join(a) for a in calls)
    items = json.loads(applied[2][1])["items"]
    cm, params = (i for i in items if i["kind"] == "ConfigMap")
    assert cm["data"]["kustomize.buildOptions"] == "--enable-alpha-plugins --enable-exec"
    assert params["data"] == {"controller.resource.health.persist": "true"}
    assert cm["metadata"]["namespace"] == "argocd"
    server = next(i for i in items if i["kind"] == "Deployment")["spec"]["template"]["spec"]
    init = server["initContainers"][0]
    assert init["image"] == "viaductoss/ksops:v4.5.1"
    assert_runs_in_ksops_image(init)
    container = server["containers"][0]
    assert {"mountPath": "/usr/local/bin/ksops", "name": "custom-tools", "subPath": "ksops"} in (
        container["volumeMounts"]
    )
    assert container["env"] == [
        {"name": "SOPS_AGE_KEY_FILE", "value": "/home/argocd/.config/sops/age/keys.txt"}
    ]
    assert {"name": "sops-age", "secret": {"secretName": "sops-age"}} in server["volumes"]
    crd = next(i for i in items if i["kind"] == "CustomResourceDefinition")
    assert "namespace" not in crd["metadata"]


def test_embedded_install_objects_enable_plugins_judge_ingress_and_add_default_project(release):
    objects = install.local_objects(release, "argocd")
    kinds = [(o["kind"], o["metadata"]["name"]) for o in objects]
    assert kinds == [
        ("Namespace", "argocd"),
        ("CustomResourceDefinition", "applications.argoproj.io"),
        ("ConfigMap", "argocd-cm"),
        ("AppProject", "default"),
    ]
    data = objects[2]["data"]
    assert data["kustomize.buildOptions"] == "--enable-alpha-plugins --enable-exec"
    assert (
        "no ingress controller" in data["resource.customizations.health.networking.k8s.io_Ingress"]
    )


def test_root_application_on_the_embedded_cluster_reads_the_loopback_git_server(cfg):
    url = "git://127.0.0.1:9418/"
    root = argocd.root_application(cfg, url, platform=False)
    assert root["metadata"] == {**root["metadata"], "name": "gitops-lab", "namespace": "argocd"}
    source = root["spec"]["source"]
    assert (source["repoURL"], source["path"]) == (url, "k8s/argocd")
    patches = {
        (p["target"]["kind"], p["target"]["name"]): json.loads(p["patch"])
        for p in source["kustomize"]["patches"]
    }
    assert patches[("AppProject", "gitops-lab")] == [
        {"op": "add", "path": "/spec/sourceRepos/-", "value": url}
    ]
    assert patches[("Application", "gitops-lab-dev")] == [
        {"op": "replace", "path": f"/spec/sources/{i}/repoURL", "value": url} for i in (0, 1)
    ]
    committed = argocd.root_application(cfg)
    assert committed["spec"]["source"]["repoURL"] == cfg.project.repo_url
    assert committed["spec"]["source"]["path"] == "k8s/platform"
    assert "kustomize" not in committed["spec"]["source"]


def test_url_patches_rewrite_repository_sources_but_never_the_chart_repository(cfg):
    """The patches, run through kustomize for real: the monitoring chart still comes from
    its Helm repository, its values (`ref: values`) from the embedded git server."""
    url = "git://127.0.0.1:9418/"
    source = argocd.root_application(cfg, url)["spec"]["source"]
    assert source["path"] == "k8s/platform"
    folder = cfg.root / "k8s" / "platform"
    kustomization = yaml.safe_load((folder / "kustomization.yaml").read_text())
    kustomization["patches"] = source["kustomize"]["patches"]
    (folder / "kustomization.yaml").write_text(yaml.safe_dump(kustomization))
    rendered = shell.run(["kubectl", "kustomize", str(folder)]).stdout
    objects = {o["metadata"]["name"]: o for o in yaml.safe_load_all(rendered)}
    chart, values = objects["gitops-lab-monitoring"]["spec"]["sources"]
    assert (chart["repoURL"], chart["chart"]) == (cfg.monitoring.repo_url, cfg.monitoring.chart)
    assert (values["repoURL"], values["ref"]) == (url, "values")
    assert {s["repoURL"] for s in objects["gitops-lab-dev"]["spec"]["sources"]} == {url}
    assert objects["platform"]["spec"]["sourceRepos"] == [
        cfg.monitoring.repo_url,
        cfg.project.repo_url,
        url,
    ]


def test_root_is_outside_what_it_renders_so_it_cannot_undo_its_override(cfg):
    kustomization = yaml.safe_load((cfg.root / "k8s/argocd/kustomization.yaml").read_text())
    assert argocd.ROOT_FILE not in kustomization["resources"]
    root = yaml.safe_load((cfg.root / "k8s/argocd/root.yaml").read_text())
    assert root["spec"]["project"] == "default"
    assert root["spec"]["source"]["targetRevision"] == cfg.project.revision


def test_bootstrap_applies_exactly_one_object(cfg, tmp_path):
    kubectl, applied = fake_kubectl()
    with fakes.recorder({"kubectl": kubectl}):
        name = argocd.bootstrap(cfg, FakeConnection(True, tmp_path))
    assert name == "gitops-lab"
    ((argv, stdin),) = applied
    assert argv == (*BASE, *APPLY[:4], "-n", "argocd", "-f", "-")
    assert json.loads(stdin)["kind"] == "Application"


@pytest.fixture
def local_argocd_running(tmp_path):
    """Processes that carry the local ArgoCD's marker (what `running()` checks), git on 9418."""
    import subprocess

    home = argocd_local.LocalArgoCD(tmp_path, Path("/state/kubeconfig"))
    (home.home / "run").mkdir(parents=True)
    (home.home / "ports.json").write_text(json.dumps({"git": 9418}))
    env = {argocd_local.MARKER: str(home.home), "PATH": "/usr/bin:/bin"}
    procs = [subprocess.Popen(["sleep", "120"], env=env) for _ in argocd_local.NAMES]
    for name, proc in zip(argocd_local.NAMES, procs, strict=True):
        home.pidfile(name).write_text(f"{proc.pid}\n")
    yield home
    for proc in procs:
        proc.kill()
        proc.wait()


@pytest.mark.parametrize(
    ("runs_containers", "path", "repo_url"),
    [
        (False, "k8s/argocd", "git://127.0.0.1:9418/"),  # kwok: no monitoring
        (True, "k8s/platform", "https://github.com/gitops-lab/gitops-lab.git"),
    ],  # k3d, minikube
)
def test_bootstrap_renders_the_platform_only_where_containers_run(
    cfg, tmp_path, local_argocd_running, runs_containers, path, repo_url
):
    kubectl, applied = fake_kubectl()
    lines = []
    with fakes.recorder({"kubectl": kubectl}) as calls:
        argocd.bootstrap(cfg, FakeConnection(runs_containers, tmp_path), report=lines.append)
    assert calls == [
        (*BASE, "get", "crd", "applications.argoproj.io", "-o", "name"),
        (*BASE, *APPLY[:4], "-n", "argocd", "-f", "-"),
    ]
    ((_argv, stdin),) = applied
    source = json.loads(stdin)["spec"]["source"]
    assert (source["path"], source["repoURL"]) == (path, repo_url)
    if runs_containers:
        assert lines == []
    else:
        (line,) = lines
        assert line.startswith("monitoring is not synced here: the embedded cluster cannot fetch ")
        assert "renders k8s/argocd only; on k3d/minikube it renders k8s/platform" in line


def test_bootstrap_without_argocd_says_how_to_install_and_applies_nothing(cfg, tmp_path):
    kubectl, applied = fake_kubectl(crd_installed=False)
    with fakes.recorder({"kubectl": kubectl}), pytest.raises(OpsError) as info:
        argocd.bootstrap(cfg, FakeConnection(True, tmp_path))
    assert "invoke argocd.install" in str(info.value)
    assert applied == []
    with pytest.raises(OpsError, match="local processes are not running"):
        argocd.bootstrap(cfg, FakeConnection(False, tmp_path))


def test_unreachable_cluster_is_not_mistaken_for_a_missing_argocd(cfg):
    refused = (1, "", "The connection to the server 127.0.0.1:6443 was refused")
    with fakes.recorder({"kubectl": refused}), pytest.raises(OpsError) as info:
        argocd.states(cfg, KUBE)
    assert str(info.value) == (
        "cannot read the cluster at context k3d-gitops-lab: The connection to the server "
        "127.0.0.1:6443 was refused; is it running? (`invoke cluster.status`, `invoke cluster.up`)"
    )


def app(sync="Synced", health="Healthy", revision="a" * 40, phase="Succeeded", resources=()):
    return {
        "metadata": {"name": "gitops-lab-dev"},
        "status": {
            "sync": {"status": sync, "revisions": [revision, revision]},
            "health": {"status": health},
            "operationState": {
                "phase": phase,
                "message": "successfully synced",
                "syncResult": {"revisions": [revision]},
            },
            "resources": list(resources),
        },
    }


def test_status_table_and_json_have_revision_sync_health_and_last_operation(cfg):
    prod = {"metadata": {"name": "gitops-lab-prod"}, "operation": {"sync": {}}}
    kubectl, _ = fake_kubectl(items=[app(), prod])
    with fakes.recorder({"kubectl": kubectl}) as calls:
        rows = argocd.states(cfg, KUBE)
    assert calls[-1] == (*BASE, "get", "applications.argoproj.io", "-n", "argocd", "-o", "json")
    assert argocd.table(rows).splitlines() == [
        "APPLICATION      SYNC     HEALTH   REVISION      OPERATION",
        "gitops-lab-dev   Synced   Healthy  aaaaaaaaaaaa  Succeeded",
        "gitops-lab-prod  Unknown  Unknown  -             Requested",
    ]
    assert rows[0].as_json() == {
        "name": "gitops-lab-dev",
        "revision": "a" * 40,
        "sync": "Synced",
        "health": "Healthy",
        "last_operation": {
            "phase": "Succeeded",
            "revision": "a" * 40,
            "message": "successfully synced",
        },
    }


def scripted(objects):
    """kubectl answering each `get application` with the next object (the last repeats);
    a patch (a refresh) is answered and changes nothing."""
    queue = list(objects)

    def kubectl(argv, stdin):
        if "patch" in argv:
            return 0, "{}", ""
        obj = queue.pop(0) if len(queue) > 1 else queue[0]
        return 0, json.dumps(obj), ""

    return kubectl


def test_wait_reports_each_change_and_returns_at_the_revision(monkeypatch):
    monkeypatch.setattr(wait, "POLL_SECONDS", 0)
    new = "b" * 40
    answers = [
        app(),
        app("OutOfSync", "Healthy"),
        app("Synced", "Progressing", new, "Running"),
        app("Synced", "Healthy", new),
    ]
    lines = []
    with fakes.recorder({"kubectl": scripted(answers)}):
        state = wait.wait(KUBE, "argocd", "gitops-lab-dev", new, 30, report=lines.append)
    assert state.revision == new
    assert lines == [
        "gitops-lab-dev: Synced/Healthy at aaaaaaaaaaaa, operation Succeeded",
        "gitops-lab-dev: asking ArgoCD to read bbbbbbbbbbbb from git now (refresh)",
        "gitops-lab-dev: OutOfSync/Healthy at aaaaaaaaaaaa, operation Succeeded",
        "gitops-lab-dev: Synced/Progressing at bbbbbbbbbbbb, operation Running",
    ]


def test_wait_for_a_revision_argocd_has_not_read_asks_for_it_and_again_while_behind(monkeypatch):
    """`argocd.wait --revision X` after `release`: the controller would read X only at its
    next poll (minutes); wait refreshes at once, and every REFRESH_EVERY while still behind."""
    monkeypatch.setattr(wait, "POLL_SECONDS", 0)
    new = "e" * 40
    reads = scripted([app()] * 10 + [app("Synced", "Healthy", new)])  # reads at 0, 2, ... 20 s

    def kubectl(argv, stdin):
        return (0, "{}", "") if "patch" in argv else reads(argv, stdin)

    ticks = iter(range(0, 1000, 2))
    with fakes.recorder({"kubectl": kubectl}) as calls:
        state = wait.wait(
            KUBE, "argocd", "gitops-lab-dev", new, 60, lambda _l: None, lambda: next(ticks)
        )
    assert state.revision == new
    patches = [c for c in calls if "patch" in c]
    assert len(patches) == 2  # at 0 s and at 16 s (>= 15 s later), none in between
    assert patches[0][-2:] == (
        "-p",
        '{"metadata":{"annotations":{"argocd.argoproj.io/refresh":"hard"}}}',
    )


def test_wait_does_not_refresh_an_application_that_is_not_there_yet_or_syncing(monkeypatch):
    monkeypatch.setattr(wait, "POLL_SECONDS", 0)
    new = "f" * 40
    answers = [{}, app("Synced", "Progressing", "a" * 40, "Running"), app("Synced", "Healthy", new)]
    with fakes.recorder({"kubectl": scripted(answers)}) as calls:
        wait.wait(KUBE, "argocd", "gitops-lab-dev", new, 30, report=lambda _l: None)
    assert not [c for c in calls if "patch" in c]


def test_wait_asks_for_a_hard_refresh_when_a_comparison_error_sticks(monkeypatch):
    monkeypatch.setattr(wait, "POLL_SECONDS", 0)
    new = "d" * 40
    error = {"type": "ComparisonError", "message": "error unmarshaling predicted live"}
    stuck = app("Unknown", "Healthy", new)
    stuck["status"]["conditions"] = [error]
    reads = scripted([stuck] * 8 + [app("Synced", "Healthy", new)])  # reads at 0, 2, ... 14 s

    def kubectl(argv, stdin):
        return (0, "{}", "") if "patch" in argv else reads(argv, stdin)

    ticks, lines = iter(range(0, 1000, 2)), []
    with fakes.recorder({"kubectl": kubectl}) as calls:
        wait.wait(
            KUBE,
            "argocd",
            "gitops-lab-dev",
            new,
            60,
            report=lines.append,
            clock=lambda: next(ticks),
        )
    patches = [c for c in calls if "patch" in c]
    assert len(patches) == 1  # after 5 s of the error, not again before 15 s more
    assert patches[0][-2:] == (
        "-p",
        '{"metadata":{"annotations":{"argocd.argoproj.io/refresh":"hard"}}}',
    )
    assert lines[-1] == (
        "gitops-lab-dev: ComparisonError: error unmarshaling predicted live; asking for a hard "
        "refresh (compares without the cache)"
    )
    ticks = iter(range(0, 1000, 10))
    with fakes.recorder({"kubectl": scripted([stuck])}), pytest.raises(OpsError) as info:
        wait.wait(
            KUBE,
            "argocd",
            "gitops-lab-dev",
            new,
            25,
            report=lambda _l: None,
            clock=lambda: next(ticks),
        )
    assert info.value.message.endswith(
        "after 25s: ComparisonError: error unmarshaling predicted live"
    )


def test_wait_fails_in_one_line_naming_the_unhealthy_resource(monkeypatch):
    monkeypatch.setattr(wait, "POLL_SECONDS", 0)
    new = "c" * 40
    stuck = {
        "kind": "Deployment",
        "namespace": "gitops-lab-dev",
        "name": "api",
        "health": {"status": "Progressing", "message": "1 of 2 updated replicas"},
    }
    degraded = app(
        "Synced", "Degraded", new, resources=[{**stuck, "health": {"status": "Degraded"}}]
    )
    with fakes.recorder({"kubectl": scripted([degraded])}), pytest.raises(OpsError) as info:
        wait.wait(KUBE, "argocd", "gitops-lab-dev", new, 30, report=lambda _l: None)
    assert info.value.message == (
        "gitops-lab-dev is Degraded: Deployment gitops-lab-dev/api Degraded"
    )
    ticks = iter(range(0, 1000, 10))
    progressing = app("Synced", "Progressing", new, resources=[stuck])
    with fakes.recorder({"kubectl": scripted([progressing])}), pytest.raises(OpsError) as info:
        wait.wait(
            KUBE,
            "argocd",
            "gitops-lab-dev",
            new,
            25,
            report=lambda _l: None,
            clock=lambda: next(ticks),
        )
    assert info.value.message == (
        "gitops-lab-dev not Synced+Healthy at cccccccccccc after 25s: Deployment "
        "gitops-lab-dev/api Progressing (1 of 2 updated replicas)"
    )
    assert "\n" not in str(info.value)


def test_a_revision_that_is_not_a_commit_is_refused(root):
    head = wait.commit_of(root, "HEAD")
    assert len(head) == 40
    with pytest.raises(OpsError, match=r"revision 'no-such-thing' is not a commit"):
        wait.commit_of(root, "no-such-thing")


REFRESH = wait.REFRESH


# kubectl's arguments for a hard refresh of gitops-lab-dev (after the kubeconfig and context)
REFRESH_PATCH = (
    "patch",
    "applications.argoproj.io",
    "gitops-lab-dev",
    "-n",
    "argocd",
    "--type",
    "merge",
    "-p",
    '{"metadata":{"annotations":{"argocd.argoproj.io/refresh":"hard"}}}',
)


def test_refresh_is_a_hard_refresh_annotation():
    with fakes.recorder({"kubectl": (0, "", "")}) as calls:
        wait.refresh(KUBE, "argocd", "gitops-lab-dev")
    assert calls == [(*BASE, *REFRESH_PATCH)]
    assert REFRESH == {"metadata": {"annotations": {"argocd.argoproj.io/refresh": "hard"}}}


def test_local_processes_start_and_stop_through_start_stop_daemon(tmp_path):
    local = argocd_local.LocalArgoCD(tmp_path / "cluster", tmp_path / "kubeconfig")
    daemon = argocd_local.Daemon("redis", "/usr/bin/redis-server", ("--port", "1"))
    step = local.start_step(daemon)
    home = tmp_path / "cluster" / "argocd"
    assert step.argv == (
        "start-stop-daemon",
        "--start",
        "--background",
        "--make-pidfile",
        "--pidfile",
        f"{home}/run/redis.pid",
        "--output",
        f"{home}/logs/redis.log",
        "--chdir",
        str(home),
        "--exec",
        "/usr/bin/redis-server",
        "--",
        "--port",
        "1",
    )
    assert dict(step.env)["OPSKIT_ARGOCD"] == str(home)
    assert local.stop_step("redis", "/usr/bin/redis-server").argv == (
        "start-stop-daemon",
        "--stop",
        "--pidfile",
        f"{home}/run/redis.pid",
        "--exec",
        "/usr/bin/redis-server",
        "--retry",
        "TERM/10/KILL/5",
        "--remove-pidfile",
        "--oknodo",
    )


def test_a_pid_file_naming_someone_elses_process_is_not_ours(tmp_path):
    import os

    local = argocd_local.LocalArgoCD(tmp_path / "cluster", tmp_path / "kubeconfig")
    local.pidfile("redis").parent.mkdir(parents=True)
    local.pidfile("redis").write_text(f"{os.getppid()}\n")  # pytest's parent: not ours
    assert local.pid("redis") is None
    assert local.running() == {}
    local.stop(report=lambda _l: None)  # signals nothing, removes the folder
    assert not local.home.exists()


def test_addon_kinds_the_cluster_does_not_serve_are_excluded_not_failed(release):
    assert install.absent_groups({"v1", "apps/v1"}) == ("monitoring.coreos.com",)
    assert install.absent_groups({"monitoring.coreos.com/v1"}) == ()
    objects = install.local_objects(release, "argocd", ("monitoring.coreos.com",))
    cm = next(o for o in objects if o["kind"] == "ConfigMap")
    assert yaml.safe_load(cm["data"]["resource.exclusions"])[-1] == {
        "apiGroups": ["monitoring.coreos.com"],
        "kinds": ["*"],
        "clusters": ["*"],
    }
    plain = install.local_objects(release, "argocd")
    assert "resource.exclusions" not in next(o for o in plain if o["kind"] == "ConfigMap")["data"]


def test_install_dry_run_prints_every_change_and_runs_none(
    cfg, release, tmp_path, capsys, monkeypatch
):
    key = tmp_path / "keys.txt"
    key.write_text(FAKE_AGE_KEY + "\n")
    monkeypatch.setenv("SOPS_AGE_KEY_FILE", str(key))
    with fakes.recorder({"kubectl": (0, "", "")}) as calls:
        assert argocd.install(cfg, FakeConnection(True, tmp_path), dry_run=True)
    lines = capsys.readouterr().err.splitlines()
    assert calls == []
    assert len(lines) == 3 and all(line.startswith("[dry-run] kubectl ") for line in lines)
    assert "create secret generic sops-age" in lines[1] and KEY_PREFIX not in lines[1]


@pytest.mark.tools("redis-server", "start-stop-daemon")
def test_redis_and_git_server_really_start_serve_and_stop(tmp_path, root, monkeypatch):
    local = argocd_local.LocalArgoCD(tmp_path / "cluster", tmp_path / "kubeconfig")
    lines = []
    ports = local.start(root, report=lines.append, only=("redis", "git"))
    try:
        assert sorted(local.running()) == ["git", "redis"]
        refs = shell.run(["git", "ls-remote", local.repo_url, "HEAD"]).stdout.split()[0]
        assert refs == shell.run(["git", "-C", str(root), "rev-parse", "HEAD"]).stdout.strip()
        assert ports == local.ports() and len(set(ports.values())) == len(ports)
        again = local.start(root, report=lines.append, only=("redis", "git"))
        assert again == ports  # running: nothing started
        assert [line.split(" (")[0] for line in lines] == ["starting redis", "starting git"]
    finally:
        local.stop(report=lines.append)
    assert local.running() == {} and not local.home.exists()


def test_a_daemon_that_never_listens_stops_what_this_start_started(tmp_path, root, monkeypatch):
    local = argocd_local.LocalArgoCD(tmp_path / "cluster", tmp_path / "kubeconfig")
    full = local.daemons

    def daemons(r, p, only=argocd_local.NAMES):
        (redis,) = full(r, p, ("redis",))
        return [redis, argocd_local.Daemon("git", shutil.which("false") or "false", (), port="git")]

    monkeypatch.setattr(local, "daemons", daemons)
    monkeypatch.setattr(argocd_local.tools, "exe", lambda name: shutil.which(name) or name)
    monkeypatch.setattr(argocd_local, "PID_GRACE", 1.0)
    lines = []
    with pytest.raises(OpsError, match="ArgoCD's git did not start listening"):
        local.start(root, report=lines.append)
    try:
        assert local.running() == {}  # redis, started first, is stopped again
        assert lines[-1] == "stopping ArgoCD's redis"
    finally:
        local.stop(report=lines.append)


def test_wait_outlasts_an_application_the_root_has_not_created_yet(monkeypatch):
    monkeypatch.setattr(wait, "POLL_SECONDS", 0)
    answers = iter(
        [(1, "", 'Error from server (NotFound): applications "x" not found')] * 2
        + [(0, json.dumps(app()), "")]
    )
    lines = []
    with fakes.recorder({"kubectl": lambda argv, stdin: next(answers)}):
        state = wait.wait(KUBE, "argocd", "gitops-lab-dev", "a" * 40, 30, lines.append)
    assert state.health == "Healthy"
    assert lines == ["gitops-lab-dev: Missing/Missing at -"]
    with fakes.recorder({"kubectl": (1, "", "connection refused")}), pytest.raises(OpsError):
        wait.read(KUBE, "argocd", "gitops-lab-dev", missing_ok=True)


def test_a_daemon_whose_pid_file_comes_late_is_waited_for(tmp_path, monkeypatch):
    """start-stop-daemon can return before its child writes the pid file: not an error;
    a pid file naming a process that has ended is one at once."""
    local = argocd_local.LocalArgoCD(tmp_path / "cluster", tmp_path / "kubeconfig")
    listening = iter([False, False, False, True])
    monkeypatch.setattr(argocd_local, "_listening", lambda port: next(listening))
    monkeypatch.setattr(argocd_local.time, "sleep", lambda seconds: None)
    daemon = argocd_local.Daemon("redis", "/usr/bin/redis-server", ())
    local._wait_listening(daemon, 6379)  # no pid file yet: returns once it listens
    ended = subprocess.run(["sh", "-c", "echo $$"], capture_output=True, text=True, check=True)
    local.pidfile("redis").parent.mkdir(parents=True)
    local.pidfile("redis").write_text(ended.stdout)
    monkeypatch.setattr(argocd_local, "_listening", lambda port: False)
    monkeypatch.setattr(argocd_local, "PID_GRACE", 3600.0)  # neither clock may decide it
    monkeypatch.setattr(argocd_local, "READY_TIMEOUT", 3600.0)
    with pytest.raises(OpsError, match=r"did not start listening on 127\.0\.0\.1:6379"):
        local._wait_listening(daemon, 6379)  # written, then gone: it died


def test_a_daemon_whose_marker_reads_empty_while_it_execs_is_still_waited_for(
    tmp_path, monkeypatch
):
    """Its pid file names a running process whose /proc environ reads without our marker
    (mid-exec under load): it has not died while its pid runs. Before: "did not start
    listening"."""
    local = argocd_local.LocalArgoCD(tmp_path / "cluster", tmp_path / "kubeconfig")
    local.pidfile("git").parent.mkdir(parents=True)
    local.pidfile("git").write_text(f"{os.getpid()}\n")  # running, and not marked ours
    listening = iter([False, False, False, True])
    monkeypatch.setattr(argocd_local, "_listening", lambda port: next(listening))
    monkeypatch.setattr(argocd_local.time, "sleep", lambda seconds: None)
    assert local.pid("git") is None
    local._wait_listening(argocd_local.Daemon("git", "/usr/bin/git-daemon", ()), 9418)
    assert alive(os.getpid())
    assert not alive(2**22 + 1)  # above pid_max: no such process


def _daemon_args(local, monkeypatch) -> dict[str, tuple[str, ...]]:
    monkeypatch.setattr(argocd_local.tools, "exe", lambda name: f"/bin/{name}")
    ports = dict.fromkeys(argocd_local.PORTS, 1)
    return {d.name: d.args for d in local.daemons(Path("/repo"), ports)}


def test_local_polling_fast_by_default_and_upstream_leaves_argocd_defaults(
    cfg, tmp_path, monkeypatch
):
    assert cfg.argocd.local_polling == "fast"
    fast = _daemon_args(argocd.local(cfg, FakeCluster(tmp_path)), monkeypatch)
    assert fast["controller"][-5:] == (
        "--app-resync",
        "10",
        "--app-resync-jitter",
        "0",
        "--persist-resource-health",
    )
    assert fast["repo-server"][-2:] == ("--revision-cache-expiration", "5s")
    upstream = argocd_local.LocalArgoCD(tmp_path, Path("/k"), polling="upstream")
    slow = _daemon_args(upstream, monkeypatch)
    assert slow["controller"][-1] == "--persist-resource-health"
    flags = " ".join((*slow["controller"], *slow["repo-server"]))
    assert "--app-resync" not in flags and "--revision-cache-expiration" not in flags


def test_a_polling_change_restarts_only_the_controller_and_repo_server(
    local_argocd_running, monkeypatch
):
    home = local_argocd_running
    home.polling_file().write_text("fast\n")
    assert home.polling_current()
    upstream = argocd_local.LocalArgoCD(home.home.parent, home.kubeconfig, polling="upstream")
    assert not upstream.polling_current()
    monkeypatch.setattr(argocd_local.tools, "exe", lambda name: f"/bin/{name}")
    record_started(home, Path("/repo"))
    monkeypatch.setattr(argocd_local, "_listening", lambda port: True)
    monkeypatch.setattr(upstream, "_write_helpers", lambda release: None)
    with fakes.recorder({"start-stop-daemon": (0, "", "")}) as calls:
        upstream.start(Path("/repo"), report=lambda _line: None)
    assert [(argv[1], argv[argv.index("--pidfile") + 1]) for argv in calls] == [
        ("--stop", str(home.pidfile("repo-server"))),
        ("--stop", str(home.pidfile("controller"))),
        ("--start", str(home.pidfile("repo-server"))),
        ("--start", str(home.pidfile("controller"))),
    ]
    assert "--app-resync" not in calls[-1]
    assert upstream.polling_current()


def record_started(home, root: Path) -> None:
    """As if `home`'s daemons had been started for the checkout `root` on ports 9418..."""
    ports = {name: 9418 + n for n, name in enumerate(argocd_local.PORTS)}
    (home.home / "ports.json").write_text(json.dumps(ports))
    for daemon in home.daemons(root, ports):
        home.specfile(daemon.name).write_text(argocd_local._spec(daemon))


def test_a_git_server_started_for_another_checkout_is_restarted_to_serve_this_one(
    local_argocd_running, monkeypatch
):
    """Two checkouts on one cluster: ArgoCD must read the one that runs the install. Before,
    the running git server of the first kept serving it (promotion e2e: ComparisonError)."""
    home = local_argocd_running
    home.polling_file().write_text("fast\n")
    monkeypatch.setattr(argocd_local.tools, "exe", lambda name: f"/bin/{name}")
    record_started(home, Path("/first"))
    assert home.changed(Path("/first")) == []
    assert home.changed(Path("/second")) == ["git"]
    monkeypatch.setattr(argocd_local, "_listening", lambda port: True)
    monkeypatch.setattr(home, "_write_helpers", lambda release: None)
    lines = []
    with fakes.recorder({"start-stop-daemon": (0, "", "")}) as calls:
        home.start(Path("/second"), report=lines.append, only=("git",))
    assert [(argv[1], argv[argv.index("--pidfile") + 1]) for argv in calls] == [
        ("--stop", str(home.pidfile("git"))),
        ("--start", str(home.pidfile("git"))),
    ]
    assert "--base-path=/second" in calls[-1]
    assert lines[0] == "restarting ArgoCD's git: started for another checkout, key or flags"
    assert '"--base-path=/second"' in home.specfile("git").read_text()
    monkeypatch.setenv("SOPS_AGE_KEY_FILE", "/another/key.txt")  # the repo-server's env
    assert home.changed(Path("/second")) == ["repo-server", "controller"]


def test_the_committed_root_path_is_kept_where_containers_run(cfg):
    file = cfg.root / "k8s/argocd/root.yaml"
    file.write_text(file.read_text().replace("path: k8s/platform", "path: k8s/argocd"))
    assert argocd.root_application(cfg)["spec"]["source"]["path"] == "k8s/argocd"


# viaduct-ai/kustomize-sops v4.5.1 Dockerfile: gcr.io/distroless/base (no shell, no
# coreutils) with ksops, kustomize-sops and kustomize in /usr/local/bin and git in /usr/bin
KSOPS_IMAGE_FILES = {
    "/usr/local/bin/ksops",
    "/usr/local/bin/kustomize-sops",
    "/usr/local/bin/kustomize",
    "/usr/bin/git",
}
KSOPS_INSTALL_SINCE = (4, 5, 0)  # ksops.go: `ksops install [--with-kustomize] <dest-dir>`


def assert_runs_in_ksops_image(container: dict) -> None:
    """The init container's argv can start in the image and is one ksops understands."""
    __tracebackhide__ = True
    argv = [*container.get("command", []), *container.get("args", [])]
    assert argv[0] in KSOPS_IMAGE_FILES, f"{argv[0]} is not in the distroless ksops image"
    assert argv[0].endswith("/ksops") and argv[1] == "install", argv
    version = tuple(int(n) for n in container["image"].rsplit(":v", 1)[1].split("."))
    assert version >= KSOPS_INSTALL_SINCE, f"ksops {version} has no install subcommand"
    mounts = {m["mountPath"] for m in container["volumeMounts"]}
    assert argv[-1] in mounts, "ksops install must write into the shared volume"


@pytest.mark.parametrize(
    ("image", "command"),
    [
        ("viaductoss/ksops:v4.4.0", ["/bin/sh", "-c", "cp /usr/local/bin/ksops /custom-tools/"]),
        ("viaductoss/ksops:v4.5.1", ["/bin/sh", "-c", "cp /usr/local/bin/ksops /custom-tools/"]),
        ("viaductoss/ksops:v4.4.0", ["/usr/local/bin/ksops", "install", "/custom-tools"]),
    ],
)
def test_the_ksops_image_model_refuses_a_shell_or_a_release_without_install(image, command):
    mounts = [{"mountPath": "/custom-tools", "name": "custom-tools"}]
    container = {"image": image, "command": command, "volumeMounts": mounts}
    with pytest.raises(AssertionError):
        assert_runs_in_ksops_image(container)


@pytest.mark.tools("start-stop-daemon")
def test_the_git_server_alone_serves_the_clone_on_each_address_pods_may_use(
    tmp_path, root, monkeypatch
):
    """ArgoCD in pods needs only the git server, reachable at the node's address too
    (127.0.0.2 plays it here: the whole 127/8 is loopback), and no local ArgoCD binary."""
    which = argocd_local.tools.which
    monkeypatch.setattr(
        argocd_local.tools, "which", lambda name: None if name == "argocd" else which(name)
    )
    local = argocd_local.LocalArgoCD(
        tmp_path / "cluster", tmp_path / "kubeconfig", listen=("127.0.0.1", "127.0.0.2")
    )
    lines = []
    local.start(root, report=lines.append, only=("git",))
    try:
        assert sorted(local.running()) == ["git"]
        head = shell.run(["git", "-C", str(root), "rev-parse", "HEAD"]).stdout.strip()
        for host in ("127.0.0.1", "127.0.0.2"):
            url = local.repo_url_at(host)
            assert shell.run(["git", "ls-remote", url, "HEAD"]).stdout.split()[0] == head
        assert [line.split(" (")[0] for line in lines] == ["starting git"]
    finally:
        local.stop(report=lines.append)
    assert local.running() == {}


def test_the_tool_key_follows_the_go_sources_of_a_module_that_has_some(tmp_path):
    from opskit.toolchain import build

    (tmp_path / "ksops").mkdir()
    (tmp_path / "ksops" / "go.mod").write_text("module x\n")
    (tmp_path / "ksops" / "main.go").write_text("package main\n")
    tool = build.select(("ksops",))[0]
    first = build.input_key(tool, "v3.13.3", tmp_path)
    (tmp_path / "ksops" / "main.go").write_text("package main\n// changed\n")
    assert build.input_key(tool, "v3.13.3", tmp_path) != first


def test_wait_polls_in_process_where_the_cluster_allows_it_and_kubectl_patches(monkeypatch):
    """Each poll a request on a kept-alive connection, not a kubectl process; the refresh
    (a write) still goes through kubectl."""
    from opskit.kube import api

    monkeypatch.setattr(wait, "POLL_SECONDS", 0)
    new = "c" * 40
    answers = iter([app(), app("Synced", "Healthy", new)])
    asked = []

    class InProcess:
        def ok(self, path):
            asked.append(path)
            return next(answers)

    monkeypatch.setattr(api, "client", lambda kube: InProcess())
    with fakes.recorder({"kubectl": (0, "{}", "")}) as calls:
        state = wait.wait(KUBE, "argocd", "gitops-lab-dev", new, 30, report=lambda _l: None)
    assert state.revision == new
    assert asked == ["/apis/argoproj.io/v1alpha1/namespaces/argocd/applications/gitops-lab-dev"] * 2
    assert [c[c.index("patch")] for c in calls] == ["patch"]  # the refresh, and nothing else


def test_wait_on_a_cluster_without_argocd_says_to_install_it_in_one_line():
    """No separate CRD check before waiting: the first read's failure says it (and asks the
    cluster once more, as `argocd.status` does)."""
    absent = 'error: the server doesn\'t have a resource type "applications"'

    def kubectl(argv, stdin):
        if "crd" in argv:
            return 1, "", 'Error from server (NotFound): crd "applications.argoproj.io" not found'
        return 1, "", absent

    with fakes.recorder({"kubectl": kubectl}), pytest.raises(OpsError) as failed:
        wait.wait(KUBE, "argocd", "gitops-lab-dev", "d" * 40, 30, report=lambda _l: None)
    assert str(failed.value) == (
        "ArgoCD is not installed in this cluster (no Application CRD); "
        "install it first: `invoke argocd.install`"
    )


def test_wait_does_not_ask_again_for_a_refresh_that_is_pending(monkeypatch):
    """`invoke release` asks ArgoCD to read its commit; the wait that follows finds the
    annotation still there (the controller removes it with the comparison's status) and
    does not queue a second comparison of the same revision."""
    monkeypatch.setattr(wait, "POLL_SECONDS", 0)
    new = "c" * 40
    pending = app()
    pending["metadata"]["annotations"] = {"argocd.argoproj.io/refresh": "hard"}
    answers = [pending, pending, app("Synced", "Healthy", new)]
    with fakes.recorder({"kubectl": scripted(answers)}) as calls:
        wait.wait(KUBE, "argocd", "gitops-lab-dev", new, 30, report=lambda _l: None)
    assert not [c for c in calls if "patch" in c]
