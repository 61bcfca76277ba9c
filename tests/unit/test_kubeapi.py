"""opskit.kube.api: which kubeconfigs it reads in-process, and which it leaves to kubectl.
(Its reads against a real API server: tests/e2e/test_kubeapi.py.)"""

from __future__ import annotations

import base64

import pytest
import yaml

from opskit.kube import api
from opskit.kube.kubectl import Kube


def kubeconfig(tmp_path, user: dict, cluster: dict | None = None):
    cluster = cluster or {"server": "https://127.0.0.1:6443", "certificate-authority": "ca.crt"}
    doc = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "c", "cluster": cluster}],
        "users": [{"name": "u", "user": user}],
        "contexts": [{"name": "ctx", "context": {"cluster": "c", "user": "u"}}],
    }
    path = tmp_path / "kubeconfig"
    path.write_text(yaml.safe_dump(doc))
    return path


def test_files_and_tokens_are_read_in_process_relative_to_the_kubeconfig(tmp_path):
    path = kubeconfig(tmp_path, {"client-certificate": "admin.crt", "client-key": "/k/admin.key"})
    target = api._target(path, "ctx")
    assert (target.host, target.port) == ("127.0.0.1", 6443)
    assert target.ca_file == str(tmp_path / "ca.crt")
    assert target.cert == (str(tmp_path / "admin.crt"), "/k/admin.key")
    ca = base64.b64encode(b"-----BEGIN CERTIFICATE-----").decode()
    path = kubeconfig(
        tmp_path, {"token": "t0k"}, {"server": "https://h", "certificate-authority-data": ca}
    )
    target = api._target(path, "ctx")
    assert (target.port, target.token, target.ca_data) == (
        443,
        "t0k",
        "-----BEGIN CERTIFICATE-----",
    )


@pytest.mark.parametrize(
    "user, cluster",
    [
        ({"client-certificate-data": "eA==", "client-key-data": "eA=="}, None),  # k3d: inline key
        ({"exec": {"command": "aws"}}, None),
        ({"token": "t"}, {"server": "http://127.0.0.1:8080"}),
        ({"token": "t"}, {"server": "https://h", "insecure-skip-tls-verify": True}),
        ({"token": "t"}, {"server": "https://h/prefix"}),
    ],
)
def test_what_only_kubectl_handles_is_left_to_kubectl(tmp_path, user, cluster):
    path = kubeconfig(tmp_path, user, cluster)
    with pytest.raises(api.Unavailable):
        api._target(path, "ctx")
    assert api.client(Kube(path, "ctx")) is None  # the caller then runs kubectl


def test_a_missing_kubeconfig_or_context_means_kubectl(tmp_path):
    assert api.client(Kube(tmp_path / "absent", "ctx")) is None
    path = kubeconfig(tmp_path, {"token": "t"})
    assert api.client(Kube(path, "other")) is None


def test_a_kubeconfig_written_again_gets_a_new_client(tmp_path, monkeypatch):
    made = []

    class Recorded:
        def __init__(self, target):
            made.append(target)

    monkeypatch.setattr(api, "Client", Recorded)
    path = kubeconfig(tmp_path, {"token": "t"})
    kube = Kube(path, "ctx")
    first = api.client(kube)
    assert api.client(kube) is first and len(made) == 1  # one per process
    path.write_text(path.read_text() + "\n")  # cluster.up of a new cluster rewrites it
    assert api.client(kube) is not first and len(made) == 2
