"""The real node's own images and files, built for real (gcc, buildah, openssl run here), and
its start-up's guards: a containerd that never answers, a daemon that died, a failed start
that leaves nothing running."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import tarfile
from pathlib import Path

import pytest
import yaml

from opskit.clusters import node, node_images
from opskit.clusters.node_files import PAUSE_IMAGE, NodeLayout
from opskit.core import shell
from opskit.core.errors import OpsError
from opskit.kube.kubectl import Kube

NEEDS_ROOT = "buildah stores images below /var/lib/containers: it needs root here"
TINY_PAUSE = "int main(void) { return 0; }\n"


@pytest.fixture
def state(tmp_path, monkeypatch):
    monkeypatch.setenv("OPSKIT_STATE_DIR", str(tmp_path / "state"))
    return tmp_path / "state"


def _index_names(archive: Path) -> list[str]:
    with tarfile.open(archive) as tar:
        index = json.load(tar.extractfile("index.json"))  # type: ignore[arg-type]
    return [m["annotations"]["org.opencontainers.image.ref.name"] for m in index["manifests"]]


@pytest.mark.tools("gcc", "buildah")
@pytest.mark.skipif(os.geteuid() != 0, reason=NEEDS_ROOT)
def test_the_pause_image_is_compiled_and_archived_once_per_source(state, tmp_path, monkeypatch):
    source = tmp_path / "pause.c"
    source.write_text(TINY_PAUSE)
    monkeypatch.setattr(node_images, "pause_source", lambda _version: source)
    said: list[str] = []
    archive = node_images.pause_archive("v1.37.0", said.append)
    assert archive.parent == state / "images" and archive.name.startswith("pause-")
    assert said == [f"building image {PAUSE_IMAGE}"]
    # an OCI archive whose one image carries the name the kubelet's sandbox pins
    assert _index_names(archive) == [PAUSE_IMAGE]
    assert not archive.with_name(archive.name + ".partial").exists()
    listed = ["buildah", "images", "-q", PAUSE_IMAGE]
    images = subprocess.run(listed, check=False, capture_output=True)
    assert images.returncode != 0 or not images.stdout.strip()  # no image left in buildah

    def refuse(*argv, **_kw):
        raise AssertionError(f"rebuilt although nothing changed: {argv}")

    monkeypatch.setattr(node_images.shell, "run", refuse)
    assert node_images.pause_archive("v1.37.0", said.append) == archive
    source.write_text(TINY_PAUSE.replace("0;", "1;"))
    with pytest.raises(AssertionError, match="rebuilt"):
        node_images.pause_archive("v1.37.0", said.append)


@pytest.mark.tools("gcc")
def test_a_pause_source_that_does_not_compile_is_named_with_the_compiler_fix(
    state, tmp_path, monkeypatch
):
    source = tmp_path / "pause.c"
    source.write_text("this is not C\n")
    monkeypatch.setattr(node_images, "pause_source", lambda _version: source)
    with pytest.raises(OpsError) as caught:
        node_images.pause_archive("v1.37.0", print)
    assert "apt-get install gcc libc6-dev" in caught.value.hint
    assert list((state / "images").iterdir()) == []  # no archive of a failed build


@pytest.mark.tools("go")
def test_a_missing_pause_source_names_the_install_command(tmp_path, monkeypatch):
    monkeypatch.setenv("GOMODCACHE", str(tmp_path / "modcache"))
    with pytest.raises(OpsError) as caught:
        node_images.pause_source("v1.37.0")
    assert "k8s.io/kubernetes@v1.37.0/build/pause/linux/pause.c is missing" in str(caught.value)
    assert caught.value.hint == "run `invoke tools.install --only=node` (it downloads the module)"


def test_coredns_needs_its_built_binary(state, monkeypatch):
    monkeypatch.setattr(node_images.tools, "which", lambda _name: None)
    with pytest.raises(OpsError, match="coredns is not built"):
        node_images.coredns_archive("v1.15.0", print)
    assert node_images.coredns_image("v1.15.0") == "localhost/gitops-lab/coredns:1.15.0"


@pytest.fixture
def real_node(tmp_path):
    pki = tmp_path / "pki"
    pki.mkdir()
    shell.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
         "-nodes", "-keyout", str(pki / "ca.key"), "-out", str(pki / "ca.crt"),
         "-subj", "/CN=lab-ca", "-days", "2"],
        timeout=30,
    )  # fmt: skip
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text("apiVersion: v1\nkind: Config\n")
    return node.RealNode(tmp_path / "cluster", pki, Kube(str(kubeconfig), "kwok-lab"), "lab-real")


def test_the_node_files_and_the_kubelet_cert_signed_by_the_cluster_ca(real_node):
    real_node._write_files()
    layout = real_node.layout
    for file in (layout.containerd_config, layout.kubelet_config, layout.kube_proxy_config):
        assert file.is_file()
    assert (layout.cni_conf_dir / "10-opskit.conflist").is_file()
    crt = layout.pki / "kubelet.crt"
    verify = ["openssl", "verify", "-CAfile", str(real_node.pki / "ca.crt"), str(crt)]
    assert shell.run(verify, timeout=30).stdout.strip().endswith("OK")
    text = shell.run(["openssl", "x509", "-noout", "-text", "-in", str(crt)], timeout=30).stdout
    assert "DNS:lab-real" in text and "IP Address:127.0.0.1" in text
    assert not list(layout.pki.glob("*.csr"))
    proxy = yaml.safe_load(layout.kube_proxy_config.read_text())
    assert proxy["hostnameOverride"] == "lab-real"
    before = crt.read_bytes()
    real_node._write_files()  # a restart keeps the node's serving certificate
    assert crt.read_bytes() == before


def test_each_daemon_runs_its_built_binary_with_the_nodes_files(real_node, monkeypatch):
    monkeypatch.setattr(node.tools, "which", lambda name: f"/opt/bin/{name}")
    kubelet = real_node._daemon("kubelet")
    assert kubelet.exe == "/opt/bin/kubelet"
    args = dict(zip(kubelet.args[::2], kubelet.args[1::2], strict=True))
    assert args["--hostname-override"] == "lab-real"
    assert args["--node-labels"] == "opskit.dev/node=real"
    assert args["--config"] == str(real_node.layout.kubelet_config)
    router = real_node._daemon("kube-router").args
    assert "--run-firewall=true" in router and "--run-service-proxy=false" in router
    assert real_node._daemon("containerd").args == (
        "--config",
        str(real_node.layout.containerd_config),
    )
    path = dict(real_node._daemon("kube-proxy").env)["PATH"]
    assert path.split(os.pathsep)[0].endswith(".tools/bin")


def test_a_daemon_that_is_not_built_names_the_install_command(monkeypatch):
    monkeypatch.setattr(node.tools, "which", lambda _name: None)
    with pytest.raises(OpsError) as caught:
        node.tools.exe("kubelet")
    assert caught.value.message == "`kubelet` not found"
    assert "invoke tools.install --only=node" in caught.value.hint


def test_containerd_that_never_answers_is_named_with_its_log(real_node):
    logs = real_node.layout.home / "logs"
    logs.mkdir(parents=True)
    (logs / "containerd.log").write_text("starting\nfailed to mount overlay: permission denied\n")
    with pytest.raises(OpsError) as caught:
        real_node._wait_socket(seconds=3.2)  # no containerd: gives up after its 3 s grace
    assert caught.value.message.endswith(": failed to mount overlay: permission denied")
    assert caught.value.hint == f"see {logs / 'containerd.log'}"


def test_a_socket_that_answers_ends_the_wait(real_node):
    sock_path = real_node.layout.socket
    sock_path.parent.mkdir(parents=True)
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as server:
        server.bind(str(sock_path))
        server.listen(1)
        real_node._wait_socket(seconds=5)
    assert node._answers(sock_path) is False  # closed: nobody answers any more


def test_a_daemon_that_died_is_named_with_its_last_log_line(real_node):
    logs = real_node.layout.home / "logs"
    logs.mkdir(parents=True)
    (logs / "containerd.log").write_text('level=fatal msg="no overlay"\n')
    with pytest.raises(OpsError) as caught:
        real_node._check_alive()
    assert caught.value.message == 'containerd exited: level=fatal msg="no overlay"'
    assert real_node.running() == {}


def test_a_failed_start_stops_whatever_it_started(real_node, monkeypatch):
    calls: list[str] = []
    monkeypatch.setattr(node.node_host, "save_host", lambda file: calls.append("save"))
    monkeypatch.setattr(real_node, "_write_files", lambda: calls.append("files"))
    monkeypatch.setattr(real_node, "_start", lambda name, report: calls.append(f"start {name}"))

    def never(seconds=60.0):
        raise OpsError("containerd did not answer", "see its log")

    monkeypatch.setattr(real_node, "_wait_socket", never)
    monkeypatch.setattr(real_node, "stop", lambda report: calls.append("stop"))
    with pytest.raises(OpsError, match="did not answer"):
        real_node.start({"kubernetes": "v1.37.0", "coredns": "v1.15.0"}, print)
    assert calls == ["save", "files", "start containerd", "stop"]


def test_stop_of_a_node_that_never_started_touches_nothing(real_node, monkeypatch):
    monkeypatch.setattr(node.shell, "run", lambda *a, **k: pytest.fail(f"ran {a}"))
    said: list[str] = []
    real_node.stop(report=said.append)
    assert said == [] and not real_node.present


def test_layout_names_every_log_and_pid_file_below_the_node(tmp_path):
    layout = NodeLayout(tmp_path)
    assert layout.log("kubelet") == tmp_path / "logs" / "kubelet.log"
    assert layout.pidfile("kubelet") == tmp_path / "run" / "kubelet.pid"
    assert layout.images == tmp_path / "images"
    assert layout.kubelet_root == tmp_path / "kubelet"
