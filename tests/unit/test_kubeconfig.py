"""A kubeconfig that does not parse is one line naming it, not kubectl's stderr dump."""

import pytest

from opskit.errors import CommandFailed, OpsError
from opskit.kube import Kube, api_versions

GOOD = """apiVersion: v1
kind: Config
clusters:
  - name: lab
    cluster: {server: "https://127.0.0.1:1"}
contexts:
  - name: kwok-lab
    context: {cluster: lab, user: lab}
users:
  - name: lab
    user: {token: x}
"""


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("apiVersion: v1\nclusters: [\n", ": line 3: invalid YAML ("),
        (GOOD + "contexts: []\n", ": line 12: duplicate key 'contexts' (first on line 6)"),
        ("- just\n- a list\n", ": not a kubeconfig (it has no `contexts:` list)"),
    ],
)
def test_a_broken_kubeconfig_is_one_line_naming_it(tmp_path, content, message):
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(content)
    with pytest.raises(OpsError) as info:
        api_versions(Kube(kubeconfig, "kwok-lab"))
    text = str(info.value)
    assert "\n" not in text
    assert text.startswith(f"{kubeconfig}{message}")
    assert text.endswith("; write it again: `invoke cluster.down`, then `invoke cluster.up`")


def test_a_good_kubeconfig_to_a_stopped_cluster_says_to_start_it(tmp_path):
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(GOOD)
    with pytest.raises(CommandFailed) as info:
        api_versions(Kube(kubeconfig, "kwok-lab"))
    assert "invoke cluster.up" in info.value.hint
