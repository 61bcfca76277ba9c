"""opskit.core.https against a real local TLS server whose certificate the real mkcert made:
the project's CA is trusted, any other CA is refused, host names resolve as curl's --resolve."""

from __future__ import annotations

import json
import ssl
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from opskit.core import https, shell, tools
from opskit.core.errors import OpsError

HOST = "api.https-test.localhost"  # in no DNS: reached through Client.addresses
pytestmark = pytest.mark.skipif(
    not tools.which("mkcert"), reason="needs mkcert (apt-get install mkcert)"
)


def make_ca(folder: Path) -> Path:
    shell.run(["mkcert", "-install"], env={"CAROOT": str(folder), "TRUST_STORES": "none"})
    return folder / "rootCA.pem"


@dataclass
class Server:
    port: int
    seen: list[tuple[str, str, str]]  # method, path, Host header
    down: list[int]  # how many more GET /later answer 503

    def url(self, path: str, host: str = HOST) -> str:
        return f"https://{host}:{self.port}{path}"


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *_args) -> None:  # quiet
        pass

    def _reply(self, status: int, body: str, kind: str = "application/json") -> None:
        data = body.encode()
        self.send_response(status)
        self.send_header("content-type", kind)
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        server: Server = self.server.state  # type: ignore[attr-defined]
        server.seen.append(("GET", self.path, self.headers["Host"]))
        if self.path == "/health":
            self._reply(200, '{"status": "ok"}')
        elif self.path == "/later" and server.down[0] > 0:
            server.down[0] -= 1
            self._reply(503, "starting", "text/plain")
        elif self.path == "/later":
            self._reply(200, "up", "text/plain")
        else:
            self._reply(404, "no such page", "text/plain")

    def do_POST(self) -> None:
        server: Server = self.server.state  # type: ignore[attr-defined]
        server.seen.append(("POST", self.path, self.headers["Host"]))
        body = self.rfile.read(int(self.headers["content-length"]))
        self._reply(201, json.dumps({"got": json.loads(body)}))


@pytest.fixture(scope="module")
def ca(tmp_path_factory) -> Path:
    return make_ca(tmp_path_factory.mktemp("project-ca"))


@pytest.fixture(scope="module")
def other_ca(tmp_path_factory) -> Path:
    return make_ca(tmp_path_factory.mktemp("other-ca"))


@pytest.fixture(scope="module")
def server(ca: Path, tmp_path_factory) -> Iterator[Server]:
    """HTTPS on 127.0.0.1 with a certificate for HOST that the project CA signed."""
    folder = tmp_path_factory.mktemp("server")
    cert, key = folder / "cert.pem", folder / "key.pem"
    shell.run(
        ["mkcert", "-cert-file", str(cert), "-key-file", str(key), HOST],
        env={"CAROOT": str(ca.parent), "TRUST_STORES": "none"},
    )
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    httpd.socket = context.wrap_socket(httpd.socket, server_side=True)
    state = Server(httpd.server_address[1], [], [0])
    httpd.state = state  # type: ignore[attr-defined]
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield state
    httpd.shutdown()
    httpd.server_close()


def client(ca: Path, **kwargs) -> https.Client:
    return https.Client(ca, addresses={HOST: "127.0.0.1"}, **kwargs)


def test_get_through_the_project_ca_by_host_name(ca, server):
    answer = client(ca).get(server.url("/health"))
    assert answer == https.Answer(200, {"status": "ok"})
    assert server.seen[-1] == ("GET", "/health", f"{HOST}:{server.port}")


def test_post_sends_json_and_reads_json(ca, server):
    answer = client(ca).call("POST", server.url("/items"), {"item": {"name": "x"}})
    assert answer == https.Answer(201, {"got": {"item": {"name": "x"}}})


def test_an_error_status_is_an_answer_not_an_exception(ca, server):
    assert client(ca).get(server.url("/nope")) == https.Answer(404, "no such page")


def test_a_server_signed_by_another_ca_is_refused(other_ca, server):
    with pytest.raises(OpsError) as info:
        client(other_ca).get(server.url("/health"))
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith(f"{server.url('/health')}: the server's certificate is not trusted")
    assert "CERTIFICATE_VERIFY_FAILED" in message
    assert "invoke certs.issue" in message


def test_the_environment_bundle_does_not_widen_trust(other_ca, ca, server, monkeypatch):
    """$REQUESTS_CA_BUNDLE naming the right CA does not rescue a client given the wrong one."""
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(ca))
    monkeypatch.setenv("CURL_CA_BUNDLE", str(ca))
    with pytest.raises(OpsError, match="not trusted"):
        client(other_ca).get(server.url("/health"))


def test_the_certificate_must_name_the_host(ca, server):
    """The address maps a name the certificate does not carry: refused, though the CA fits."""
    other = https.Client(ca, addresses={"elsewhere.localhost": "127.0.0.1"})
    with pytest.raises(OpsError, match="not trusted"):
        other.get(server.url("/health", host="elsewhere.localhost"))


def test_wait_returns_once_the_endpoint_answers_2xx(ca, server):
    server.down[0] = 2
    answer = client(ca).wait(server.url("/later"), timeout=10, every=0.05)
    assert answer == https.Answer(200, "up")
    assert server.down[0] == 0


def test_wait_gives_up_with_the_last_answer(ca, server):
    server.down[0] = 1_000
    with pytest.raises(OpsError) as info:
        client(ca).wait(server.url("/later"), timeout=0.3, every=0.05)
    assert str(info.value).startswith(
        f"{server.url('/later')} did not answer 2xx within 0.3s (last: HTTP 503)"
    )
    server.down[0] = 0


def test_wait_on_a_closed_port_names_the_reason(ca, tmp_path):
    import socket

    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(OpsError, match=r"within 0\.2s \(last: no answer"):
        client(ca, timeout=1).wait(f"https://{HOST}:{port}/", timeout=0.2, every=0.05)


def test_a_missing_ca_file_says_how_to_make_it(tmp_path):
    with pytest.raises(OpsError, match=r"no CA certificate; create it with `invoke certs.init`"):
        https.Client(tmp_path / "rootCA.pem").get("https://example.invalid/")
