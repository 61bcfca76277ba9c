"""The embedded cluster's real node, without starting it: the choice real/simulated and its
one-line reasons, the daemons' configuration, the pins, the host cleanup's filters."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

import pytest
import yaml

from opskit.clusters import node_host, node_probe
from opskit.clusters.base import Status
from opskit.clusters.kwok import KwokCluster
from opskit.clusters.node_files import (
    PAUSE_IMAGE,
    NodeLayout,
    cni_conflist,
    containerd_toml,
    kube_proxy_yaml,
    kubelet_yaml,
)
from opskit.core import config
from opskit.core.errors import OpsError
from opskit.toolchain import build

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def cfg():
    return config.load(ROOT / "opskit.yaml")


def test_node_mode_defaults_to_auto_and_the_environment_overrides_it(cfg, monkeypatch):
    monkeypatch.delenv("OPSKIT_KWOK_NODE", raising=False)
    assert cfg.cluster.kwok.node_mode == "auto"
    monkeypatch.setenv("OPSKIT_KWOK_NODE", "simulated")
    assert cfg.cluster.kwok.node_mode == "simulated"


def test_an_unknown_node_mode_is_a_one_line_error(cfg, monkeypatch):
    monkeypatch.setenv("OPSKIT_KWOK_NODE", "virtual")
    with pytest.raises(OpsError) as caught:
        _ = cfg.cluster.kwok.node_mode
    assert "OPSKIT_KWOK_NODE" in str(caught.value) and "auto, real, simulated" in str(caught.value)


def test_containerd_keeps_everything_below_the_node_folder(tmp_path):
    layout = NodeLayout(tmp_path / "node")
    settings = tomllib.loads(containerd_toml(layout))
    assert settings["root"].startswith(str(layout.home))
    assert settings["state"].startswith(str(layout.home))
    assert settings["grpc"]["address"] == str(layout.socket)
    runtime = settings["plugins"]["io.containerd.cri.v1.runtime"]
    # without CAP_SYS_RESOURCE every sandbox fails unless OOM score changes are restricted
    assert runtime["restrict_oom_score_adj"] is True
    assert runtime["netns_mounts_under_state_dir"] is True
    assert runtime["cni"]["conf_dir"] == str(layout.cni_conf_dir)
    images = settings["plugins"]["io.containerd.cri.v1.images"]
    assert images["pinned_images"]["sandbox"] == PAUSE_IMAGE


def test_kubelet_and_cni_write_below_the_node_folder(tmp_path):
    layout = NodeLayout(tmp_path / "node")
    kubelet = yaml.safe_load(kubelet_yaml(layout, tmp_path / "ca.crt"))
    assert kubelet["failCgroupV1"] is False and kubelet["cgroupDriver"] == "cgroupfs"
    assert kubelet["podLogsDir"] == str(layout.pod_logs)
    assert kubelet["authentication"]["anonymous"]["enabled"] is False
    assert kubelet["containerRuntimeEndpoint"] == f"unix://{layout.socket}"
    bridge = json.loads(cni_conflist(layout))["plugins"][0]
    assert bridge["ipam"]["dataDir"] == str(layout.cni_data)
    proxy = yaml.safe_load(kube_proxy_yaml(tmp_path / "kubeconfig", "lab-real", 40123))
    assert proxy["metricsBindAddress"] == "127.0.0.1:40123"  # port 0 is refused


def test_a_real_node_patches_the_control_plane_and_kwok_keeps_to_fake_nodes(cfg):
    cluster = KwokCluster(cfg, "lab")
    plain = next(yaml.safe_load_all(cluster.config_text()))
    real = next(yaml.safe_load_all(cluster.config_text(real=True)))
    assert "kubeApiserverCertSANs" not in plain["options"]
    assert real["options"]["kubeApiserverCertSANs"] == ["10.96.0.1"]
    patches = {
        p["name"]: {a["key"]: a["value"] for a in p["extraArgs"]} for p in real["componentsPatches"]
    }
    assert patches["kwok-controller"] == {
        "manage-all-nodes": "false",
        "manage-nodes-with-annotation-selector": "kwok.x-k8s.io/node=fake",
    }
    assert patches["kube-apiserver"]["kubelet-preferred-address-types"] == "InternalIP,Hostname"
    assert patches["kube-apiserver"]["service-cluster-ip-range"] == "10.96.0.0/16"


def test_simulated_mode_never_probes(cfg, monkeypatch, refuse_processes):
    monkeypatch.setenv("OPSKIT_KWOK_NODE", "simulated")
    assert KwokCluster(cfg, "lab")._choose_node(report=print) is False


def test_auto_falls_back_to_simulated_nodes_with_one_line_why(cfg, monkeypatch, tmp_path):
    monkeypatch.setenv("OPSKIT_KWOK_NODE", "auto")
    monkeypatch.setenv("OPSKIT_STATE_DIR", str(tmp_path / ("x" * 120)))  # socket path too long
    # the checks before the socket path depend on this machine: make them pass
    for passing in ("_root", "_tools", "_host_tools", "_cni", "_kernel"):
        monkeypatch.setattr(node_probe, passing, lambda _layout: None)
    said: list[str] = []
    assert KwokCluster(cfg, "lab")._choose_node(report=said.append) is False
    assert len(said) == 1 and said[0].startswith("simulated nodes only: ")
    assert "set OPSKIT_STATE_DIR to a shorter folder" in said[0]


def test_real_mode_refuses_a_machine_that_cannot(cfg, monkeypatch):
    monkeypatch.setenv("OPSKIT_KWOK_NODE", "real")
    monkeypatch.setattr(node_probe.os, "geteuid", lambda: 1000)
    with pytest.raises(OpsError) as caught:
        KwokCluster(cfg, "lab")._choose_node(report=print)
    assert "cluster.kwok.node is real, but not root" in str(caught.value)
    assert "OPSKIT_KWOK_NODE=simulated" in caught.value.hint


def test_a_missing_node_daemon_names_the_install_command(tmp_path, monkeypatch):
    monkeypatch.setattr(node_probe.tools, "which", lambda name: None if name == "kubelet" else name)
    reason = node_probe._tools(NodeLayout(tmp_path))
    assert reason == "kubelet is not built: run `invoke tools.install --only=node`"


def test_status_says_which_nodes_are_real(tmp_path):
    status = Status("kwok", "lab", "kwok-lab", tmp_path, "running", ("lab-real", "node-000000"))
    status = Status(*status.__dict__.values())  # positional order is part of the contract
    real = Status(**{**status.__dict__, "real_nodes": ("lab-real",)})
    assert "nodes:      lab-real (real), node-000000 (simulated)" in real.lines()
    assert "nodes:      lab-real, node-000000" in status.lines()


def test_the_node_group_builds_every_daemon_at_its_go_mod_pin(cfg):
    tools = build.select(("node",))
    assert [t.name for t in tools] == list(build.NODE)
    pins = cfg.tool_pins()
    versions = {t.name: build.pinned_version(t, pins, ROOT / "tools") for t in tools}
    assert (
        versions["containerd"] == "v2.4.2" and versions["kubelet"] == f"v{cfg.kubernetes.version}"
    )
    assert not any(t.name in build.NODE for t in build.select())  # not in a plain install


IPTABLES = """*filter
:INPUT ACCEPT [0:0]
:KUBE-FIREWALL - [0:0]
:CNI-abc - [0:0]
:DOCKER-USER - [0:0]
-A INPUT -j KUBE-FIREWALL
-A INPUT -p tcp --dport 22 -j ACCEPT
-A KUBE-FIREWALL -j DROP
-A DOCKER-USER -j RETURN
COMMIT
"""


def test_host_cleanup_drops_only_our_chains_and_the_rules_naming_them():
    kept = node_host.without_our_chains(IPTABLES)
    assert kept.splitlines() == [
        "*filter",
        ":INPUT ACCEPT [0:0]",
        ":DOCKER-USER - [0:0]",
        "-A INPUT -p tcp --dport 22 -j ACCEPT",
        "-A DOCKER-USER -j RETURN",
        "COMMIT",
    ]


def test_mounts_below_a_folder_come_deepest_first(tmp_path, monkeypatch):
    home = tmp_path / "node"
    info = "\n".join(
        f"{n} 1 0:1 / {point} rw - tmpfs tmpfs rw"
        for n, point in enumerate(["/", str(home), f"{home}/kubelet/pods/x", f"{home}2"])
    )
    fake = tmp_path / "mountinfo"
    fake.write_text(info + "\n")
    real_path = node_host.Path
    monkeypatch.setattr(
        node_host, "Path", lambda p: fake if p == "/proc/self/mountinfo" else real_path(p)
    )
    assert node_host.mounts_below(home) == [f"{home}/kubelet/pods/x", str(home)]
