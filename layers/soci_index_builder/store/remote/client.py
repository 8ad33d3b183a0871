"""An OCI distribution API client: transport, auth and retries for one registry host.

One code path for every registry, ECR included (credentials come from a provider, see
``ecr.py``). Names, tags and digests are validated before any URL is built; every manifest and
blob read is checked against its digest; ``Authorization`` only ever goes to the registry's own
origin (redirects and ``Location``/``Link`` targets elsewhere get none).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ...oci.reference import (
    validate_host,
    validate_repository,
)
from . import _http, uploads
from .auth import Authenticator, CredentialsProvider
from .errors import error_from_response
from .repository import TAG_PAGE_SIZE, RemoteRepository
from .transport import BACKOFF_BASE, MAX_ATTEMPTS, READ_TIMEOUT, Transport, origin

if TYPE_CHECKING:
    from collections.abc import Mapping

    import urllib3


class RegistryClient:
    """Access to one registry host; hands out :class:`RemoteRepository` views. Thread-safe."""

    def __init__(
        self,
        host: str,
        *,
        credentials: CredentialsProvider | None = None,
        plain_http: bool = False,
        timeout: float = READ_TIMEOUT,
        max_attempts: int = MAX_ATTEMPTS,
        backoff_base: float = BACKOFF_BASE,
        chunk_size: int = uploads.CHUNK_SIZE,
        page_size: int = TAG_PAGE_SIZE,
        ca_bundle: str | None = None,
        connect_to: Mapping[str, str] | None = None,
    ) -> None:
        """``ca_bundle``: PEM file of the CAs to trust instead of the system's (a private CA).
        ``connect_to``: ``{"host:port": "address:port"}`` TCP destinations that replace DNS for
        those origins, like ``curl --connect-to`` (the URL's host still names the server for
        ``Host``, SNI and certificate checks); tests reach stand-ins under real host names.
        """
        self.host = validate_host(host)
        self.base_url = f"{'http' if plain_http else 'https'}://{host}"
        self.chunk_size = chunk_size
        self.page_size = page_size
        self.transport = Transport(
            timeout=timeout,
            max_attempts=max_attempts,
            backoff_base=backoff_base,
            ca_bundle=ca_bundle,
            connect_to=connect_to,
        )
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
    ) -> urllib3.BaseHTTPResponse:
        """Send with auth (answering one 401 challenge); raise RegistryError unless ``ok``.

        With ``stream=True`` the body is left for the caller to read and release; otherwise it
        is dropped and only status and headers are returned. ``transient_codes``: error codes
        that mark the raised error transient for this request (see ``error_from_response``).
        """
        same_origin = origin(url) == self._origin
        sent = self._auth.headers(scopes) if same_origin else {}
        send = dict(headers or {})
        response = self.transport.request(
            method, url, headers={**send, **sent}, body=body, idempotent=idempotent
        )
        challenge = response.headers.get("WWW-Authenticate")
        if (
            response.status == 401
            and same_origin
            and self._auth.on_challenge(challenge, scopes, bool(sent))
        ):
            _http.discard(response)
            send.update(self._auth.headers(scopes))
            response = self.transport.request(
                method, url, headers=send, body=body, idempotent=idempotent
            )
        if response.status not in ok:
            raise error_from_response(response, method, url, what, transient_codes)
        if not stream:
            _http.discard(response)
        return response
