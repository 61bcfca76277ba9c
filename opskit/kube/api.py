"""Reads from the API server in-process, where that beats spawning kubectl (~110 ms a
process against ~1 ms a request on a kept-alive connection).

Only reads (discovery, GET, LIST): every write still goes through kubectl and
opskit.core.shell, so dry-run, echo and the asserted argv stay what they are. Used when the
kubeconfig's context authenticates with files or a token (the embedded cluster, minikube);
a kubeconfig with inline client-certificate data (k3d) would need its key written to a
file for Python's ssl, and secrets never touch the disk: those clusters keep kubectl.
Any failure to connect falls back to kubectl too, so kubectl's error messages stay the ones
users see.
"""

from __future__ import annotations

import base64
import http.client
import json
import ssl
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar
from urllib.parse import quote, urlsplit

from opskit.core import shell, yamlio
from opskit.kube.kubectl import Kube

TIMEOUT = 30.0
PARALLEL = 4  # requests at once (each on a connection of its own while it runs)
# aggregated discovery (Kubernetes >= 1.30): every group's resources in one answer
AGGREGATED = ",".join(
    ("application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList", "application/json")
)
T = TypeVar("T")


class Unavailable(Exception):
    """No in-process access to this cluster: the caller uses kubectl."""


@dataclass(frozen=True)
class _Target:
    host: str
    port: int
    ca_file: str | None
    ca_data: str | None
    cert: tuple[str, str] | None
    token: str | None


_clients: dict[tuple, Client | None] = {}
_lock = threading.Lock()


def client(kube: Kube) -> Client | None:
    """The in-process client of this kube context, or None (use kubectl); one per process."""
    kubeconfig = getattr(kube, "kubeconfig", None)
    if kubeconfig is None:  # a stand-in without a kubeconfig
        return None
    try:  # a cluster made again writes its kubeconfig (and CA) again: a new client then
        stat = Path(kubeconfig).stat()
    except OSError:
        return None
    key = (str(kubeconfig), kube.context, stat.st_ino, stat.st_mtime_ns, stat.st_size)
    with _lock:
        if key not in _clients:
            try:
                _clients[key] = Client(_target(Path(kubeconfig), kube.context))
            except (Unavailable, OSError, ssl.SSLError, KeyError, TypeError, ValueError):
                _clients[key] = None
        return _clients[key]


def attempt(kube: Kube, read: Callable[[Client], T]) -> T | None:
    """`read(client)` in-process, or None when this cluster is not reachable that way (the
    caller then runs kubectl, whose errors are the ones users know)."""
    api = client(kube)
    if api is None:
        return None
    try:
        return read(api)
    except Unavailable:
        return None


def _target(kubeconfig: Path, context: str) -> _Target:
    if not kubeconfig.is_file():
        raise Unavailable(f"{kubeconfig}: no such file")
    config = yamlio.load_file(kubeconfig)

    def entry(kind: str, name: str) -> dict:
        found = [e for e in config.get(f"{kind}s") or [] if e.get("name") == name]
        if not found:
            raise Unavailable(f"no {kind} {name!r}")
        return found[0].get(kind) or {}

    ctx = entry("context", context)
    cluster, user = entry("cluster", ctx["cluster"]), entry("user", ctx["user"])
    server = urlsplit(cluster["server"])
    if server.scheme != "https" or server.path not in ("", "/") or cluster.get("proxy-url"):
        raise Unavailable("not a plain https server")
    if cluster.get("insecure-skip-tls-verify") or user.get("exec") or user.get("auth-provider"):
        raise Unavailable("credentials only kubectl handles")
    if user.get("client-certificate-data") or user.get("client-key-data"):
        raise Unavailable("inline client key: Python's ssl reads keys from files only")
    cert = None
    if user.get("client-certificate") and user.get("client-key"):
        cert = (
            _path(kubeconfig, user["client-certificate"]),
            _path(kubeconfig, user["client-key"]),
        )
    ca_data = cluster.get("certificate-authority-data")
    return _Target(
        host=server.hostname or "",
        port=server.port or 443,
        ca_file=_path(kubeconfig, cluster["certificate-authority"])
        if cluster.get("certificate-authority")
        else None,
        ca_data=base64.b64decode(ca_data).decode() if ca_data else None,
        cert=cert,
        token=user.get("token"),
    )


def _path(kubeconfig: Path, value: str) -> str:
    path = Path(value)
    return str(path if path.is_absolute() else kubeconfig.parent / path)


class Client:
    """GET against one API server over a few kept-alive connections, shared by threads."""

    def __init__(self, target: _Target) -> None:
        if target.cert is None and target.token is None:
            raise Unavailable("no client certificate or token")
        self.target = target
        context = ssl.create_default_context(cafile=target.ca_file, cadata=target.ca_data)
        if target.cert:
            context.load_cert_chain(*target.cert)
        self._ssl = context
        self._idle: list[http.client.HTTPSConnection] = []  # connections not in use
        self._idle_lock = threading.Lock()
        self._discovering = threading.Lock()
        self._served: dict[str, dict[str, tuple[str, bool]]] | None = None
        self._roots: dict[str, tuple[str, dict]] = {}  # discovery root -> (ETag, kinds)

    def _take(self) -> http.client.HTTPSConnection:
        with self._idle_lock:
            if self._idle:
                return self._idle.pop()
        return http.client.HTTPSConnection(
            self.target.host, self.target.port, context=self._ssl, timeout=TIMEOUT
        )

    def _give(self, conn: http.client.HTTPSConnection) -> None:
        with self._idle_lock:
            self._idle.append(conn)

    def fetch(
        self, path: str, accept: str = "application/json", etag: str = ""
    ) -> tuple[int, bytes, str]:
        """(status, body, ETag); `etag` asks for 304 if unchanged. Raises Unavailable when
        the server cannot be reached."""
        if shell.echo_enabled():
            print(f"$ GET https://{self.target.host}:{self.target.port}{path}", file=sys.stderr)
        headers = {"Accept": accept}
        if etag:
            headers["If-None-Match"] = etag
        if self.target.token:
            headers["Authorization"] = f"Bearer {self.target.token}"
        for attempt in (1, 2):  # a kept-alive connection the server closed: reconnect once
            conn = self._take()
            try:
                conn.request("GET", path, headers=headers)
                response = conn.getresponse()
                body = response.read()
            except (OSError, http.client.HTTPException) as exc:
                conn.close()
                if attempt == 2:
                    raise Unavailable(str(exc)) from None
                continue
            self._give(conn)
            return response.status, body, response.getheader("ETag") or ""
        raise AssertionError("unreachable")

    def get(self, path: str, accept: str = "application/json") -> tuple[int, dict]:
        """(status, parsed body); raises Unavailable when the server cannot be reached."""
        status, body, _etag = self.fetch(path, accept)
        return status, _parsed(path, body)

    def ok(self, path: str, accept: str = "application/json") -> dict:
        status, body = self.get(path, accept)
        if status != 200:
            raise Unavailable(f"GET {path}: HTTP {status} {body.get('message', '')}")
        return body

    def api_versions(self) -> set[str]:
        """What `kubectl api-versions` prints, as a set (asked afresh: a CRD may be new)."""
        return set(self._discovery(fresh=True))

    def _discovery(self, fresh: bool = False) -> dict[str, dict[str, tuple[str, bool]]]:
        """Every served group-version with its kinds as (plural, namespaced): two requests
        (/api, /apis) of aggregated discovery, kept by the client; `fresh` asks again,
        which the server answers with 304 when nothing changed (ETag). A server without
        aggregated discovery gets one request per group-version instead."""
        with self._discovering:
            if self._served is None or fresh:
                served: dict[str, dict[str, tuple[str, bool]]] = {}
                for root in ("/api", "/apis"):
                    served |= self._discover(root)
                self._served = served
            return self._served

    def _discover(self, root: str) -> dict[str, dict[str, tuple[str, bool]]]:
        etag, known = self._roots.get(root, ("", {}))
        status, raw, new_etag = self.fetch(root, AGGREGATED, etag)
        if status == 304 and etag:
            return known
        body = _parsed(root, raw) if status == 200 else None
        if not isinstance(body, dict):
            raise Unavailable(f"GET {root}: HTTP {status}")
        if body.get("kind") == "APIGroupDiscoveryList":
            kinds = {
                _group_version(group, version["version"]): {
                    r["responseKind"]["kind"]: (r["resource"], r.get("scope") == "Namespaced")
                    for r in version.get("resources") or []
                    if r.get("responseKind", {}).get("kind")
                }
                for group in body.get("items") or []
                for version in group.get("versions") or []
            }
            if new_etag:
                self._roots[root] = (new_etag, kinds)
            return kinds
        if root == "/api":  # APIVersions: the core group's versions
            versions = body.get("versions") or []
        else:  # APIGroupList
            versions = [
                v["groupVersion"] for g in body.get("groups") or [] for v in g.get("versions") or []
            ]
        return {gv: self._resources_of(gv) for gv in versions}

    def _resources_of(self, api_version: str) -> dict[str, tuple[str, bool]]:
        return {
            r["kind"]: (r["name"], bool(r.get("namespaced")))
            for r in self.ok(_base(api_version)).get("resources") or []
            if "/" not in r["name"]  # subresources (deployments/scale, ...)
        }

    def _resource(self, api_version: str, kind: str) -> tuple[str, bool]:
        """(plural, namespaced) of a kind."""
        found = self._discovery().get(api_version, {}).get(kind)
        if found is None:  # perhaps a CRD made since: ask once more
            found = self._discovery(fresh=True).get(api_version, {}).get(kind)
        if found is None:
            raise Unavailable(f"{api_version} {kind}: not served")
        return found

    def url(self, api_version: str, kind: str, namespace: str, name: str = "") -> str:
        plural, namespaced = self._resource(api_version, kind)
        where = f"/namespaces/{quote(namespace)}" if namespaced and namespace else ""
        return f"{_base(api_version)}{where}/{plural}" + (f"/{quote(name)}" if name else "")

    def read(self, obj: dict, namespace: str) -> dict | None:
        """The live object named like `obj` (its namespace, else `namespace`), or None."""
        meta = obj["metadata"]
        path = self.url(
            obj["apiVersion"], obj["kind"], meta.get("namespace") or namespace, meta["name"]
        )
        status, body = self.get(path)
        if status == 404:
            return None
        if status != 200:
            raise Unavailable(f"GET {path}: HTTP {status}")
        return body

    def read_all(self, stubs: list[dict]) -> list[dict]:
        """The live objects of `stubs` (absent ones left out), in their order: one LIST per
        kind and namespace holding several of them, a GET for a single one."""
        groups: dict[tuple[str, str, str], list[str]] = {}
        for stub in stubs:
            meta = stub["metadata"]
            where = (stub["apiVersion"], stub["kind"], meta.get("namespace", ""))
            groups.setdefault(where, []).append(meta["name"])

        def fetch(where: tuple[str, str, str], names: list[str]) -> list[dict]:
            api_version, kind, namespace = where
            if len(names) == 1:
                meta = {"name": names[0], "namespace": namespace}
                obj = self.read({"apiVersion": api_version, "kind": kind, "metadata": meta}, "")
                return [obj] if obj is not None else []
            wanted = set(names)
            return [
                o
                for o in self.list(api_version, kind, namespace)
                if o["metadata"]["name"] in wanted
            ]

        found: dict[tuple[str, str, str, str], dict] = {}
        for where, listed in zip(groups, self.each(fetch, groups.items()), strict=True):
            for obj in listed:
                found[(*where, obj["metadata"]["name"])] = obj
        keys = [
            (s["apiVersion"], s["kind"], s["metadata"].get("namespace", ""), s["metadata"]["name"])
            for s in stubs
        ]
        return [found[k] for k in keys if k in found]

    def each(self, read: Callable[..., T], calls) -> list[T]:
        """`read(*args)` for each args of `calls`, up to PARALLEL at once on the kept
        threads (sharing the client's connections), results in order; the first failure is
        raised."""
        calls = list(calls)
        self._discovery()  # once, before the threads ask for it
        if len(calls) < 2:
            return [read(*args) for args in calls]
        return list(_executor().map(lambda args: read(*args), calls))

    def list(self, api_version: str, kind: str, namespace: str) -> list[dict]:
        """Every object of a kind in the namespace, each with its apiVersion and kind (a
        LIST answer leaves them out of the items)."""
        items = self.ok(self.url(api_version, kind, namespace)).get("items") or []
        return [{"apiVersion": api_version, "kind": kind, **item} for item in items]


def _base(api_version: str) -> str:
    """The path of a group-version: the core group is under /api, the others under /apis."""
    return "/api/v1" if api_version == "v1" else f"/apis/{api_version}"


def _parsed(path: str, body: bytes) -> dict:
    try:
        return json.loads(body or b"{}")
    except ValueError:
        raise Unavailable(f"GET {path}: not JSON") from None


def _group_version(group: dict, version: str) -> str:
    name = (group.get("metadata") or {}).get("name") or ""
    return f"{name}/{version}" if name else version


_pool: list = []


def _executor():
    """The threads `Client.each` runs requests on: made once, kept for the process (a
    thread costs ~2 ms to start; a deploy asks in several rounds)."""
    from concurrent.futures import ThreadPoolExecutor

    with _lock:
        if not _pool:
            _pool.append(ThreadPoolExecutor(max_workers=PARALLEL, thread_name_prefix="kubeapi"))
        return _pool[0]
