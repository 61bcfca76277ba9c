"""opskit.kube.api against a small local HTTPS server that answers like an API server:
discovery (aggregated or per group-version), GET and LIST, 401/403/404, TLS with a CA
and a client certificate or a bearer token. (Against a real API server, which needs etcd
and kube-apiserver started: tests/e2e/test_kubeapi.py.)"""

from __future__ import annotations

import base64
import contextlib
import json
import re
import socket
import ssl
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import SimpleNamespace

import pytest
import yaml

from opskit.core import shell
from opskit.kube import api
from opskit.kube.kubectl import Kube

TOKEN = "s3cret-token"
# group-version -> kind -> (plural, namespaced)
SERVED = {
    "v1": {
        "ConfigMap": ("configmaps", True),
        "Secret": ("secrets", True),
        "Namespace": ("namespaces", False),
    },
    "apps/v1": {"Deployment": ("deployments", True)},
}
CRD = ("example.com/v1", "Widget", "widgets")


pytestmark = pytest.mark.tools("openssl")


def _openssl(*args: str, cwd: Path) -> None:
    shell.run(["openssl", *args], cwd=str(cwd))


@pytest.fixture(scope="module")
def certs(tmp_path_factory) -> Path:
    """A CA, a server certificate for 127.0.0.1 and a client certificate, all EC (fast)."""
    where = tmp_path_factory.mktemp("pki")
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "1"]
    _openssl(
        "req", "-x509", *ec, "-keyout", "ca.key", "-out", "ca.crt", "-subj", "/CN=ca", cwd=where
    )
    (where / "san.ext").write_text("subjectAltName=IP:127.0.0.1\n")
    for name, extra in (("server", ["-extfile", "san.ext"]), ("client", [])):
        subject = f"/CN={name}/O=system:masters"
        _openssl(
            "req",
            *ec[:-2],
            "-keyout",
            f"{name}.key",
            "-out",
            "req.csr",
            "-subj",
            subject,
            cwd=where,
        )
        sign = ["-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial", "-days", "1"]
        _openssl("x509", "-req", "-in", "req.csr", *sign, "-out", f"{name}.crt", *extra, cwd=where)
    return where


class FakeApiServer(ThreadingHTTPServer):
    """The state the handler answers from, and what it was asked."""

    daemon_threads = True

    def __init__(self, certs: Path) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(certs / "server.crt", certs / "server.key")
        context.load_verify_locations(certs / "ca.crt")
        context.verify_mode = ssl.CERT_OPTIONAL  # a client certificate or a token
        self.socket = context.wrap_socket(self.socket, server_side=True)
        self.aggregated = True
        self.etags = True  # an aggregator in front may drop them
        self.served = {gv: dict(kinds) for gv, kinds in SERVED.items()}
        self.objects: dict[tuple[str, str, str, str], dict] = {}  # (gv, plural, ns, name)
        self.requests: list[tuple[str, dict]] = []  # (path, headers)
        self.answers: list[int] = []
        self.connections: list[socket.socket] = []
        self.canned: dict[str, tuple[int, bytes]] = {}  # path -> (status, body) to answer

    @property
    def port(self) -> int:
        return self.server_address[1]

    @property
    def etag(self) -> str:
        return f'"{abs(hash(json.dumps(self.served, sort_keys=True)))}"'

    def put(self, api_version: str, kind: str, name: str, namespace: str = "", **fields) -> None:
        plural, namespaced = self.served[api_version][kind]
        meta = {"name": name, **({"namespace": namespace} if namespaced else {})}
        self.objects[(api_version, plural, namespace if namespaced else "", name)] = {
            "apiVersion": api_version,
            "kind": kind,
            "metadata": meta,
            **fields,
        }

    def paths(self) -> list[str]:
        return [path for path, _headers in self.requests]

    def drop_connections(self) -> None:
        """Close every kept-alive connection, as a server does after its idle timeout."""
        for conn in self.connections:
            with contextlib.suppress(OSError):  # already closed by the client
                conn.shutdown(socket.SHUT_RDWR)
        self.connections.clear()


def _group_version(gv: str) -> tuple[str, str]:
    group, _, version = gv.rpartition("/")
    return group, version


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as the API server
    server: FakeApiServer

    def setup(self) -> None:
        super().setup()
        self.server.connections.append(self.connection)

    def log_message(self, *args) -> None:  # quiet
        pass

    def do_GET(self) -> None:
        self.server.requests.append((self.path, dict(self.headers)))
        bearer = self.headers.get("Authorization") == f"Bearer {TOKEN}"
        if not bearer and not self.connection.getpeercert():
            self._status(401, "Unauthorized")
        elif self.path in self.server.canned:
            self._send(*self.server.canned[self.path])
        elif self.path in ("/api", "/apis"):
            self._discovery(self.path)
        else:
            self._resources()

    def _resources(self) -> None:
        match = re.fullmatch(
            r"/(?:api/(?P<core>v1)|apis/(?P<gv>[^/]+/[^/]+))"
            r"(?:/namespaces/(?P<ns>[^/]+))?(?:/(?P<plural>[^/]+)(?:/(?P<name>[^/]+))?)?",
            self.path,
        )
        gv = match and (match["core"] or match["gv"])
        if match is None or gv not in self.server.served:
            self._status(404, "the server could not find the requested resource")
        elif match["plural"] is None and match["ns"] is None:
            self._json(200, self._resource_list(gv))
        elif match["plural"] is None:  # /api/v1/namespaces/NAME: the namespace itself
            self._object(gv, "namespaces", "", match["ns"])
        elif match["plural"] == "secrets":
            self._status(403, 'secrets is forbidden: User "u" cannot list')
        elif match["name"] is None:
            items = [
                {k: v for k, v in o.items() if k not in ("apiVersion", "kind")}
                for (g, p, ns, _n), o in sorted(self.server.objects.items())
                if (g, p, ns) == (gv, match["plural"], match["ns"] or "")
            ]
            self._json(200, {"kind": "List", "items": items})
        else:
            self._object(gv, match["plural"], match["ns"] or "", match["name"])

    def _object(self, gv: str, plural: str, namespace: str, name: str) -> None:
        found = self.server.objects.get((gv, plural, namespace, name))
        if found is None:
            self._status(404, f'{plural} "{name}" not found')
        else:
            self._json(200, found)

    def _discovery(self, root: str) -> None:
        core = root == "/api"
        versions = sorted(gv for gv in self.server.served if (gv == "v1") == core)
        if self.server.aggregated and "apidiscovery.k8s.io" in self.headers.get("Accept", ""):
            etag = self.server.etag
            if self.headers.get("If-None-Match") == etag:
                return self._send(304, b"", etag)
            items = [self._aggregated(gv) for gv in versions]
            body = {"kind": "APIGroupDiscoveryList", "items": items}
            return self._send(200, json.dumps(body).encode(), etag if self.server.etags else "")
        if core:
            return self._json(200, {"kind": "APIVersions", "versions": versions})
        groups = [{"name": gv.split("/")[0], "versions": [{"groupVersion": gv}]} for gv in versions]
        return self._json(200, {"kind": "APIGroupList", "groups": groups})

    def _aggregated(self, gv: str) -> dict:
        """One group of an APIGroupDiscoveryList, with its one version."""
        group, version = _group_version(gv)
        resources = [
            {
                "resource": plural,
                "responseKind": {"kind": kind},
                "scope": "Namespaced" if namespaced else "Cluster",
            }
            for kind, (plural, namespaced) in self.server.served[gv].items()
        ]
        return {
            "metadata": {"name": group},
            "versions": [{"version": version, "resources": resources}],
        }

    def _resource_list(self, gv: str) -> dict:
        resources = [
            {"name": plural, "kind": kind, "namespaced": namespaced}
            for kind, (plural, namespaced) in self.server.served[gv].items()
        ]
        if gv == "apps/v1":  # a subresource, which is not a kind of its own
            resources.append({"name": "deployments/scale", "kind": "Scale", "namespaced": True})
        return {"kind": "APIResourceList", "groupVersion": gv, "resources": resources}

    def _status(self, code: int, message: str) -> None:
        self._json(code, {"kind": "Status", "status": "Failure", "message": message, "code": code})

    def _json(self, code: int, body: dict) -> None:
        self._send(code, json.dumps(body).encode())

    def _send(self, code: int, body: bytes, etag: str = "") -> None:
        self.server.answers.append(code)
        self.send_response(code)
        if etag:
            self.send_header("ETag", etag)
        if code != 304:
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if code != 304:
            self.wfile.write(body)


@pytest.fixture
def server(certs) -> Iterator[FakeApiServer]:
    served = FakeApiServer(certs)
    thread = threading.Thread(target=served.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    yield served
    served.shutdown()
    served.drop_connections()
    served.server_close()
    thread.join()


@pytest.fixture(autouse=True)
def fresh_clients(monkeypatch) -> None:
    monkeypatch.setattr(api, "_clients", {})  # one client per kubeconfig and process


def write_kubeconfig(where: Path, port: int, user: dict, cluster: dict) -> Path:
    doc = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "c", "cluster": {"server": f"https://127.0.0.1:{port}", **cluster}}],
        "users": [{"name": "u", "user": user}],
        "contexts": [{"name": "ctx", "context": {"cluster": "c", "user": "u"}}],
    }
    path = where / "kubeconfig"
    path.write_text(yaml.safe_dump(doc))
    return path


@pytest.fixture
def cert_kube(tmp_path, certs, server) -> Kube:
    """A kubeconfig naming its CA and client certificate relative to itself (as kubeadm's)."""
    for name in ("ca.crt", "client.crt", "client.key"):
        (tmp_path / "pki").mkdir(exist_ok=True)
        (tmp_path / "pki" / name).write_bytes((certs / name).read_bytes())
    user = {"client-certificate": "pki/client.crt", "client-key": "pki/client.key"}
    return Kube(
        write_kubeconfig(tmp_path, server.port, user, {"certificate-authority": "pki/ca.crt"}),
        "ctx",
    )


def token_kube(where: Path, certs: Path, port: int, token: str = TOKEN) -> Kube:
    ca = base64.b64encode((certs / "ca.crt").read_bytes()).decode()
    cluster = {"certificate-authority-data": ca}
    return Kube(write_kubeconfig(where, port, {"token": token}, cluster), "ctx")


def connected(kube: Kube) -> api.Client:
    client = api.client(kube)
    assert client is not None
    return client


def configmap(name: str, namespace: str = "apps") -> dict:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, "namespace": namespace},
    }


def test_a_client_certificate_named_relative_to_the_kubeconfig_authenticates(cert_kube, server):
    server.put("v1", "ConfigMap", "settings", "apps", data={"k": "v"})
    client = connected(cert_kube)
    assert client.api_versions() == {"v1", "apps/v1"}
    assert client.read(configmap("settings"), "default")["data"] == {"k": "v"}
    assert all("Authorization" not in headers for _path, headers in server.requests)


def test_a_token_is_sent_as_a_bearer_and_a_wrong_one_means_kubectl(tmp_path, certs, server):
    server.put("v1", "ConfigMap", "settings", "apps")
    client = connected(token_kube(tmp_path, certs, server.port))
    assert client.read(configmap("settings"), "")["metadata"]["name"] == "settings"
    assert {headers["Authorization"] for _path, headers in server.requests} == {f"Bearer {TOKEN}"}
    wrong = tmp_path / "wrong"
    wrong.mkdir()
    kube = token_kube(wrong, certs, server.port, token="expired")
    assert api.attempt(kube, lambda c: c.read(configmap("settings"), "")) is None
    assert server.answers[-1] == 401


def test_namespaced_kinds_are_read_in_their_namespace_and_cluster_scoped_ones_not(
    cert_kube, server
):
    client = connected(cert_kube)
    assert (
        client.url("v1", "ConfigMap", "apps", "a b") == "/api/v1/namespaces/apps/configmaps/a%20b"
    )
    assert client.url("v1", "Namespace", "apps", "apps") == "/api/v1/namespaces/apps"
    assert (
        client.url("apps/v1", "Deployment", "apps") == "/apis/apps/v1/namespaces/apps/deployments"
    )
    server.put("v1", "Namespace", "apps")
    server.put("apps/v1", "Deployment", "web", "apps", spec={"replicas": 2})
    namespace = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "apps"}}
    assert client.read(namespace, "elsewhere")["metadata"] == {"name": "apps"}
    web = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"}}
    assert client.read(web, "apps")["spec"] == {"replicas": 2}  # the default namespace
    assert client.read({**web, "metadata": {"name": "web", "namespace": "apps"}}, "x") is not None


def test_a_missing_object_is_none_and_a_refusal_is_unavailable(cert_kube, server):
    client = connected(cert_kube)
    assert client.read(configmap("absent"), "") is None
    assert server.answers[-1] == 404
    secret = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s", "namespace": "apps"}}
    with pytest.raises(api.Unavailable, match="HTTP 403"):
        client.read(secret, "")
    with pytest.raises(api.Unavailable, match="HTTP 403 secrets is forbidden"):
        client.list("v1", "Secret", "apps")
    assert api.attempt(cert_kube, lambda c: c.read(secret, "")) is None


@pytest.mark.parametrize("aggregated", [True, False], ids=["aggregated", "per-group-version"])
def test_discovery_is_asked_once_and_again_for_a_kind_it_does_not_know(
    cert_kube, server, aggregated
):
    server.aggregated = aggregated
    client = connected(cert_kube)
    for name in ("a", "b"):
        client.read(configmap(name), "")
    discovery = [p for p in server.paths() if not p.startswith("/api/v1/namespaces")]
    if aggregated:
        assert discovery == ["/api", "/apis"]
    else:
        assert discovery == ["/api", "/api/v1", "/apis", "/apis/apps/v1"]
    assert "Scale" not in client._discovery()["apps/v1"]  # deployments/scale: a subresource
    server.served[CRD[0]] = {CRD[1]: (CRD[2], True)}  # a CRD applied since
    server.put(CRD[0], CRD[1], "w", "apps")
    widget = {"apiVersion": CRD[0], "kind": CRD[1], "metadata": {"name": "w", "namespace": "apps"}}
    assert client.read(widget, "")["kind"] == "Widget"
    assert server.paths()[-1] == "/apis/example.com/v1/namespaces/apps/widgets/w"
    assert server.paths().count("/apis") == 2
    gadget = {**widget, "kind": "Gadget"}  # a kind no CRD serves
    with pytest.raises(api.Unavailable, match=r"example\.com/v1 Gadget: not served"):
        client.read(gadget, "")
    assert server.paths().count("/apis") == 3
    assert api.attempt(cert_kube, lambda c: c.read(gadget, "")) is None


def test_aggregated_discovery_asked_afresh_is_answered_304_when_unchanged(cert_kube, server):
    client = connected(cert_kube)
    assert client.api_versions() == {"v1", "apps/v1"}
    assert client.api_versions() == {"v1", "apps/v1"}  # from the 304s
    assert server.answers == [200, 200, 304, 304]
    assert [h.get("If-None-Match") for p, h in server.requests[2:]] == [server.etag] * 2
    server.served[CRD[0]] = {CRD[1]: (CRD[2], True)}
    assert client.api_versions() == {"v1", "apps/v1", CRD[0]}
    assert server.answers[-1] == 200


def test_aggregated_discovery_without_an_etag_is_asked_in_full_each_time(cert_kube, server):
    server.etags = False
    client = connected(cert_kube)
    client.api_versions()
    client.api_versions()
    assert server.answers == [200] * 4
    assert all("If-None-Match" not in headers for _path, headers in server.requests)


def test_read_all_lists_a_kind_once_per_namespace_and_keeps_the_order(cert_kube, server):
    for name in ("a", "b", "other"):
        server.put("v1", "ConfigMap", name, "apps")
    server.put("v1", "ConfigMap", "c", "web")
    server.put("v1", "Namespace", "apps")
    namespace = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "apps"}}
    stubs = [configmap("b"), namespace, configmap("absent"), configmap("c", "web"), configmap("a")]
    got = connected(cert_kube).read_all(stubs)
    assert [(o["kind"], o["metadata"]["name"]) for o in got] == [
        ("ConfigMap", "b"),
        ("Namespace", "apps"),
        ("ConfigMap", "c"),
        ("ConfigMap", "a"),
    ]
    assert all(o["apiVersion"] == "v1" for o in got)  # put back on LIST items
    reads = sorted(p for p in server.paths() if p.startswith("/api/v1/"))
    assert reads == [
        "/api/v1/namespaces/apps",
        "/api/v1/namespaces/apps/configmaps",  # a, b, absent: one LIST
        "/api/v1/namespaces/web/configmaps/c",
    ]


def test_each_returns_results_in_order_and_raises_the_first_failure(cert_kube, server):
    client = connected(cert_kube)
    assert client.each(lambda n: n * 2, [(1,), (2,), (3,)]) == [2, 4, 6]
    assert client.each(lambda n: n, [(7,)]) == [7]

    def failing(n: int) -> int:
        if n == 2:
            raise api.Unavailable("two")
        return n

    with pytest.raises(api.Unavailable, match="two"):
        client.each(failing, [(1,), (2,), (3,)])


def test_an_unreachable_server_means_kubectl(tmp_path, certs):
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    kube = token_kube(tmp_path, certs, port)
    assert api.attempt(kube, lambda c: c.api_versions()) is None
    with pytest.raises(api.Unavailable):
        connected(kube).fetch("/api")


def test_a_connection_the_server_closed_is_made_again_once(cert_kube, server):
    client = connected(cert_kube)
    client.api_versions()
    assert len(server.connections) == 1  # kept alive
    server.drop_connections()
    assert client.api_versions() == {"v1", "apps/v1"}
    assert len(server.connections) == 1  # a new one


def test_an_answer_that_is_not_json_or_not_ok_is_unavailable(cert_kube, server):
    page = (200, b"<html>a proxy page</html>")
    server.canned["/api/v1/namespaces/apps/configmaps/x"] = page
    client = connected(cert_kube)
    with pytest.raises(api.Unavailable, match="not JSON"):
        client.read(configmap("x"), "")
    server.canned["/apis"] = page
    with pytest.raises(api.Unavailable, match="GET /apis: not JSON"):
        client.api_versions()
    server.canned["/apis"] = (503, b"{}")
    with pytest.raises(api.Unavailable, match="GET /apis: HTTP 503"):
        client.api_versions()
    del server.canned["/apis"]
    server.aggregated = False
    server.canned["/apis/apps/v1"] = (503, b'{"message": "metrics down"}')  # listed, not served
    with pytest.raises(api.Unavailable, match="GET /apis/apps/v1: HTTP 503 metrics down"):
        client.api_versions()


def test_echo_prints_each_request(cert_kube, server, capsys):
    client = connected(cert_kube)
    with shell.echoing(True):
        client.read(configmap("absent"), "")
    printed = capsys.readouterr().err.splitlines()
    base = f"$ GET https://127.0.0.1:{server.port}"
    assert printed == [
        f"{base}/api",
        f"{base}/apis",
        f"{base}/api/v1/namespaces/apps/configmaps/absent",
    ]


def test_a_client_needs_a_certificate_or_a_token(tmp_path, certs, server):
    ca = {"certificate-authority": str(certs / "ca.crt")}
    kube = Kube(write_kubeconfig(tmp_path, server.port, {}, ca), "ctx")
    assert api.client(kube) is None
    assert api.attempt(kube, lambda c: pytest.fail("no client to read with")) is None
    assert server.requests == []
    assert api.client(SimpleNamespace(context="ctx")) is None  # type: ignore[arg-type]
