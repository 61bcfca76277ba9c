"""A cluster whose API server is gone (crashed, machine restarted) is one line that says how
to bring it back, from every kubectl call that needs an answer (the real kubectl here)."""

import socket

import pytest

from opskit.core.errors import OpsError
from opskit.kube.kubectl import Kube
from opskit.kube.reads import api_versions

pytestmark = pytest.mark.tools("kubectl")


@pytest.fixture
def dead_cluster(tmp_path) -> Kube:
    """A kubeconfig whose server port nothing listens on."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(
        "apiVersion: v1\nkind: Config\n"
        f"clusters: [{{name: c, cluster: {{server: 'https://127.0.0.1:{port}'}}}}]\n"
        "users: [{name: u, user: {token: t}}]\n"
        "contexts: [{name: kwok-crashed, context: {cluster: c, user: u}}]\n"
    )
    return Kube(kubeconfig, "kwok-crashed")


@pytest.mark.parametrize(
    "call",
    [
        lambda kube: kube.run("get", "pods", timeout=20),
        lambda kube: kube.json("get", "deployments", "-n", "dev", timeout=20),
        api_versions,
    ],
)
def test_unreachable_api_server_is_one_line_with_the_recovery(dead_cluster, call):
    with pytest.raises(OpsError) as caught:
        call(dead_cluster)
    message = str(caught.value)
    assert "\n" not in message, message
    assert "kwok-crashed" in message and "`invoke cluster.up`" in message


def test_a_probe_that_tolerates_failure_still_gets_the_result(dead_cluster):
    assert dead_cluster.run("get", "--raw", "/readyz", check=False, timeout=20).returncode != 0
