"""Waits that follow progress: kubectl's answers scripted at the shell boundary (exact argv),
the daemon's log and liveness real files and processes."""

from __future__ import annotations

import json
import os
import shutil
import time

import pytest

from opskit.clusters import node_wait
from opskit.clusters.daemons import Daemon, Supervisor
from opskit.core import shell
from opskit.core.errors import OpsError
from opskit.kube.kubectl import Kube

KUBE = Kube("/tmp/kubeconfig", "kwok-lab")


def node(name: str, ready: str, reason: str = "", message: str = "") -> dict:
    conditions = [
        {"type": "MemoryPressure", "status": "False"},
        {"type": "Ready", "status": ready, "reason": reason, "message": message},
    ]
    return {"kind": "Node", "metadata": {"name": name}, "status": {"conditions": conditions}}


@pytest.fixture
def kubectl(monkeypatch):
    """Answers `kubectl get node ...` from a script, one answer per call (the last repeats)."""
    answers: list[shell.Result] = []
    calls: list[list[str]] = []

    def run(argv, **_kwargs):
        calls.append(list(argv))
        return answers.pop(0) if len(answers) > 1 else answers[0]

    monkeypatch.setattr(node_wait.time, "sleep", lambda _s: None)
    monkeypatch.setattr(shell, "run", run)
    return answers, calls


def ok(data: dict) -> shell.Result:
    return shell.Result(0, json.dumps(data), "")


def test_waits_until_the_node_is_ready(kubectl):
    answers, calls = kubectl
    answers += [ok(node("lab-real", "False", "KubeletNotReady", "CNI not ready"))] * 2
    answers.append(ok(node("lab-real", "True")))
    node_wait.nodes_ready(KUBE, ["lab-real"], None, "kubelet", print)
    assert len(calls) == 3
    assert calls[0] == [
        "kubectl", "--kubeconfig", "/tmp/kubeconfig", "--context", "kwok-lab",
        "get", "node", "lab-real", "-o", "json",
    ]  # fmt: skip


def test_no_progress_names_the_conditions_and_gives_up(kubectl, monkeypatch):
    answers, _calls = kubectl
    answers.append(ok(node("lab-real", "False", "KubeletNotReady", "CNI plugin not initialized")))
    clock = iter(range(0, 10_000, 30))
    monkeypatch.setattr(node_wait.time, "monotonic", lambda: float(next(clock)))
    with pytest.raises(OpsError) as caught:
        node_wait.nodes_ready(KUBE, ["lab-real"], None, "kubelet", print)
    message = caught.value.message
    assert message.startswith("node not Ready (no progress for ")
    assert "lab-real: MemoryPressure=False, Ready=False (KubeletNotReady: CNI plugin" in message
    assert caught.value.hint == "see `kubectl describe nodes`"


def test_a_selector_with_no_node_yet_says_so(kubectl, monkeypatch):
    answers, calls = kubectl
    answers.append(ok({"kind": "NodeList", "items": []}))
    clock = iter(range(0, 10_000, 50))
    monkeypatch.setattr(node_wait.time, "monotonic", lambda: float(next(clock)))
    with pytest.raises(OpsError, match=r"no node registered"):
        node_wait.nodes_ready(KUBE, None, None, "kubelet", print, selector="opskit.dev/node=real")
    assert calls[0][-5:] == ["nodes", "-l", "opskit.dev/node=real", "-o", "json"]


@pytest.mark.tools("start-stop-daemon")
def test_a_component_that_exited_is_named_with_its_last_log_line(kubectl, tmp_path):
    answers, _calls = kubectl
    answers.append(shell.Result(1, "", "connection refused"))  # unknown: no conditions
    daemons = Supervisor(tmp_path, "OPSKIT_TEST_WAIT")
    (tmp_path / "logs").mkdir()
    (tmp_path / "logs" / "kubelet.log").write_text("E1206 failed to run Kubelet: no runc\n")
    with pytest.raises(OpsError) as caught:  # never started: no pid, it "exited"
        node_wait.nodes_ready(KUBE, ["lab-real"], daemons, "kubelet", print)
    assert caught.value.message == (
        "node not Ready (kubelet exited): no node registered; "
        "kubelet's last log line: E1206 failed to run Kubelet: no runc"
    )
    assert caught.value.hint == f"see {tmp_path / 'logs' / 'kubelet.log'}"
    # while the component lives, the wait goes on until Ready
    daemons.start(Daemon("kubelet", shutil.which("sleep") or "/bin/sleep", ("30",)))
    try:
        sleep_exe = os.path.realpath(shutil.which("sleep") or "/bin/sleep")
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not _runs(daemons.pid("kubelet"), sleep_exe):
            time.sleep(0.02)  # until start-stop-daemon's child has exec'd (its environ is set)
        assert daemons.pid("kubelet") is not None
        answers.clear()
        answers += [ok(node("lab-real", "False"))] * 3 + [ok(node("lab-real", "True"))]
        node_wait.nodes_ready(KUBE, ["lab-real"], daemons, "kubelet", print)
    finally:
        daemons.stop("kubelet", grace=2)


def _runs(pid: int | None, exe: str) -> bool:
    try:
        return pid is not None and os.path.realpath(f"/proc/{pid}/exe") == exe
    except OSError:
        return False


def test_a_rollout_that_never_completes_names_the_pods(kubectl, monkeypatch):
    answers, calls = kubectl
    answers.append(shell.Result(1, "NAME READY\ncoredns-x 0/1", "timed out waiting"))
    clock = iter(range(0, 10_000, 100))
    monkeypatch.setattr(node_wait.time, "monotonic", lambda: float(next(clock)))
    with pytest.raises(OpsError) as caught:
        node_wait.rollout(KUBE, "kube-system", "deployment/coredns", None, print)
    assert caught.value.message.startswith(
        "deployment/coredns in kube-system did not roll out (no progress for "
    )
    assert "coredns-x 0/1" in caught.value.hint
    assert calls[0][5:] == [
        "rollout", "status", "deployment/coredns", "-n", "kube-system", "--timeout=5s",
    ]  # fmt: skip


def test_a_rollout_that_completes_returns(kubectl):
    answers, calls = kubectl
    answers.append(shell.Result(0, "successfully rolled out", ""))
    node_wait.rollout(KUBE, "kube-system", "deployment/coredns", None, print)
    assert len(calls) == 1
