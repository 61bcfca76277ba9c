"""`invoke cluster.*` the way a person runs it: offline, idempotent, clean teardown, and
one-line errors for bad input that leave nothing behind."""

import hashlib
import os
import shutil
import socket
import sys
from pathlib import Path

import pytest
import sh
import yaml

from opskit.core import paths
from opskit.kube.kubectl import Kube

REPO = Path(__file__).resolve().parents[2]  # where tasks.py is
ROOT = paths.root()  # the project root: the repo, or $OPSKIT_ROOT
INVOKE = sh.Command(str(Path(sys.executable).parent / "invoke"))
NAME = "gitops-lab-e2e-cli"
# Any download attempt would go through this dead proxy and fail the run.
OFFLINE = {
    "HTTPS_PROXY": "http://127.0.0.1:9",
    "HTTP_PROXY": "http://127.0.0.1:9",
    "NO_PROXY": "127.0.0.1,localhost",
}


def invoke(*args, root=ROOT, extra_env=None):
    env = {**os.environ, "OPSKIT_ROOT": str(root), **OFFLINE, **(extra_env or {})}
    return INVOKE(*args, _cwd=REPO, _env=env, _ok_code=[0, 1], _timeout=300, _return_cmd=True)


def _fingerprint(path: Path) -> str | None:
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.exists() else None


def _processes_mentioning(text: str) -> list[str]:
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            args = cmdline.read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if text in args:
            found.append(args)
    return found


def _claim_a_volume(kubeconfig: Path, context: str) -> Path:
    """A PVC in the cluster; returns the folder the hostPath provisioner made for it."""
    kube = Kube(kubeconfig, context)
    claim = (
        "apiVersion: v1\nkind: PersistentVolumeClaim\nmetadata: {name: data}\n"
        "spec: {accessModes: [ReadWriteOnce], resources: {requests: {storage: 1Gi}}}\n"
    )
    kube.run("apply", "-f", "-", stdin=claim)
    kube.run("wait", "--for=jsonpath={.status.phase}=Bound", "pvc/data", "--timeout=60s")
    volume = kube.json("get", "pvc", "data")["spec"]["volumeName"]
    return Path(kube.json("get", "pv", volume)["spec"]["hostPath"]["path"])


@pytest.fixture
def scratch_root(tmp_path):
    """A project root using the repo's built tools, for config variations."""
    shutil.copy(ROOT / "opskit.yaml", tmp_path / "opskit.yaml")
    (tmp_path / ".tools").symlink_to(ROOT / ".tools")
    return tmp_path


def _assert_no_cluster_state(root: Path) -> None:
    __tracebackhide__ = True
    for folder in ("clusters", "kwok"):  # (the tool-version cache may be there: not ours)
        assert not (root / ".opskit" / folder).exists(), folder


def _set_kwok_port(root: Path, port: int) -> None:
    data = yaml.safe_load((root / "opskit.yaml").read_text())
    data["cluster"]["kwok"]["apiserver_port"] = port
    (root / "opskit.yaml").write_text(yaml.safe_dump(data))


def test_up_status_down_lifecycle_offline_and_idempotent():
    user_kubeconfig = Path.home() / ".kube" / "config"
    before = _fingerprint(user_kubeconfig)
    cluster_dir = ROOT / ".opskit" / "kwok" / "clusters" / NAME
    state_dir = ROOT / ".opskit" / "clusters" / f"kwok-{NAME}"
    invoke("cluster.down", "--provider", "kwok", "--name", NAME)

    first = invoke("cluster.up", "--provider", "kwok", "--name", NAME)
    assert first.exit_code == 0, first.stderr
    assert (state_dir / "kubeconfig").is_file()
    assert _processes_mentioning(str(cluster_dir))
    again = invoke("cluster.up", "--provider", "kwok", "--name", NAME)
    assert again.exit_code == 0
    assert f"kwok cluster {NAME} already running" in again.stderr.decode()
    status = invoke("cluster.status", "--provider", "kwok", "--name", NAME)
    assert status.exit_code == 0
    assert "state:      running" in status.stdout.decode()
    assert f"context:    kwok-{NAME}" in status.stdout.decode()
    assert _fingerprint(user_kubeconfig) == before
    volume = _claim_a_volume(state_dir / "kubeconfig", f"kwok-{NAME}")
    assert volume.is_dir()

    down = invoke("cluster.down", "--provider", "kwok", "--name", NAME)
    assert down.exit_code == 0, down.stderr
    assert _processes_mentioning(str(cluster_dir)) == []
    assert not cluster_dir.exists() and not state_dir.exists()
    assert not volume.exists()
    gone = invoke("cluster.status", "--provider", "kwok", "--name", NAME)
    assert gone.exit_code == 1 and "state:      absent" in gone.stdout.decode()
    assert invoke("cluster.down", "--provider", "kwok", "--name", NAME).exit_code == 0
    assert _fingerprint(user_kubeconfig) == before


def test_unknown_provider_is_one_line_and_exit_1():
    result = invoke("cluster.up", "--provider", "kind")
    assert result.exit_code == 1
    assert result.stderr.decode().splitlines() == [
        "opskit: error: --provider: 'kind' is not allowed; use one of: auto, kwok, k3d, minikube"
    ]


def test_port_already_taken_is_one_line_and_nothing_is_created(scratch_root):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        _set_kwok_port(scratch_root, port)
        result = invoke("cluster.up", "--provider", "kwok", "--name", NAME, root=scratch_root)
    assert result.exit_code == 1
    assert result.stderr.decode().splitlines() == [
        f"opskit: error: port {port} (cluster.kwok.apiserver_port) is already in use; stop what "
        "listens there, or set cluster.kwok.apiserver_port: 0 in opskit.yaml to pick a free port"
    ]
    _assert_no_cluster_state(scratch_root)


def test_missing_binary_is_one_line_and_nothing_is_created(scratch_root):
    (scratch_root / ".tools").unlink()
    path = os.pathsep.join(p for p in os.environ["PATH"].split(os.pathsep) if "/.tools" not in p)
    result = invoke(
        "cluster.up",
        "--provider",
        "kwok",
        "--name",
        NAME,
        root=scratch_root,
        extra_env={"PATH": path},
    )
    assert result.exit_code == 1
    lines = result.stderr.decode().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith(
        "opskit: error: `kwokctl` not found; install it: run `invoke tools.install`"
    )
    _assert_no_cluster_state(scratch_root)
