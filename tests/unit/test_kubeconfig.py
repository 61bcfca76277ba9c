"""A kubeconfig that does not parse is one line naming it, not kubectl's stderr dump."""

import dataclasses

import pytest

from opskit import clusters
from opskit.core import config
from opskit.core.errors import OpsError
from opskit.kube.kubectl import Kube
from opskit.kube.reads import api_versions

GOOD = """apiVersion: v1
kind: Config
clusters:
  - name: lab
    cluster: {server: "https://127.0.0.1:1"}
contexts:
  - name: kwok-gitops-lab
    context: {cluster: lab, user: lab}
users:
  - name: lab
    user: {token: x}
"""


@pytest.fixture
def kubeconfig(tmp_path, monkeypatch, root):
    """The kwok cluster's kubeconfig in a scratch state folder, and a kwok config."""
    monkeypatch.setenv("OPSKIT_STATE_DIR", str(tmp_path))
    cfg = config.load(root / "opskit.yaml")
    cfg = dataclasses.replace(cfg, cluster=dataclasses.replace(cfg.cluster, provider="kwok"))
    path = clusters.state_dir_of("kwok-gitops-lab") / "kubeconfig"
    path.parent.mkdir(parents=True)
    return cfg, path


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("apiVersion: v1\nclusters: [\n", ": line 3: invalid YAML ("),
        (GOOD + "contexts: []\n", ": line 12: duplicate key 'contexts' (first on line 6)"),
        ("- just\n- a list\n", ": not a kubeconfig (a mapping with a `contexts:` list)"),
        ("contexts: kwok-gitops-lab\n", ": not a kubeconfig (a mapping with a `contexts:` list)"),
    ],
)
def test_connect_refuses_a_broken_kubeconfig_in_one_line(kubeconfig, content, message):
    cfg, path = kubeconfig
    path.write_text(content)
    with pytest.raises(OpsError) as info:
        clusters.connect(cfg, "dev")
    text = str(info.value)
    assert "\n" not in text
    assert text.startswith(f"{path}{message}")
    assert text.endswith("; write it again: `invoke cluster.down`, then `invoke cluster.up`")


def test_connect_takes_a_good_kubeconfig(kubeconfig):
    cfg, path = kubeconfig
    path.write_text(GOOD)
    assert clusters.connect(cfg, "dev").kube == Kube(path, "kwok-gitops-lab")


def test_a_good_kubeconfig_to_a_stopped_cluster_says_to_start_it(tmp_path):
    path = tmp_path / "kubeconfig"
    path.write_text(GOOD)
    with pytest.raises(OpsError) as info:
        api_versions(Kube(path, "kwok-gitops-lab"))
    assert "invoke cluster.up" in info.value.hint and "\n" not in str(info.value)
    assert "not a kubeconfig" not in str(info.value)
