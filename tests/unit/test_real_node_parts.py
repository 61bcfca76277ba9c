"""Parts of the real node that run here without a cluster: the daemon supervisor on a real
process, the probe on this machine, CoreDNS's manifest, the Debian base's recipe."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from opskit.clusters import node_dns, node_probe
from opskit.clusters.daemons import Daemon, Supervisor
from opskit.clusters.node_files import DNS_SERVICE_IP, NodeLayout
from opskit.core import shell
from opskit.images import debian


@pytest.mark.tools("start-stop-daemon")
def test_supervisor_starts_finds_and_stops_only_its_own_process(tmp_path):
    daemons = Supervisor(tmp_path / "home", "OPSKIT_TEST_MARKER")
    (tmp_path / "home").mkdir()
    daemons.start(Daemon("sleeper", shutil.which("sleep") or "/bin/sleep", ("300",)))
    for _ in range(100):
        pid = daemons.pid("sleeper")
        if pid:
            break
        os.sched_yield()
    assert pid is not None and pid in daemons.stray()
    assert not daemons.exited("sleeper") and daemons.exited("never-started")
    assert daemons.last_line("sleeper") == "empty log"
    assert daemons.stop("sleeper", grace=5) is True
    assert daemons.pid("sleeper") is None and daemons.stray() == []
    assert daemons.exited("sleeper")
    assert daemons.stop("sleeper") is False  # idempotent


def test_a_daemon_caught_mid_exec_is_still_found_and_stopped(tmp_path, monkeypatch):
    """start-stop-daemon's child writes the pid file, then execs: for a moment its environ
    reads empty. `pid`/`stop` then must wait for it, not call the daemon not running."""
    from opskit.clusters import daemons as module

    daemons = Supervisor(tmp_path / "home", "OPSKIT_TEST_MARKER")
    daemons.pidfile("sleeper").parent.mkdir(parents=True)
    daemons.pidfile("sleeper").write_text("4242\n")
    reads = [[b""], [b""], [f"OPSKIT_TEST_MARKER={tmp_path / 'home'}".encode(), b""]]
    monkeypatch.setattr(module, "environ", lambda pid: reads.pop(0) if reads else reads)
    monkeypatch.setattr(module, "alive", lambda pid: pid == 4242)
    assert daemons.pid("sleeper") == 4242 and reads == []
    reads[:] = [[b""]]  # an exec'ing process of someone else's that stays empty: not ours
    assert daemons.ours(4242) is False


def test_the_probe_gives_one_line_or_none(tmp_path):
    reason = node_probe.why_not(NodeLayout(tmp_path / "node"))
    assert reason is None or "\n" not in reason


def test_a_long_state_folder_is_named_with_its_fix(tmp_path):
    reason = node_probe._socket_path(NodeLayout(tmp_path / ("x" * 120)))
    assert reason is not None and "OPSKIT_STATE_DIR" in reason


def test_coredns_serves_the_dns_service_address():
    items = json.loads(node_dns.manifest("localhost/gitops-lab/coredns:1.15.0"))["items"]
    kinds = [item["kind"] for item in items]
    assert kinds == [
        "ServiceAccount",
        "ClusterRole",
        "ClusterRoleBinding",
        "ConfigMap",
        "Deployment",
        "Service",
    ]
    assert items[-1]["spec"]["clusterIP"] == DNS_SERVICE_IP
    container = items[4]["spec"]["template"]["spec"]["containers"][0]
    assert container["imagePullPolicy"] == "Never"  # built here: nothing to pull


def test_the_debian_base_is_tagged_by_its_recipe():
    recipe = debian.BaseRecipe()
    assert recipe.image.startswith(f"{debian.REPOSITORY}:bookworm-")
    assert debian.BaseRecipe(include=("ca-certificates", "curl")).tag != recipe.tag
    argv = recipe.mmdebstrap_argv(Path("/tmp/rootfs.tar"))
    assert argv[:3] == ["mmdebstrap", "--variant=minbase", "--mode=root"]
    assert "bookworm" in argv and f"deb {debian.MIRROR} bookworm main" in argv


class _Kube:
    """kubectl's answers for `get node`: a node that never gets Ready."""

    def __init__(self, nodes: list[dict]):
        self.nodes = nodes

    def run(self, *args, **_options):
        from opskit.core.shell import Result

        body = {"kind": "List", "items": self.nodes}
        return Result(0, json.dumps(body), "")


def test_a_node_wait_without_progress_names_the_conditions(monkeypatch):
    from opskit.clusters import node_wait
    from opskit.core.errors import OpsError

    node = {
        "metadata": {"name": "lab-real"},
        "status": {
            "conditions": [
                {
                    "type": "Ready",
                    "status": "False",
                    "reason": "KubeletNotReady",
                    "message": "cni not ready",
                }
            ]
        },
    }
    monkeypatch.setattr(node_wait, "IDLE", 0.0)
    with pytest.raises(OpsError) as caught:
        node_wait.nodes_ready(_Kube([node]), ["lab-real"], None, "kubelet", print)
    assert "lab-real: Ready=False (KubeletNotReady: cni not ready)" in str(caught.value)
    assert "no progress" in str(caught.value)
    ready = {**node, "status": {"conditions": [{"type": "Ready", "status": "True"}]}}
    node_wait.nodes_ready(_Kube([ready]), None, None, "kwok", print, "type=kwok")  # returns


@pytest.mark.skipif(
    os.geteuid() != 0 or shutil.which("nft") is None, reason="reads the firewall as root"
)
def test_host_cleanup_on_a_host_without_our_rules_changes_nothing():
    from opskit.clusters import node_host

    saved = shell.run(["iptables-save"], check=False, timeout=30).stdout
    if node_host.without_our_chains(saved).strip() != saved.strip():  # "" when no table is loaded
        pytest.skip("a Kubernetes node runs on this host: its rules are not this test's to drop")
    tables = node_host.nft_tables()
    sysctls = node_host.read_sysctls()
    node_host.remove_our_chains()
    node_host.remove_our_ipsets()
    node_host.drop_new_empty_tables(tables)
    node_host.restore_sysctls(sysctls, print)
    assert node_host.nft_tables() == tables and node_host.read_sysctls() == sysctls
    assert "vm.overcommit_memory" in sysctls


def test_images_import_into_the_k8s_namespace_of_the_node(tmp_path):
    from opskit.clusters import node_images

    argv = node_images.import_argv(tmp_path / "c.sock", tmp_path / "a.tar")
    assert argv == [
        "ctr",
        "--address",
        str(tmp_path / "c.sock"),
        "-n",
        "k8s.io",
        "images",
        "import",
        str(tmp_path / "a.tar"),
    ]
    assert node_images.coredns_image("v1.15.0") == "localhost/gitops-lab/coredns:1.15.0"


def test_image_build_dry_run_on_the_real_node_prints_and_skips_the_api(refuse_processes):
    from opskit.core import config
    from opskit.images import embedded
    from opskit.images.images import refs

    cfg = config.load(Path(__file__).resolve().parents[2] / "opskit.yaml")
    said: list[str] = []
    built = embedded.build(cfg, refs(cfg, "abc"), "abc", report=said.append, dry_run=True)
    assert built == []
    assert said[0].endswith(f"abc: not built ({embedded.API_STAYS_SIMULATED})")
    assert said[1] == f"would build {cfg.images['telemetry'].repository}:abc"


def test_a_node_that_was_never_started_is_absent_and_runs_nothing(tmp_path):
    from opskit.clusters import node
    from opskit.kube.kubectl import Kube

    real = node.RealNode(
        tmp_path / "state", tmp_path / "pki", Kube(tmp_path / "kc", "ctx"), "lab-real"
    )
    assert not real.present and real.running() == {}
    real.stop(report=print)  # nothing to stop: no error, nothing made
    assert not (tmp_path / "state").exists()
    assert node._answers(tmp_path / "no.sock") is False
    assert 0 < node.free_port() < 65536
    assert node.node_ip().count(".") == 3


def test_a_daemons_log_is_summed_up_by_its_error_not_the_usage_printed_after_it(tmp_path):
    from opskit.clusters import daemons as daemon_logs
    from opskit.clusters import node_wait

    log = tmp_path / "kubelet.log"
    log.write_text(
        "I1206 20:00:00 starting\n"
        "Error: unknown flag: --no-such-flag\n"
        "Usage:\n  kubelet [flags]\n\nFlags:\n"
        "      --v Level   number for the log level verbosity; errors are always shown\n"
    )
    assert daemon_logs.last_line(log) == "Error: unknown flag: --no-such-flag"
    assert node_wait.last_line(log) == "Error: unknown flag: --no-such-flag"
    log.write_text("I1206 20:00:00 starting\nI1206 20:00:01 listening on :10250\n")
    assert daemon_logs.last_line(log, width=20) == "I1206 20:00:01 liste"
    assert daemon_logs.last_line(tmp_path / "absent.log") == "no log"
