"""Smoke tests against the CURRENT cluster: `nox -s cluster-smoke` (or `pytest tests/smoke`).

Which cluster: opskit.clusters.current(cfg), overridden by $KUBECONFIG / $OPSKIT_CONTEXT
(and $OPSKIT_RUNS_CONTAINERS=0|1 for a cluster opskit did not create). Which overlay:
$OVERLAY (default dev). Which CA signs the Ingress certificate: $OPSKIT_CA (default
<root>/.certs/ca/rootCA.pem). HTTPS goes to $OPSKIT_INGRESS (host:port) when set, else to
the cluster's ingress address. Secret values are never printed: only key names are read.
"""

from __future__ import annotations

import json
import os
import socket
import time
import urllib.parse
from dataclasses import dataclass
from pathlib import Path

import pytest
import testinfra

from opskit.core import config
from opskit.core.errors import OpsError
from opskit.kube.kubectl import Kube
from tests.smoke.report_plugin import pytest_addoption, pytest_configure  # --report=DIR

SMOKE_TIMEOUT = 300  # s per check: a cluster that stops answering fails the check


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/smoke/" in str(item.path):
            item.add_marker(pytest.mark.timeout(SMOKE_TIMEOUT))


__all__ = ["pytest_addoption", "pytest_configure"]
KWOK_REASON = "kwok simulates pods: no processes run"
API_SIMULATED_REASON = (
    "the api stays simulated on the embedded cluster (its image needs hex.pm, unreachable here)"
)
NO_INGRESS_REASON = (
    "no Ingress controller on the embedded cluster's real node (`invoke ingress.install` "
    "runs Traefik)"
)
NO_PROMETHEUS_REASON = "no Prometheus in the cluster (`invoke monitoring.install` installs it)"
PART_OF = "app.kubernetes.io/part-of=gitops-lab"


@dataclass(frozen=True)
class Target:
    kubeconfig: str
    context: str
    runs_containers: bool
    ingress: str  # "host:port" answering HTTPS for the overlay's hosts ("" when none)
    api_simulated: bool = False  # the embedded cluster's real node runs all but the api

    def kube(self) -> Kube:
        return Kube(self.kubeconfig, self.context)


def pytest_generate_tests(metafunc):
    """`overlay_host`: one test per host the overlay serves (opskit.yaml overlays.<o>.hosts)."""
    if "overlay_host" in metafunc.fixturenames:
        hosts = config.load().overlay(os.environ.get("OVERLAY", "dev")).hosts
        metafunc.parametrize("overlay_host", hosts)


@pytest.fixture(scope="session")
def cfg():
    return config.load()


@pytest.fixture(scope="session")
def overlay(cfg):
    return cfg.overlay(os.environ.get("OVERLAY", "dev"))


@pytest.fixture(scope="session")
def target(cfg) -> Target:
    from opskit import clusters

    cluster = clusters.current(cfg)
    runs = os.environ.get("OPSKIT_RUNS_CONTAINERS")
    own = not os.environ.get("KUBECONFIG") and not os.environ.get("OPSKIT_CONTEXT")
    real_node = own and cluster.has_real_node()
    found = Target(
        kubeconfig=os.environ.get("KUBECONFIG") or str(cluster.kubeconfig),
        context=os.environ.get("OPSKIT_CONTEXT") or cluster.context,
        runs_containers=(cluster.runs_containers or real_node) if runs is None else runs == "1",
        ingress=os.environ.get("OPSKIT_INGRESS", ""),
        api_simulated=real_node,
    )
    answer = found.kube().run("get", "--raw", "/readyz", check=False, timeout=20)
    if answer.returncode != 0:
        pytest.fail(
            f"no cluster answers at context {found.context} ({found.kubeconfig}): start one "
            "with `invoke cluster.up` and deploy with `invoke deploy --overlay=dev`",
            pytrace=False,
        )
    if found.runs_containers and not found.ingress and own:
        address = _https_address(cfg, cluster)
        found = Target(found.kubeconfig, found.context, True, address, found.api_simulated)
    return found


def _https_address(cfg, cluster) -> str:
    """host:port of the cluster's ingress for HTTPS (k3d maps 443 to cluster.k3d.https_port;
    the embedded cluster's real node: Traefik's entry point, the port in its address)."""
    base = urllib.parse.urlparse(cluster.ingress_address())
    if not base.hostname:
        return ""
    if cluster.provider == "k3d":
        return f"{base.hostname}:{cfg.cluster.k3d.https_port}"
    return f"{base.hostname}:{base.port if base.scheme == 'https' and base.port else 443}"


@pytest.fixture(scope="session")
def kube(target) -> Kube:
    return target.kube()


@pytest.fixture(scope="session")
def k8s(kube, overlay):
    return Objects(kube, overlay.namespace)


class Objects:
    """Read-only access to the overlay's namespace; a missing object fails with the fix."""

    def __init__(self, kube: Kube, namespace: str) -> None:
        self.kube = kube
        self.namespace = namespace

    def get(self, kind: str, name: str = "", *selector: str) -> dict:
        __tracebackhide__ = True
        args = ["get", kind, *([name] if name else []), "-n", self.namespace, *selector]
        result = self.kube.run(*args, "-o", "json", check=False, timeout=30)
        if result.returncode != 0:
            pytest.fail(
                f"{kind} {name} in {self.namespace}: {result.stderr.strip()}; "
                "deploy it with `invoke deploy --overlay=<overlay>`",
                pytrace=False,
            )
        return json.loads(result.stdout)

    def items(self, kind: str, *selector: str) -> list[dict]:
        return self.get(kind, "", *selector)["items"]

    def key_names(self, secret: str) -> set[str]:
        """The data keys of a Secret: a template prints names only, values never leave kubectl."""
        __tracebackhide__ = True
        template = '{{range $k, $v := .data}}{{$k}}{{"\\n"}}{{end}}'
        result = self.kube.run(
            "get",
            "secret",
            secret,
            "-n",
            self.namespace,
            "-o",
            f"go-template={template}",
            check=False,
            timeout=30,
        )
        if result.returncode != 0:
            pytest.fail(f"Secret {secret} in {self.namespace}: not found", pytrace=False)
        return set(result.stdout.split())

    def pods(self, name: str) -> list[dict]:
        return self.items("pods", "-l", f"app.kubernetes.io/name={name}")

    @staticmethod
    def ready(pod: dict) -> bool:
        conditions = (pod.get("status") or {}).get("conditions") or []
        return any(c["type"] == "Ready" and c["status"] == "True" for c in conditions)

    def serves(self, resource: str) -> bool:
        result = self.kube.run("get", "crd", resource, "-o", "name", check=False, timeout=30)
        return result.returncode == 0


@pytest.fixture(scope="session")
def ca_file(cfg) -> Path:
    return Path(os.environ.get("OPSKIT_CA") or cfg.root / ".certs" / "ca" / "rootCA.pem")


@pytest.fixture
def in_containers(target) -> None:
    """Checks of real processes and traffic: not applicable where pods are simulated."""
    if not target.runs_containers:
        pytest.skip(KWOK_REASON)


@pytest.fixture
def api_runs(in_containers, target) -> None:
    """Checks of the api's own process or of HTTPS to it: they need its image."""
    if target.api_simulated:
        pytest.skip(API_SIMULATED_REASON)


@pytest.fixture
def pod_host(in_containers, target, k8s):
    """A testinfra `kubectl://` host for the first Ready pod labelled with `name`."""

    def resolve(name: str, container: str):
        __tracebackhide__ = True
        pods = [pod for pod in k8s.pods(name) if k8s.ready(pod)]
        if not pods:
            pytest.fail(f"no Ready pod app.kubernetes.io/name={name} in {k8s.namespace}")
        query = urllib.parse.urlencode(
            {
                "namespace": k8s.namespace,
                "container": container,
                "kubeconfig": target.kubeconfig,
                "context": target.context,
            }
        )
        return testinfra.get_host(f"kubectl://{pods[0]['metadata']['name']}?{query}")

    return resolve


def host_of(overlay, service: str) -> str:
    """The overlay's host for `service` (opskit.yaml overlays.<o>.hosts: api.*, telemetry.*)."""
    __tracebackhide__ = True
    found = [h for h in overlay.hosts if h.split(".")[0] == service]
    if not found:
        pytest.fail(f"overlay {overlay.name} names no host {service}.*", pytrace=False)
    return found[0]


@pytest.fixture
def ingress_https(in_containers, target, ca_file, overlay):
    """HTTPS (opskit.core.https: requests) to the overlay's hosts via the ingress, trusting the
    mkcert CA and no other: `ingress_https(host, method, path, body=None) -> (status, JSON
    or text)`."""
    if not ca_file.is_file():
        pytest.fail(f"{ca_file}: no CA; set OPSKIT_CA or run `invoke certs.init`", pytrace=False)
    if target.api_simulated and not os.environ.get("OPSKIT_INGRESS") and not _traefik(target):
        pytest.skip(NO_INGRESS_REASON)
    if not target.ingress:
        pytest.fail("no ingress address: set OPSKIT_INGRESS=host:port", pytrace=False)
    return _https_client(target.ingress, ca_file, overlay.hosts)


@pytest.fixture
def https(api_runs, ingress_https):
    """`ingress_https` for the checks of the api (they need its image)."""
    return ingress_https


def _traefik(target) -> bool:
    """The real node's Ingress controller is installed (opskit.platform.ingress)."""
    from opskit.platform import ingress

    argv = ("get", ingress.WORKLOAD, "-n", ingress.NAMESPACE, "-o", "name")
    return target.kube().run(*argv, check=False, timeout=30).returncode == 0


def _https_client(ingress: str, ca_file: Path, hosts):
    from opskit.core import https as client

    address, port = ingress.rsplit(":", 1)
    ip = socket.gethostbyname(address)
    session = client.Client(ca_file, addresses=dict.fromkeys(hosts, ip))

    def call(host: str, method: str, path: str, body: dict | None = None):
        __tracebackhide__ = True
        try:
            answer = session.call(method, f"https://{host}:{port}{path}", body)
        except OpsError as exc:
            pytest.fail(str(exc), pytrace=False)
        return answer.status, answer.body if answer.body != "" else None

    return call


@pytest.fixture
def eventually():
    """`eventually(check, timeout)`: the first truthy `check()` within the time, else the last."""

    def poll(check, timeout: float = 60, every: float = 3):
        deadline = time.monotonic() + timeout
        while True:
            result = check()
            if result or time.monotonic() > deadline:
                return result
            time.sleep(every)

    return poll
