"""One HTTP exchange for a tool: SSRF-checked hops, pinned connections, a hard deadline, a size cap.

Pinning: the URL keeps its host name, so the Host header, TLS SNI and certificate check all use
the name, while our network backend opens the TCP connection to the address `ssrf.check_url`
approved. That works the same for http and https, and a DNS answer that changes between the
check and the connect (rebinding) is never consulted. Redirects are followed here, one checked hop
at a time; auth headers go to the first origin only.

Deadline: every socket read/write gets at most the time left, so a slow-drip server cannot stretch
a call past `timeout_s`.
"""

from __future__ import annotations

import ssl
import threading
import time
from dataclasses import dataclass
from functools import cache

import httpcore
import httpx

from tools.ssrf import Allowlist, RequestRefused, Target, check_url

REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
MAX_REDIRECTS = 5


class ResponseTooLarge(Exception):
    """The reply passed the byte limit; reading stopped there."""


class TooManyRedirects(Exception):
    pass


@dataclass(frozen=True)
class HttpReply:
    status: int
    headers: httpx.Headers
    body: bytes
    url: str
    encoding: str | None


def fetch(
    *, method: str, url: str, headers: dict[str, str], auth_headers: dict[str, str],
    body: bytes | None, allowlist: Allowlist, timeout_s: float, max_bytes: int,
) -> HttpReply:
    """Send the request, following redirects; raise RequestRefused, httpx.TimeoutException,
    httpx.TransportError, ResponseTooLarge or TooManyRedirects."""
    deadline = time.monotonic() + timeout_s
    first = httpx.URL(url)
    current = first
    for _hop in range(MAX_REDIRECTS + 1):
        target = check_url(current, allowlist)
        hop_headers = dict(headers)
        if _same_origin(current, first):
            hop_headers.update(auth_headers)
        reply = _send(target, method, hop_headers, body, deadline=deadline, max_bytes=max_bytes)
        location = reply.headers.get("location")
        if reply.status not in REDIRECT_STATUSES or not location:
            return reply
        current = current.join(location)
        if reply.status == 303 or (reply.status in (301, 302) and method == "POST"):
            # What browsers and httpx do: the follow-up is a GET without the body.
            method, body = "GET", None
            headers = {k: v for k, v in headers.items() if k.lower() != "content-type"}
    raise TooManyRedirects(f"More than {MAX_REDIRECTS} redirects.")


def _same_origin(a: httpx.URL, b: httpx.URL) -> bool:
    return (a.scheme, a.host, a.port) == (b.scheme, b.host, b.port)


def _send(
    target: Target, method: str, headers: dict[str, str], body: bytes | None, *,
    deadline: float, max_bytes: int,
) -> HttpReply:
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        raise httpx.ReadTimeout("The tool's time budget ran out.")
    client = httpx.Client(transport=_PinnedTransport(target, deadline), trust_env=False,
                          follow_redirects=False, timeout=httpx.Timeout(remaining))
    with client, client.stream(method, target.url, headers=headers, content=body) as response:
        if response.status_code in REDIRECT_STATUSES:
            return HttpReply(response.status_code, response.headers, b"", str(target.url), None)
        declared = response.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > max_bytes:
            raise ResponseTooLarge(f"The reply is {declared} bytes; the limit is {max_bytes}.")
        chunks: list[bytes] = []
        size = 0
        # iter_bytes decodes gzip/deflate: the cap applies to what we would hold in memory.
        for chunk in response.iter_bytes():
            size += len(chunk)
            if size > max_bytes:
                raise ResponseTooLarge(f"The reply is larger than {max_bytes} bytes.")
            chunks.append(chunk)
        return HttpReply(response.status_code, response.headers, b"".join(chunks),
                         str(target.url), response.charset_encoding)


_ssl_lock = threading.Lock()


@cache
def _ssl_context() -> ssl.SSLContext:
    # Loading the CA bundle takes ~0.1 s: once per process, and only when https is used.
    return httpx.create_ssl_context(trust_env=False)


def _ssl_context_once() -> ssl.SSLContext:
    with _ssl_lock:  # two first https calls in parallel must not both pay for it
        return _ssl_context()


class _PinnedTransport(httpx.HTTPTransport):
    def __init__(self, target: Target, deadline: float) -> None:
        # Not calling super().__init__: all it does is build a pool (and an SSL context), and
        # httpx has no network-backend hook, so we build the pool ourselves with our backend.
        self._pool = httpcore.ConnectionPool(
            ssl_context=_ssl_context_once() if target.url.scheme == "https" else None,
            max_connections=1, network_backend=_PinnedBackend(target, deadline),
        )


class _PinnedBackend(httpcore.NetworkBackend):
    def __init__(self, target: Target, deadline: float) -> None:
        self._target = target
        self._deadline = deadline
        self._inner = httpcore.SyncBackend()

    def connect_tcp(self, host, port, timeout=None, local_address=None, socket_options=None):
        if host.lower().rstrip(".").strip("[]") != self._target.host or port != self._target.port:
            raise httpcore.ConnectError("Connection to an unchecked host refused.")
        stream = self._inner.connect_tcp(
            self._target.ip, port, _budget(self._deadline, timeout, httpcore.ConnectTimeout),
            local_address, socket_options,
        )
        return _DeadlineStream(stream, self._deadline)

    def connect_unix_socket(self, path, timeout=None, socket_options=None):
        raise httpcore.ConnectError("Unix sockets are not allowed.")

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)


class _DeadlineStream(httpcore.NetworkStream):
    def __init__(self, inner: httpcore.NetworkStream, deadline: float) -> None:
        self._inner = inner
        self._deadline = deadline

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._inner.read(max_bytes,
                                _budget(self._deadline, timeout, httpcore.ReadTimeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._inner.write(buffer, _budget(self._deadline, timeout, httpcore.WriteTimeout))

    def close(self) -> None:
        self._inner.close()

    def start_tls(self, ssl_context, server_hostname=None, timeout=None):
        inner = self._inner.start_tls(ssl_context, server_hostname,
                                      _budget(self._deadline, timeout, httpcore.ConnectTimeout))
        return _DeadlineStream(inner, self._deadline)

    def get_extra_info(self, info: str):
        return self._inner.get_extra_info(info)


def _budget(deadline: float, timeout: float | None, error: type[Exception]) -> float:
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        raise error("The tool's time budget ran out.")
    return remaining if timeout is None else min(timeout, remaining)


__all__ = ["HttpReply", "RequestRefused", "ResponseTooLarge", "TooManyRedirects", "fetch"]
