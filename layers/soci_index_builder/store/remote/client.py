"""An OCI distribution API client: transport, auth and retries for one registry host.

One code path for every registry, ECR included (credentials come from a provider, see
``keychain.py`` and ``ecr.py``). Names, tags and digests are validated before any URL is built;
every manifest and blob read is checked against its digest; ``Authorization`` only ever goes to
the registry's own origin (redirects and ``Location``/``Link`` targets elsewhere get none), and
only challenges from that origin are answered. Retries follow the one policy of ``retry.py``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import TYPE_CHECKING, TypeVar

from ...oci.reference import validate_host, validate_repository
from . import _http, retry, uploads
from .auth import Authenticator, CredentialsProvider
from .errors import error_from_response, redact_url
from .repository import TAG_PAGE_SIZE, RemoteRepository
from .transport import READ_TIMEOUT, Transport, origin

if TYPE_CHECKING:
    from collections.abc import Mapping

    import urllib3

T = TypeVar("T")
#: Statuses after which the same request is sent again with (fresh) credentials.
_REJECTED = (401, 403)
#: Anonymous, then with credentials, then with credentials fetched again: at most.
_MAX_SENDS = 3


class RegistryClient:
    """Access to one registry host; hands out :class:`RemoteRepository` views. Thread-safe.

    ``deadline`` (a ``time.monotonic()`` value, or None) bounds every request, retry and body
    read; set it per run (the CLI's ``--timeout``, the Lambda's remaining time).
    """

    def __init__(
        self,
        host: str,
        *,
        credentials: CredentialsProvider | None = None,
        plain_http: bool = False,
        timeout: float = READ_TIMEOUT,
        retry_policy: retry.RetryPolicy | None = None,
        max_attempts: int | None = None,
        backoff_base: float | None = None,
        deadline: float | None = None,
        chunk_size: int = uploads.PART_SIZE,
        page_size: int = TAG_PAGE_SIZE,
        ca_bundle: str | None = None,
        connect_to: Mapping[str, str] | None = None,
    ) -> None:
        """``max_attempts``/``backoff_base`` override those of ``retry_policy``.
        ``ca_bundle``: PEM file of the CAs to trust instead of the system's (a private CA).
        ``connect_to``: ``{"host:port": "address:port"}`` TCP destinations that replace DNS for
        those origins, like ``curl --connect-to`` (the URL's host still names the server for
        ``Host``, SNI and certificate checks); tests reach stand-ins under real host names.
        """
        self.host = validate_host(host)
        self.base_url = f"{'http' if plain_http else 'https'}://{host}"
        self.chunk_size = chunk_size
        self.page_size = page_size
        self.deadline = deadline
        policy = retry_policy or retry.DEFAULT_POLICY
        self.retry = dataclasses.replace(
            policy,
            max_attempts=policy.max_attempts if max_attempts is None else max_attempts,
            backoff_base=policy.backoff_base if backoff_base is None else backoff_base,
        )
        self.transport = Transport(timeout=timeout, ca_bundle=ca_bundle, connect_to=connect_to)
        self._auth = Authenticator(host, self.transport, credentials, allow_http_realm=plain_http)
        self._origin = origin(self.base_url)

    def ping(self) -> None:
        """Check that the host speaks the distribution API and accepts our credentials."""
        self.request("GET", f"{self.base_url}/v2/", what=f"registry {self.host}")

    def close(self) -> None:
        """Close pooled connections (the client stays usable: new ones are opened on demand)."""
        self.transport.close()

    def repository(self, name: str) -> RemoteRepository:
        """A view of repository ``name`` (validated; nothing is requested yet)."""
        return RemoteRepository(self, validate_repository(name))

    def retrying(self, operation: Callable[[], T], what: str) -> T:
        """Run a compound operation (its requests made with ``retry=False``) under the policy."""
        return self.retry.run(operation, what=what, deadline=self.deadline)

    def request(
        self,
        method: str,
        url: str,
        *,
        scopes: tuple[str, ...] = (),
        headers: Mapping[str, str] | None = None,
        body: bytes | None = None,
        ok: tuple[int, ...] = (200,),
        stream: bool = False,
        idempotent: bool = True,
        what: str | None = None,
        transient_codes: frozenset[str] = frozenset(),
        retry: bool = True,
    ) -> urllib3.BaseHTTPResponse:
        """Send with auth; raise RegistryError unless the status is in ``ok``.

        With ``stream=True`` the body is left for the caller to read and release; otherwise it
        is dropped and only status and headers are returned. ``transient_codes``: error codes
        that mark the raised error transient for this request (see ``error_from_response``).
        ``retry=False`` makes one attempt: for requests inside a :meth:`retrying` operation.
        """

        def attempt() -> urllib3.BaseHTTPResponse:
            response = self._send_authorized(method, url, scopes, headers, body)
            if response.status not in ok:
                raise error_from_response(response, method, url, what, transient_codes)
            if not stream:
                _http.discard(response)
            return response

        if not retry:
            return attempt()
        label = what or f"{method} {redact_url(url)}"
        return self.retry.run(attempt, what=label, deadline=self.deadline, idempotent=idempotent)

    def _send_authorized(
        self,
        method: str,
        url: str,
        scopes: tuple[str, ...],
        headers: Mapping[str, str] | None,
        body: bytes | None,
    ) -> urllib3.BaseHTTPResponse:
        """One exchange, sent again when the registry itself rejects it and that can help.

        A 401 to an anonymous request teaches the scheme (``WWW-Authenticate``). A 401 or 403
        to a request with credentials (ECR's 403 DENIED "token expired", a stale Bearer token)
        has them fetched again, once, and the request sent once more. A 401 from any other
        origin (a redirect target) is returned as is: its challenge never gets credentials.
        """
        registry = origin(url) == self._origin
        sent = self._auth.headers(scopes) if registry else {}
        renewed = False
        for _ in range(_MAX_SENDS):
            exchange = self.transport.send(
                method, url, headers={**(headers or {}), **sent}, body=body, deadline=self.deadline
            )
            response = exchange.response
            if not (
                registry
                and response.status in _REJECTED
                and origin(exchange.url) == self._origin
                and not (sent and renewed)
                and self._auth.on_rejection(
                    response.status, response.headers.get("WWW-Authenticate"), scopes, bool(sent)
                )
            ):
                break
            renewed = renewed or bool(sent)
            _http.discard(response)
            sent = self._auth.headers(scopes)
        return response
