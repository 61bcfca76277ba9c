"""HTTPS calls made from Python, trusting one CA (the project's mkcert CA) and no other.

For what runs outside the no-op deploy: smoke checks of the API and of Prometheus through
the Ingress, uploads, waits on an HTTP endpoint. The CA is requests' `verify`, so a server
whose certificate another CA signed is refused; the system store and $REQUESTS_CA_BUNDLE
are not consulted. `addresses` sends a host name to a fixed address with the name kept
for SNI, the certificate check and the Host header (curl's --resolve): the overlay hosts
of a local cluster are not in any DNS. requests is imported on the first call.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast
from urllib.parse import urlsplit

from opskit.core.errors import OpsError

if TYPE_CHECKING:
    import requests

TIMEOUT = 10.0


@dataclass(frozen=True)
class Answer:
    status: int
    body: Any  # the parsed JSON when the server sent JSON, else the text

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300


@dataclass
class Client:
    """Calls to HTTPS endpoints whose certificates `ca` signed (e.g. .certs/ca/rootCA.pem)."""

    ca: Path
    addresses: dict[str, str] = field(default_factory=dict)  # host name -> IP to connect to
    timeout: float = TIMEOUT
    _session: requests.Session | None = field(default=None, init=False, repr=False)

    def call(self, method: str, url: str, body: Any = None) -> Answer:
        """One request; `body` is sent as JSON. An unreachable server or a certificate the CA
        did not sign is an OpsError that says which, with the fix."""
        import requests

        try:
            reply = self.session().request(method, url, json=body, timeout=self.timeout)
        except requests.exceptions.SSLError as exc:
            raise OpsError(
                f"{url}: the server's certificate is not trusted by {self.ca} ({_reason(exc)})",
                "issue the overlay's certificate from this CA (`invoke certs.issue "
                "--overlay=<overlay>`) or point at the CA that signed it",
            ) from None
        except requests.exceptions.RequestException as exc:
            raise OpsError(
                f"{url}: no answer ({_reason(exc)})",
                "check that the cluster runs and the Ingress is deployed",
            ) from None
        return Answer(reply.status_code, _body(reply))

    def get(self, url: str) -> Answer:
        return self.call("GET", url)

    def wait(self, url: str, timeout: float, every: float = 1.0) -> Answer:
        """GET `url` until it answers 2xx; an endpoint still down (or answering an error)
        when the time is up is an OpsError naming its last answer. A certificate the CA
        did not sign fails at once: waiting does not change it."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                answer = self.get(url)
                last = f"HTTP {answer.status}"
                if answer.ok:
                    return answer
            except OpsError as exc:
                if "not trusted" in exc.message:
                    raise
                last = exc.message.removeprefix(f"{url}: ")
            if time.monotonic() >= deadline:
                raise OpsError(
                    f"{url} did not answer 2xx within {timeout:g}s (last: {last})",
                    "see the workload's logs (`kubectl logs`) and `invoke status`",
                )
            time.sleep(every)

    def session(self) -> requests.Session:
        if self._session is None:
            self._session = _session(self.ca, self.addresses)
        return self._session


def _session(ca: Path, addresses: dict[str, str]) -> requests.Session:
    import requests
    from requests.adapters import HTTPAdapter

    if not ca.is_file():
        raise OpsError(f"{ca}: no CA certificate", "create it with `invoke certs.init`")

    class Resolved(HTTPAdapter):
        """Connects to addresses[host] for a listed host; SNI and the certificate check keep
        the name (urllib3 checks server_hostname)."""

        def build_connection_pool_key_attributes(self, request, verify, cert=None):
            host_params, pool_kwargs = super().build_connection_pool_key_attributes(
                request, verify, cert
            )
            name = host_params["host"]
            if name in addresses:
                host_params["host"] = addresses[name]
                # types-requests lists requests' own keys; urllib3 takes any of its pools'
                cast("dict[str, object]", pool_kwargs)["server_hostname"] = name
            return host_params, pool_kwargs

        def add_headers(self, request, **kwargs):
            request.headers.setdefault("Host", urlsplit(request.url).netloc)

    session = requests.Session()
    session.verify = str(ca)
    session.trust_env = False  # $REQUESTS_CA_BUNDLE, proxies and .netrc do not apply
    session.mount("https://", Resolved())
    return session


def _body(reply: requests.Response) -> Any:
    if "json" in reply.headers.get("content-type", ""):
        try:
            return reply.json()
        except ValueError:
            pass
    return reply.text


def _reason(exc: BaseException) -> str:
    """The innermost cause, one line (requests wraps urllib3's errors, which wrap ssl's)."""
    for _ in range(8):
        reason = getattr(exc, "reason", None)
        first = exc.args[0] if exc.args else None
        nested = next(
            (e for e in (reason, first, exc.__cause__) if isinstance(e, BaseException)), None
        )
        if nested is None:
            break
        exc = nested
    lines = str(exc).splitlines()
    return lines[0] if lines else type(exc).__name__
