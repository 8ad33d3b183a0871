"""HTTP for registries: one urllib3 pool, timeouts, safe redirects; one attempt per call.

Retries are not made here but by the client's one policy (``retry.py``). Redirects are followed
here, not by urllib3, so the rule is visible: ``Authorization`` never goes to another origin
(ECR answers blob GETs with 307 to a presigned S3 URL that must not see the token), and the
caller learns which origin answered, so that a redirect target's challenge is never answered
with the registry's credentials.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import NamedTuple
from urllib.parse import urljoin, urlsplit

import urllib3
from urllib3.exceptions import ConnectTimeoutError, HTTPError, SSLError

from ...errors import RegistryError
from .errors import connection_error, finish_response, redact_text, redact_url
from .retry import remaining

#: Seconds to wait for a TCP/TLS connection (a registry that does not accept in 10 s is down).
CONNECT_TIMEOUT = 10.0
#: Default seconds between two reads of a response (large blobs stream for longer in total).
READ_TIMEOUT = 60.0
#: Redirect hops followed per request (registry -> CDN/S3 is one).
MAX_REDIRECTS = 5
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
_NOT_FORWARDED = ("authorization", "cookie")


class Exchange(NamedTuple):
    """A response (body unread) and the URL that answered it, after redirects."""

    response: urllib3.BaseHTTPResponse
    url: str


class Transport:
    """Sends one request and follows its redirects; knows nothing of OCI, auth or retries."""

    def __init__(
        self,
        *,
        timeout: float = READ_TIMEOUT,
        ca_bundle: str | None = None,
        connect_to: Mapping[str, str] | None = None,
    ) -> None:
        self._read_timeout = timeout
        self._connect_timeout = min(CONNECT_TIMEOUT, timeout)
        self._pool = urllib3.PoolManager(num_pools=16, maxsize=8, block=False, ca_certs=ca_bundle)
        self._connect_to = {k.lower(): split_host_port(v) for k, v in (connect_to or {}).items()}

    def close(self) -> None:
        """Close every pooled connection."""
        self._pool.clear()

    def send(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str] | None = None,
        body: bytes | None = None,
        deadline: float | None = None,
    ) -> Exchange:
        """One attempt; the response whatever its status, its body left for the caller.

        Socket timeouts never reach past ``deadline``. Network failures raise a transient
        RegistryError (a ConnectError when nothing was sent); TLS failures a permanent one.
        """
        left = remaining(deadline)
        read = self._read_timeout if left is None else max(0.001, min(self._read_timeout, left))
        timeout = urllib3.Timeout(connect=min(self._connect_timeout, read), read=read)
        try:
            return self._follow(method, url, dict(headers or {}), body, timeout)
        except SSLError as exc:  # certificate problems do not heal with time
            reason = redact_text(str(exc))
            raise RegistryError(f"{method} {redact_url(url)}: TLS error ({reason})") from exc
        except HTTPError as exc:
            unsent = isinstance(exc, ConnectTimeoutError)  # NewConnectionError too
            raise connection_error(exc, method, url, unsent=unsent) from exc

    def _follow(
        self,
        method: str,
        url: str,
        headers: dict[str, str],
        body: bytes | None,
        timeout: urllib3.Timeout,
    ) -> Exchange:
        """Send, then follow redirects, dropping credentials on origin change."""
        for _ in range(MAX_REDIRECTS + 1):
            response = self._send(method, url, headers, body, timeout)
            location = response.headers.get("Location")
            if response.status not in REDIRECT_STATUSES or not location:
                return Exchange(response, url)
            discard(response)
            target = urljoin(url, location)
            _check_redirect(url, target)
            if origin(target) != origin(url):
                headers = {k: v for k, v in headers.items() if k.lower() not in _NOT_FORWARDED}
            if response.status == 303 or (response.status in (301, 302) and method == "POST"):
                method, body = "GET", None
            url = target
        raise RegistryError(f"{method} {redact_url(url)}: more than {MAX_REDIRECTS} redirects")

    def _send(
        self,
        method: str,
        url: str,
        headers: dict[str, str],
        body: bytes | None,
        timeout: urllib3.Timeout,
    ) -> urllib3.BaseHTTPResponse:
        """One HTTP exchange, to the address ``connect_to`` maps the URL's host:port to, if any.

        A mapped request keeps its URL's host name for the ``Host`` header, SNI and certificate
        checks (like ``curl --connect-to``): only the TCP destination changes.
        """
        parts = urlsplit(url)
        host, port = parts.hostname or "", origin(url)[2]
        mapped = self._connect_to.get(f"{host}:{port}")
        if mapped is None:
            return self._pool.request(
                method,
                url,
                headers=headers,
                body=body,
                preload_content=False,
                redirect=False,
                retries=False,
                timeout=timeout,
            )
        tls = {"server_hostname": host, "assert_hostname": host} if parts.scheme == "https" else {}
        pool = self._pool.connection_from_host(mapped[0], mapped[1], parts.scheme, tls)
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        return pool.urlopen(
            method,
            path,
            headers={**headers, "Host": parts.netloc.rpartition("@")[2]},
            body=body,
            preload_content=False,
            redirect=False,
            retries=False,
            timeout=timeout,
            assert_same_host=False,
        )


def split_host_port(address: str) -> tuple[str, int]:
    """``("host", port)`` from ``host:port`` (``[v6]:port`` too); a port is required."""
    host, sep, port = address.rpartition(":")
    if not sep or not port.isdigit() or not host:
        raise ValueError(f"expected host:port, got {address!r}")
    return host.strip("[]"), int(port)


def origin(url: str) -> tuple[str, str | None, int | None]:
    parts = urlsplit(url)
    return parts.scheme, parts.hostname, parts.port or (443 if parts.scheme == "https" else 80)


def _check_redirect(source: str, target: str) -> None:
    """Refuse redirects to non-HTTP schemes and HTTPS -> HTTP downgrades."""
    scheme = urlsplit(target).scheme
    if scheme not in ("http", "https") or (urlsplit(source).scheme == "https" and scheme == "http"):
        raise RegistryError(f"refusing redirect from {redact_url(source)} to {redact_url(target)}")


def discard(response: urllib3.BaseHTTPResponse) -> None:
    """Drop a response we will not use, keeping the connection when little body is left."""
    remaining = getattr(response, "length_remaining", None)  # 0 for HEAD, 204, 304
    small = remaining is not None and remaining <= 64 << 10
    if small:
        response.drain_conn()
    finish_response(response, drained=small)
