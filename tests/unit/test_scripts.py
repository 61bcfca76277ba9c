"""scripts/*.sh: real curl against a local HTTPS server that uses the mkcert certificate."""

import json
import shutil
import ssl
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from opskit.core import config, shell
from opskit.secrets import certs

ROOT = Path(__file__).resolve().parents[2]
SCRIPTS = ROOT / "scripts"
OVERLAYS = sorted(config.load(ROOT / "opskit.yaml").overlays)
pytestmark = pytest.mark.tools("mkcert", "curl", "bash")


class Api(BaseHTTPRequestHandler):
    """A tiny in-memory stand-in for the Phoenix items API (same paths and JSON shapes)."""

    items: dict[str, dict]
    seen: list[tuple[str, str, str, dict | None]]

    def log_message(self, *args):
        pass

    def _reply(self, status: int, body: dict | None = None) -> None:
        data = json.dumps(body).encode() if body is not None else b""
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _handle(self) -> None:  # noqa: PLR0911 - one branch per route, like a router
        length = int(self.headers.get("Content-Length") or 0)
        body = json.loads(self.rfile.read(length)) if length else None
        self.seen.append((self.command, self.path, self.headers["Host"], body))
        parts = self.path.strip("/").split("/")
        if parts == ["api", "health"]:
            return self._reply(200, {"status": "ok"})
        if parts[:2] != ["api", "items"]:
            return self._reply(404, {"errors": {"detail": "Not Found"}})
        ident = parts[2] if len(parts) > 2 else None
        if ident is None and self.command == "GET":
            return self._reply(200, {"data": list(self.items.values())})
        if ident is None and self.command == "POST":
            item = {"id": len(self.items) + 1, **body["item"]}
            self.items[str(item["id"])] = item
            return self._reply(201, {"data": item})
        if ident not in self.items:
            return self._reply(404, {"errors": {"detail": "Not Found"}})
        if self.command == "PUT":
            self.items[ident].update(body["item"])
        if self.command == "DELETE":
            del self.items[ident]
            return self._reply(204)
        return self._reply(200, {"data": self.items[ident]})

    do_GET = do_POST = do_PUT = do_DELETE = _handle


@pytest.fixture(scope="module")
def made_ca(tmp_path_factory) -> Path:
    """One project CA for the module (making an RSA-3072 CA takes about a second)."""
    folder = tmp_path_factory.mktemp("ca") / "ca"
    shell.run(["mkcert", "-install"], env={"CAROOT": str(folder), "TRUST_STORES": "none"})
    return folder


@pytest.fixture
def project(tmp_path, made_ca):
    repo = tmp_path / "repo"
    repo.mkdir()
    shutil.copy(ROOT / "opskit.yaml", repo / "opskit.yaml")
    cfg = config.load(repo / "opskit.yaml")
    shutil.copytree(made_ca, certs.caroot(cfg))
    return cfg


def serve(cert: Path, key: Path):
    """An HTTPS server on 127.0.0.1 (free port) in a thread; returns (server, handler class)."""
    handler = type("Handler", (Api,), {"items": {}, "seen": []})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    return server, handler


@pytest.fixture
def api(project):
    """(run a script, the server's handler class) for the dev overlay over real HTTPS."""
    dev = project.overlay("dev")
    certs.issue(project, dev)
    server, handler = serve(*certs.cert_paths(project, dev))
    env = {
        "CAROOT": str(certs.caroot(project)),
        "API_PORT": str(server.server_port),
        "API_ADDR": "127.0.0.1",
        "OVERLAY": "dev",
    }

    def run(script: str, *args: str, stdin: str | None = None):
        return shell.run(
            [str(SCRIPTS / script), *args], env=env, stdin=stdin, check=False, timeout=30
        )

    yield run, handler
    server.shutdown()
    server.server_close()


@pytest.mark.tools("shellcheck")
def test_scripts_are_shellcheck_clean():
    scripts = sorted(p.name for p in SCRIPTS.glob("*.sh"))
    result = shell.run(
        ["shellcheck", "--external-sources", *[f"scripts/{s}" for s in scripts]],
        cwd=str(ROOT),
        check=False,
    )
    assert (result.returncode, result.stdout) == (0, "")


def test_scripts_never_skip_verification():
    text = "\n".join(p.read_text() for p in SCRIPTS.glob("*.sh"))
    assert "--insecure" not in text and " -k " not in text and "--cacert" in text


def test_https_round_trip_through_every_script(api):
    run, handler = api
    assert json.loads(run("health.sh").stdout) == {"status": "ok"}
    created = run("items-create.sh", '{"name": "first"}')
    assert created.returncode == 0, created.stderr
    assert json.loads(created.stdout) == {"data": {"id": 1, "name": "first"}}
    assert (
        json.loads(run("items-create.sh", "-", stdin='{"name": "second"}').stdout)["data"]["id"]
        == 2
    )
    assert [i["name"] for i in json.loads(run("items-list.sh").stdout)["data"]] == [
        "first",
        "second",
    ]
    assert json.loads(run("items-update.sh", "1", '{"name": "renamed"}').stdout)["data"] == {
        "id": 1,
        "name": "renamed",
    }
    assert json.loads(run("items-get.sh", "1").stdout)["data"]["name"] == "renamed"
    deleted = run("items-delete.sh", "2")
    assert (deleted.returncode, deleted.stdout) == (0, "")
    assert [(m, p) for m, p, _, _ in handler.seen] == [
        ("GET", "/api/health"),
        ("POST", "/api/items"),
        ("POST", "/api/items"),
        ("GET", "/api/items"),
        ("PUT", "/api/items/1"),
        ("GET", "/api/items/1"),
        ("DELETE", "/api/items/2"),
    ]
    assert {host for _, _, host, _ in handler.seen} == {
        f"api.dev.gitops-lab.localhost:{host_port(handler)}"
    }
    assert handler.seen[1][3] == {"item": {"name": "first"}}


def host_port(handler) -> str:
    return handler.seen[0][2].rsplit(":", 1)[1]


def test_http_errors_fail_with_the_status(api):
    run, _ = api
    missing = run("items-get.sh", "42")
    assert missing.returncode == 1
    assert missing.stdout == ""
    assert missing.stderr.splitlines()[-1].startswith(
        "items-get.sh: error: HTTP 404 from GET https://"
    )
    assert '"Not Found"' in missing.stderr


def test_bad_input_is_refused_before_any_request(api):
    run, handler = api
    assert "invalid item id" in run("items-get.sh", "../admin").stderr
    assert "usage: items-update.sh ID" in run("items-update.sh", "1").stderr
    assert handler.seen == []


def test_a_server_with_a_certificate_from_another_ca_is_refused(project, tmp_path):
    dev = project.overlay("dev")
    certs.init_ca(project)
    cert, key = tmp_path / "foreign.pem", tmp_path / "foreign-key.pem"
    shell.run(
        ["mkcert", "-cert-file", str(cert), "-key-file", str(key), *dev.hosts],
        env={"CAROOT": str(tmp_path / "foreign-ca")},
    )
    server, handler = serve(cert, key)
    try:
        result = shell.run(
            [str(SCRIPTS / "health.sh")],
            check=False,
            timeout=30,
            env={
                "CAROOT": str(certs.caroot(project)),
                "API_PORT": str(server.server_port),
                "API_ADDR": "127.0.0.1",
            },
        )
    finally:
        server.shutdown()
        server.server_close()
    assert result.returncode == 1
    assert "SSL certificate problem" in result.stderr
    assert handler.seen == []


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_host_comes_from_the_overlay(project, overlay):
    ov = project.overlay(overlay)
    certs.issue(project, ov)
    server, handler = serve(*certs.cert_paths(project, ov))
    try:
        result = shell.run(
            [str(SCRIPTS / "health.sh")],
            timeout=30,
            env={
                "CAROOT": str(certs.caroot(project)),
                "API_PORT": str(server.server_port),
                "API_ADDR": "127.0.0.1",
                "OVERLAY": overlay,
            },
        )
    finally:
        server.shutdown()
        server.server_close()
    assert json.loads(result.stdout) == {"status": "ok"}
    assert handler.seen[0][2] == f"{ov.hosts[0]}:{server.server_port}"


def test_missing_ca_says_how_to_make_it(tmp_path):
    result = shell.run(
        [str(SCRIPTS / "health.sh")], check=False, env={"CAROOT": str(tmp_path / "nowhere")}
    )
    assert result.returncode == 1
    assert result.stderr.strip() == (
        f"health.sh: error: no CA certificate at {tmp_path}/nowhere/rootCA.pem; "
        "run `invoke certs.init`"
    )
