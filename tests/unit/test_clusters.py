"""Cluster providers: exact argv of k3d/minikube/docker (faked at the shell boundary),
provider choice, and kwok's offline command line and failure stages (no cluster started)."""

import base64
import json
from dataclasses import replace
from pathlib import Path

import pytest
import yaml

from opskit import clusters
from opskit.clusters import kwok, kwok_stages
from opskit.clusters.k3d import K3dCluster
from opskit.clusters.minikube import MinikubeCluster
from opskit.core import config, paths, tools
from opskit.core.errors import CommandFailed, OpsError
from tests import fakes

ROOT = Path(__file__).resolve().parents[2]
VERSIONS = {
    "docker": "Docker version 27.3.1, build ce12230",
    "k3d": "k3d version v5.7.4",
    "minikube": "v1.38.1",
    "kubectl": "Client Version: v1.32.4",
}


class FakeCli:
    """Answers argv prefixes with (code, stdout, stderr); version probes answer by default."""

    def __init__(self, answers=None):
        self.answers = list((answers or {}).items())

    def __call__(self, argv, _stdin):
        name = Path(argv[0]).name
        if len(argv) > 1 and argv[1] in ("--version", "version"):
            return 0, VERSIONS.get(name, "v1.0.0"), ""
        for prefix, answer in self.answers:
            if tuple(argv[: len(prefix)]) == prefix:
                return answer(argv) if callable(answer) else answer
        return 0, "", ""


@pytest.fixture
def cfg(tmp_path, monkeypatch):
    """The repo's config, with state under tmp and stub docker/k3d/minikube on PATH."""
    monkeypatch.setattr(paths, "root", lambda: tmp_path)
    bindir = tmp_path / "bin"
    bindir.mkdir()
    for name in ("docker", "k3d", "minikube"):
        (bindir / name).write_text("#!/bin/sh\nexit 99\n")  # found on PATH, never run
        (bindir / name).chmod(0o755)
    monkeypatch.setenv("PATH", f"{bindir}:/usr/bin:/bin")
    return config.load(ROOT / "opskit.yaml")


def _recorded(answers_by_tool):
    return fakes.recorder({name: FakeCli(answers) for name, answers in answers_by_tool.items()})


def _actions(calls):
    return [c for c in calls if not (len(c) > 1 and c[1] in ("--version", "version"))]


def test_k3d_up_creates_cluster_with_ingress_ports_and_registry(cfg):
    listed = iter(["[]", json.dumps([{"name": "gitops-lab", "serversRunning": 1}])])
    answers = {
        "docker": {},
        "kubectl": {},
        "k3d": {("k3d", "cluster", "list"): lambda _a: (0, next(listed), "")},
    }
    with _recorded(answers) as calls:
        status = K3dCluster(cfg).up(report=lambda _m: None)
    kubeconfig = str(paths.root() / ".opskit" / "clusters" / "k3d-gitops-lab" / "kubeconfig")
    assert _actions(calls) == [
        ("docker", "info", "--format", "{{.ServerVersion}}"),
        ("k3d", "cluster", "list", "--output", "json"),
        (
            "k3d",
            "cluster",
            "create",
            "gitops-lab",
            "--agents",
            "0",
            "--image",
            "rancher/k3s:v1.37.2-k3s1",
            "--port",
            "8080:80@loadbalancer",
            "--port",
            "8443:443@loadbalancer",
            "--registry-create",
            "gitops-lab-registry:0.0.0.0:5000",
            "--registry-config",
            str(Path(kubeconfig).parent / "registries.yaml"),
            "--kubeconfig-update-default=false",
            "--kubeconfig-switch-context=false",
            "--wait",
        ),
        ("k3d", "kubeconfig", "write", "gitops-lab", "--output", kubeconfig),
        ("k3d", "cluster", "list", "--output", "json"),
    ]
    assert status.state == "running" and status.context == "k3d-gitops-lab"


def k3d_registries_yaml(registry: str, host_port: int, extra: dict) -> dict:
    """What k3d v5.9.0 writes to /etc/rancher/k3s/registries.yaml for `--registry-create
    NAME:0.0.0.0:PORT` (RegistryGenerateK3sConfig: the name at the host port and at the
    registry's own port 5000, both to http://NAME:5000), merged with --registry-config."""
    own = {"endpoint": [f"http://{registry}:5000"]}
    mirrors = {f"{registry}:{host_port}": own, f"{registry}:5000": own}
    return {"mirrors": mirrors | extra.get("mirrors", {})}


def pulled_from(registries: dict, image: str) -> str:
    """Where containerd in a k3s node pulls `image` from (its first mirror endpoint)."""
    host = image.split("/", 1)[0]
    mirror = registries["mirrors"].get(host)
    return mirror["endpoint"][0] if mirror else f"https://{host}"


def test_k3d_makes_the_pushed_image_names_pullable_in_pods(cfg):
    """`image.push` pushes localhost:5000/...; a release pins that name in the overlay."""
    answers = {"docker": {}, "k3d": {("k3d", "cluster", "list"): (0, "[]", "")}, "kubectl": {}}
    cluster = K3dCluster(cfg)
    with _recorded(answers) as calls:
        cluster.up(report=lambda _m: None)
    create = next(c for c in calls if c[1:3] == ("cluster", "create"))
    config_file = Path(create[create.index("--registry-config") + 1])
    ours = yaml.safe_load(config_file.read_text())
    registries = k3d_registries_yaml("gitops-lab-registry", 5000, ours)
    for image in cfg.images.values():
        assert pulled_from(registries, f"{image.repository}:abc123") == (
            "http://gitops-lab-registry:5000"
        )
    assert pulled_from(registries, "127.0.0.1:5000/gitops-lab/api:abc") == (
        "http://gitops-lab-registry:5000"
    )
    assert pulled_from(registries, "docker.io/library/redis:7") == "https://docker.io"


def test_k3d_dry_run_writes_no_registry_config(cfg):
    answers = {"docker": {}, "k3d": {("k3d", "cluster", "list"): (0, "[]", "")}}
    cluster = K3dCluster(cfg)
    with _recorded(answers):
        cluster.up(report=lambda _m: None, dry_run=True)
    assert not cluster.registry_config_file.exists()


def test_k3d_up_twice_creates_nothing_the_second_time(cfg):
    running = json.dumps([{"name": "gitops-lab", "serversRunning": 1}])
    with _recorded({"docker": {}, "k3d": {("k3d", "cluster", "list"): (0, running, "")}}) as c:
        K3dCluster(cfg).up(report=lambda _m: None)
    assert not any(call[1:3] == ("cluster", "create") for call in c)


def test_k3d_image_import_delete_and_ingress(cfg):
    cluster = K3dCluster(cfg)
    running = json.dumps([{"name": "gitops-lab", "serversRunning": 1}])
    with _recorded({"docker": {}, "k3d": {("k3d", "cluster", "list"): (0, running, "")}}) as c:
        cluster.load_image("localhost:5000/gitops-lab/api:abc123")
        cluster.down(report=lambda _m: None)
    assert _actions(c) == [
        (
            "k3d",
            "image",
            "import",
            "localhost:5000/gitops-lab/api:abc123",
            "--cluster",
            "gitops-lab",
        ),
        ("docker", "info", "--format", "{{.ServerVersion}}"),
        ("k3d", "cluster", "list", "--output", "json"),
        ("k3d", "cluster", "delete", "gitops-lab"),
    ]
    assert cluster.ingress_address() == "http://localhost:8080"
    assert cluster.runs_containers


def test_k3d_without_docker_engine_is_one_clear_error_and_creates_nothing(cfg):
    cannot = (1, "", "Cannot connect to the Docker daemon at unix:///var/run/docker.sock.")
    with (
        _recorded({"docker": {("docker", "info"): cannot}, "k3d": {}}) as calls,
        pytest.raises(OpsError) as err,
    ):
        K3dCluster(cfg).up(report=lambda _m: None)
    assert str(err.value) == (
        "k3d needs a Docker engine, and `docker info` got no answer; start Docker "
        "(Docker Desktop, or `sudo systemctl start docker`), or use "
        "`invoke cluster.up --provider kwok`"
    )
    assert calls == [("docker", "info", "--format", "{{.ServerVersion}}")]


def test_k3d_create_failure_carries_argv_and_stderr(cfg):
    answers = {
        "docker": {},
        "k3d": {
            ("k3d", "cluster", "list"): (0, "[]", ""),
            ("k3d", "cluster", "create"): (1, "", "port 8080 taken"),
        },
    }
    with _recorded(answers), pytest.raises(CommandFailed) as err:
        K3dCluster(cfg).up(report=lambda _m: None)
    assert err.value.argv[:4] == ("k3d", "cluster", "create", "gitops-lab")
    assert "port 8080 taken" in str(err.value)
    assert "`invoke cluster.down` cleans up" in str(err.value)


def test_minikube_start_with_ingress_and_registry_addons(cfg):
    statuses = iter(
        [
            (85, "", 'Profile "gitops-lab" not found.'),
            (0, json.dumps({"Host": "Running", "APIServer": "Running"}), ""),
        ]
    )
    answers = {
        "docker": {},
        "kubectl": {},
        "minikube": {("minikube", "status"): lambda _a: next(statuses)},
    }
    with _recorded(answers) as calls:
        status = MinikubeCluster(cfg).up(report=lambda _m: None)
    assert _actions(calls)[1:] == [
        ("minikube", "status", "--profile", "gitops-lab", "--output", "json"),
        (
            "minikube",
            "start",
            "--profile",
            "gitops-lab",
            "--driver",
            "docker",
            "--cpus",
            "2",
            "--memory",
            "4096mb",
            "--nodes",
            "1",
            "--kubernetes-version",
            "v1.35.1",
            "--addons",
            "ingress",
            "--addons",
            "registry",
            "--wait",
            "all",
        ),
        ("minikube", "status", "--profile", "gitops-lab", "--output", "json"),
    ]
    assert status.running and status.context == "gitops-lab"


# kubernetes/minikube v1.38.1 pkg/minikube/constants/constants.go: NewestKubernetesVersion
MINIKUBE_NEWEST_KUBERNETES = {"v1.38.1": "1.35.1"}


def test_minikube_gets_a_kubernetes_it_knows_without_a_network(cfg):
    """A version newer than minikube's newest sends `minikube start` to GitHub (start.go)."""
    mk = cfg.cluster.minikube
    argv = MinikubeCluster(cfg).start_argv()
    asked = argv[argv.index("--kubernetes-version") + 1].removeprefix("v")
    newest = MINIKUBE_NEWEST_KUBERNETES[mk.version]

    def parts(version):
        return tuple(int(n) for n in version.split("."))

    assert parts(asked) <= parts(newest)
    assert asked == newest  # the newest it knows, not an older one
    assert tools.TOOLS["minikube"].minimum == mk.version.removeprefix("v").rsplit(".", 1)[0]


def test_minikube_writes_its_context_to_the_suites_kubeconfig(cfg):
    cluster = MinikubeCluster(cfg)
    assert cluster._env() == {"KUBECONFIG": str(cluster.kubeconfig)}
    assert cluster.kubeconfig == paths.root() / ".opskit" / "clusters" / "gitops-lab" / "kubeconfig"


def test_minikube_load_delete_and_stopped_status(cfg):
    stopped = (2, json.dumps({"Host": "Stopped", "APIServer": "Stopped"}), "")
    cluster = MinikubeCluster(cfg)
    answers = {
        "minikube": {("minikube", "status"): stopped, ("minikube", "ip"): (0, "192.168.49.2\n", "")}
    }
    from opskit.kube import applied

    applied.save(
        cluster.context,
        "dev",
        {"ConfigMap//a": "f"},
        [{"kind": "ConfigMap", "metadata": {"name": "a", "uid": "u", "resourceVersion": "1"}}],
    )
    applied.save("kwok-gitops-lab", "dev", {}, [])  # another cluster's record stays
    with _recorded(answers) as calls:
        assert cluster.status().state == "stopped"
        cluster.load_image("localhost:5000/gitops-lab/api:abc123")
        assert cluster.ingress_address() == "http://192.168.49.2"
        cluster.down(report=lambda _m: None)
    assert applied.load(cluster.context, "dev") == {}  # its objects went with it
    assert (paths.state_dir() / "applied" / "kwok-gitops-lab" / "dev.json").is_file()
    assert _actions(calls)[1:] == [
        (
            "minikube",
            "image",
            "load",
            "localhost:5000/gitops-lab/api:abc123",
            "--profile",
            "gitops-lab",
        ),
        ("minikube", "ip", "--profile", "gitops-lab"),
        ("minikube", "status", "--profile", "gitops-lab", "--output", "json"),
        ("minikube", "delete", "--profile", "gitops-lab"),
    ]


def test_minikube_down_on_nothing_is_fine(cfg):
    absent = (85, "", 'Profile "gitops-lab" not found.')
    lines = []
    with _recorded({"minikube": {("minikube", "status"): absent}}) as calls:
        MinikubeCluster(cfg).down(report=lines.append)
    assert lines == ["minikube profile gitops-lab is not there: nothing to delete"]
    assert not any(call[1] == "delete" for call in calls)


def test_auto_picks_k3d_when_docker_answers(cfg):
    lines = []
    with _recorded({"docker": {}}):
        cluster = clusters.get(cfg, "auto", report=lines.append)
    assert cluster.provider == "k3d"
    assert lines == ["provider auto -> k3d (a Docker engine answers)"]


def test_auto_picks_kwok_without_docker(cfg):
    lines = []
    with _recorded({"docker": {("docker", "info"): (1, "", "Cannot connect")}}):
        cluster = clusters.get(cfg, "auto", report=lines.append)
    assert cluster.provider == "kwok" and cluster.context == "kwok-gitops-lab"
    assert lines == ["provider auto -> kwok (no Docker engine answers `docker info`)"]


def test_auto_prefers_the_cluster_up_already_created(cfg):
    kubeconfig = paths.root() / ".opskit" / "clusters" / "kwok-gitops-lab" / "kubeconfig"
    kubeconfig.parent.mkdir(parents=True)
    kubeconfig.write_text("")
    with _recorded({"docker": {}}) as calls:
        assert clusters.current(cfg).provider == "kwok"
    assert calls == []


def test_unknown_provider_names_the_allowed_ones(cfg):
    with pytest.raises(OpsError) as err:
        clusters.get(cfg, "kind")
    assert str(err.value) == (
        "unknown cluster provider 'kind'; use one of: auto, kwok, k3d, minikube"
    )


def test_bad_cluster_name_is_refused(cfg):
    with pytest.raises(OpsError, match="'My_Cluster' is not a valid cluster name; use at most 40"):
        clusters.get(cfg, "kwok", "My_Cluster")


def test_kwok_create_passes_every_binary_and_its_own_kubeconfig(cfg, monkeypatch):
    bindir = paths.root() / ".tools" / "bin"
    cluster = clusters.get(cfg, "kwok", "lab")
    argv = cluster.create_argv()
    assert argv[:7] == ["kwokctl", "--name", "lab", "create", "cluster", "--runtime", "binary"]
    options = dict(zip(argv[5::2], argv[6::2], strict=False))
    state = paths.root() / ".opskit" / "clusters" / "kwok-lab"
    assert options["--kubeconfig"] == str(state / "kubeconfig")
    assert options["--config"] == str(state / "kwokctl.yaml")
    settings = next(yaml.safe_load_all(cluster.config_text()))
    assert settings["options"] == {"kubeVersion": f"v{cfg.kubernetes.version}"}
    assert settings["componentsPatches"] == [
        {
            "name": "kube-controller-manager",
            "extraArgs": [{"key": "enable-hostpath-provisioner", "value": "true"}],
        },
        {
            "name": "kube-apiserver",
            "extraArgs": [
                {"key": "encryption-provider-config", "value": str(state / "encryption.yaml")}
            ],
        },
    ]
    assert cluster._env()["KWOK_WORKDIR"] == str(paths.root() / ".opskit" / "kwok")
    for flag in (
        "--kube-apiserver-binary",
        "--kube-controller-manager-binary",
        "--kube-scheduler-binary",
        "--etcd-binary",
        "--kwok-controller-binary",
    ):
        assert flag in options, flag
    assert "--kube-apiserver-port" not in options
    assert not str(cluster.kubeconfig).startswith(str(Path.home() / ".kube"))
    assert bindir.parent.parent == paths.root()


def test_kwok_fixed_port_already_taken_is_one_line_and_creates_nothing(cfg, monkeypatch):
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        fixed = replace(
            cfg, cluster=replace(cfg.cluster, kwok=replace(cfg.cluster.kwok, apiserver_port=port))
        )
        cluster = kwok.KwokCluster(fixed, "lab")
        monkeypatch.setattr(cluster, "preflight", lambda: None)
        with pytest.raises(OpsError) as err:
            cluster.up(report=lambda _m: None)
    assert str(err.value) == (
        f"port {port} (cluster.kwok.apiserver_port) is already in use; stop what listens "
        "there, or set cluster.kwok.apiserver_port: 0 in opskit.yaml to pick a free port"
    )
    assert "--kube-apiserver-port" in cluster.create_argv()
    assert not (paths.root() / ".opskit").exists()


def test_kwok_missing_binary_is_one_line_and_creates_nothing(cfg, monkeypatch):
    monkeypatch.setattr(paths, "tools_bin", lambda: paths.root() / "no-such-bin")
    from opskit.core import tools

    monkeypatch.setattr(tools, "tools_bin", lambda: paths.root() / "no-such-bin")
    with pytest.raises(
        OpsError,
        match=r"`kwokctl` not found; install it: run `invoke "
        r"tools.install`",
    ):
        kwok.KwokCluster(cfg, "lab").up(report=lambda _m: None)
    assert not (paths.root() / ".opskit").exists()


def test_kwok_down_on_nothing_is_fine(cfg):
    lines = []
    with fakes.recorder({"kwokctl": (1, "", "must not run")}) as calls:
        kwok.KwokCluster(cfg, "lab").down(report=lines.append)
    assert calls == [] and lines == ["kwok cluster lab is not there: nothing to delete"]


def test_kwok_dry_run_prints_commands_and_creates_nothing(cfg, monkeypatch, capsys):
    cluster = kwok.KwokCluster(cfg, "lab")
    monkeypatch.setattr(cluster, "preflight", lambda: None)
    cluster.up(report=lambda _m: None, dry_run=True)
    err = capsys.readouterr().err.splitlines()
    assert err[0].startswith("[dry-run] kwokctl --name lab create cluster --runtime binary ")
    assert err[1] == (
        "[dry-run] kwokctl --name lab scale node --replicas 1 "
        '--param \'.allocatable["ephemeral-storage"]="100Gi"\''
    )
    assert not (paths.root() / ".opskit").exists()


def test_kwok_runs_no_containers_so_images_need_no_loading(cfg):
    cluster = kwok.KwokCluster(cfg, "lab")
    with fakes.recorder({"docker": (1, "", "must not run")}) as calls:
        cluster.load_image("localhost:5000/gitops-lab/api:abc")
    assert calls == [] and not cluster.runs_containers and cluster.ingress_address() == ""


def test_failure_stages_are_disjoint_and_keep_the_defaults():
    stages = {s["metadata"]["name"]: s for s in yaml.safe_load_all(kwok_stages.STAGES)}
    assert set(stages) == {
        "node-initialize",
        "node-heartbeat-with-lease",
        "pod-ready",
        "pod-complete",
        "pod-delete",
        "pod-never-ready",
    }
    label_key = '.metadata.labels["opskit.dev/never-ready"]'

    def expression(name):
        exprs = stages[name]["spec"]["selector"]["matchExpressions"]
        return next(e["operator"] for e in exprs if e["key"] == label_key)

    assert expression("pod-ready") == "DoesNotExist"
    assert expression("pod-never-ready") == "Exists"
    assert "type: Ready" in stages["pod-never-ready"]["spec"]["next"]["statusTemplate"]


def test_never_ready_patch_labels_the_pod_template():
    patch = json.loads(kwok.never_ready_patch())
    assert patch == {
        "spec": {"template": {"metadata": {"labels": {"opskit.dev/never-ready": "true"}}}}
    }


def test_resolve_provider_quietly_for_doctor(cfg, capsys):
    with _recorded({"docker": {("docker", "info"): (1, "", "Cannot connect")}}):
        assert clusters.resolve_provider(cfg, announce=False) == "kwok"
    assert clusters.resolve_provider(cfg, "minikube") == "minikube"
    assert capsys.readouterr().out == ""


def test_kwok_status_is_stopped_when_its_apiserver_does_not_answer(cfg):
    cluster = kwok.KwokCluster(cfg, "lab")
    cluster.cluster_dir.mkdir(parents=True)
    cluster.state_dir.mkdir(parents=True)
    cluster.kubeconfig.write_text(
        "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster: {server: "
        "'https://127.0.0.1:9'}\ncontexts:\n- name: kwok-lab\n  context: {cluster: c, user: u}\n"
        "users:\n- name: u\n  user: {}\n"
    )
    status = cluster.status()
    assert status.state == "stopped" and not status.running
    assert status.lines() == [
        "provider:   kwok",
        "name:       lab",
        "state:      stopped",
        "context:    kwok-lab",
        f"kubeconfig: {cluster.kubeconfig}",
        f"detail:     apiserver not answering; logs in {cluster.cluster_dir / 'logs'}",
    ]


def test_kwok_encryption_key_is_per_cluster_private_and_kept(tmp_path):
    from opskit.clusters import encryption

    first, second = tmp_path / "a.yaml", tmp_path / "b.yaml"
    encryption.write_config(first)
    encryption.write_config(second)
    assert first.stat().st_mode & 0o777 == 0o600
    keys = [yaml.safe_load(f.read_text())["resources"][0]["providers"][0] for f in (first, second)]
    secret = keys[0]["secretbox"]["keys"][0]["secret"]
    assert len(base64.b64decode(secret)) == 32 and keys[0] != keys[1]
    before = first.read_bytes()
    encryption.write_config(first)  # a restart keeps the key its etcd data needs
    assert first.read_bytes() == before


def test_kwok_with_a_real_node_has_its_ingress_on_traefiks_host_port(cfg, monkeypatch):
    cluster = kwok.KwokCluster(cfg, "lab")
    monkeypatch.setattr(cluster, "has_real_node", lambda: True)
    assert cluster.ingress_address() == "https://127.0.0.1:8443"
    from opskit.platform import ingress

    assert kwok.INGRESS_ADDRESS == ingress.ADDRESS  # the port its Deployment holds
