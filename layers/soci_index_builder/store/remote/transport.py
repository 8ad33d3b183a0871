"""HTTP for registries: one urllib3 pool, timeouts, bounded retries, safe redirects.

Retries use exponential backoff with full jitter (capped, ``Retry-After`` honoured) on 429, on
5xx and on connection/read failures; other 4xx answers are returned at once. Redirects are
followed here, not by urllib3, so the rule is visible: ``Authorization`` never goes to another
origin (ECR answers blob GETs with 307 to a presigned S3 URL that must not see the token).
"""

from __future__ import annotations

import email.utils
import random
import time
from collections.abc import Mapping
from urllib.parse import urljoin, urlsplit

import urllib3
from urllib3.exceptions import ConnectTimeoutError, HTTPError, SSLError

from ...errors import RegistryError
from .errors import (
    TRANSIENT_STATUSES,
    connection_error,
    finish_response,
    redact_text,
    redact_url,
)

#: Seconds to wait for a TCP/TLS connection (a registry that does not accept in 10 s is down).
CONNECT_TIMEOUT = 10.0
#: Default seconds between two reads of a response (large blobs stream for longer in total).
READ_TIMEOUT = 60.0
#: Tries per request, the first one included.
MAX_ATTEMPTS = 5
#: First backoff ceiling in seconds; doubles per attempt up to :data:`MAX_BACKOFF`.
BACKOFF_BASE = 0.5
MAX_BACKOFF = 20.0
#: Redirect hops followed per request (registry -> CDN/S3 is one).
MAX_REDIRECTS = 5
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
_NOT_FORWARDED = ("authorization", "cookie")


class Transport:
    """Sends requests with retries and redirects; knows nothing of OCI or of auth schemes."""

    def __init__(
        self,
        *,
        timeout: float = READ_TIMEOUT,
        max_attempts: int = MAX_ATTEMPTS,
        backoff_base: float = BACKOFF_BASE,
        max_backoff: float = MAX_BACKOFF,
        ca_bundle: str | None = None,
        connect_to: Mapping[str, str] | None = None,
    ) -> None:
        if max_attempts < 1:
            raise ValueError("max_attempts must be >= 1")
        self.max_attempts = max_attempts
        self._backoff_base = backoff_base
        self._max_backoff = max_backoff
        self._timeout = urllib3.Timeout(connect=min(CONNECT_TIMEOUT, timeout), read=timeout)
        self._pool = urllib3.PoolManager(num_pools=16, maxsize=8, block=False, ca_certs=ca_bundle)
        self._connect_to = {k.lower(): split_host_port(v) for k, v in (connect_to or {}).items()}

    def close(self) -> None:
        """Close every pooled connection."""
        self._pool.clear()

    def request(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str] | None = None,
        body: bytes | None = None,
        idempotent: bool = True,
    ) -> urllib3.BaseHTTPResponse:
        """Send, retrying transient failures; returns the final response whatever its status.

        The body is left unread: the caller reads it (capped) and releases it. A non-idempotent
        request (an upload PATCH) is retried only on 429, which the server sends before acting,
        and when the connection could not be made at all.
        Raises a transient :class:`RegistryError` when the network fails on the last attempt.
        """
        for attempt in range(1, self.max_attempts + 1):
            last = attempt == self.max_attempts
            try:
                response = self._follow(method, url, dict(headers or {}), body)
            except SSLError as exc:  # certificate problems do not heal with time
                reason = redact_text(str(exc))
                raise RegistryError(f"{method} {redact_url(url)}: TLS error ({reason})") from exc
            except HTTPError as exc:
                unsent = isinstance(exc, ConnectTimeoutError)  # nothing reached the server
                if last or not (idempotent or unsent):
                    raise connection_error(exc, method, url, attempt) from exc
                self.backoff(attempt)
                continue
            retryable = response.status == 429 or (
                idempotent and response.status in TRANSIENT_STATUSES
            )
            if last or not retryable:
                return response
            retry_after = response.headers.get("Retry-After")
            discard(response)
            self.backoff(attempt, retry_after)
        raise AssertionError("unreachable")  # pragma: no cover

    def _follow(
        self, method: str, url: str, headers: dict[str, str], body: bytes | None
    ) -> urllib3.BaseHTTPResponse:
        """One attempt: send, then follow redirects, dropping credentials on origin change."""
        for _ in range(MAX_REDIRECTS + 1):
            response = self._send(method, url, headers, body)
            location = response.headers.get("Location")
            if response.status not in REDIRECT_STATUSES or not location:
                return response
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
        self, method: str, url: str, headers: dict[str, str], body: bytes | None
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
                timeout=self._timeout,
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
            timeout=self._timeout,
            assert_same_host=False,
        )

    def backoff(self, attempt: int, retry_after: str | None = None) -> None:
        """Full-jitter exponential backoff, or the server's ``Retry-After`` (both capped)."""
        delay = random.uniform(0, min(self._max_backoff, self._backoff_base * 2 ** (attempt - 1)))
        asked = parse_retry_after(retry_after)
        if asked is not None:
            delay = min(self._max_backoff, asked)
        time.sleep(delay)


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds from a ``Retry-After`` header (delta-seconds or HTTP date); None if unusable."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value).timestamp()
    except (TypeError, ValueError):
        return None
    return max(0.0, when - (time.time() if now is None else now))


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
