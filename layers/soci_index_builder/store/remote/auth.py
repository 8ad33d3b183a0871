"""Registry authentication: anonymous, Basic, and the Docker/OCI Bearer token flow.

The scheme is learnt from the registry's ``WWW-Authenticate`` challenge (first 401), then used
pre-emptively. Bearer tokens are fetched from the challenge's ``realm`` (Basic credentials when
the host has some, else anonymously) and cached per scope set until they expire.
See https://distribution.github.io/distribution/spec/auth/token/.
"""

from __future__ import annotations

import base64
import json
import re
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, NamedTuple
from urllib.parse import urlencode, urlsplit

from ...errors import RegistryError
from ._http import read_capped
from .errors import error_from_response, redact_url

if TYPE_CHECKING:
    from .transport import Transport

#: Lifetime assumed when a token response has no ``expires_in`` (the token spec's default).
DEFAULT_TOKEN_LIFETIME = 60
#: Tokens are renewed this many seconds before they expire (clock skew, slow requests).
TOKEN_EXPIRY_MARGIN = 10
#: Token responses larger than this are not tokens.
MAX_TOKEN_RESPONSE = 1 << 20

#: The token cache's clock (a module attribute so that tests can move time).
_now = time.monotonic
_PARAM_RE = re.compile(r'\s*([A-Za-z][\w.-]*)\s*=\s*("(?:[^"\\]|\\.)*"|[^,\s]*)\s*,?')


class Credentials(NamedTuple):
    """A user name and password (or token) for one registry host."""

    username: str
    password: str

    def __repr__(self) -> str:  # never print the secret
        return f"Credentials(username={self.username!r}, password='***')"


#: Host (``name[:port]``) -> credentials, or None for anonymous access. A provider may also
#: have ``invalidate(host) -> bool``: forget cached credentials after the registry rejected
#: them, True when asking again can give different ones (ECR tokens; not a static password).
CredentialsProvider = Callable[[str], Credentials | None]


class Challenge(NamedTuple):
    """A parsed ``WWW-Authenticate`` challenge: lower-case scheme and its parameters."""

    scheme: str
    params: dict[str, str]


def parse_challenge(header: str | None) -> Challenge | None:
    """Parse ``Bearer realm="...",service="...",scope="..."`` (or ``Basic realm=...``)."""
    if not header or not header.strip():
        return None
    scheme, _, rest = header.strip().partition(" ")
    params: dict[str, str] = {}
    for match in _PARAM_RE.finditer(rest):
        key, value = match.group(1).lower(), match.group(2)
        if value.startswith('"'):
            value = re.sub(r"\\(.)", r"\1", value[1:-1])
        params.setdefault(key, value)
    return Challenge(scheme.lower(), params)


def basic_header(credentials: Credentials) -> str:
    """The ``Authorization`` value for HTTP Basic."""
    token = f"{credentials.username}:{credentials.password}".encode()
    return "Basic " + base64.b64encode(token).decode("ascii")


def repository_scope(repository: str, actions: str) -> str:
    """A token scope such as ``repository:app:pull,push``."""
    return f"repository:{repository}:{actions}"


class Authenticator:
    """Authorization state for one registry host; safe to share between threads."""

    def __init__(
        self,
        host: str,
        transport: Transport,
        credentials: CredentialsProvider | None = None,
        *,
        allow_http_realm: bool = False,
    ) -> None:
        self._host = host
        self._transport = transport
        self._provider = credentials
        self._allow_http_realm = allow_http_realm
        self._lock = threading.Lock()
        self._challenge: Challenge | None = None
        self._tokens: dict[tuple[str, ...], tuple[str, float]] = {}

    def headers(self, scopes: tuple[str, ...]) -> dict[str, str]:
        """``Authorization`` for a request needing ``scopes``; empty until a challenge came."""
        with self._lock:
            challenge = self._challenge
            if challenge is None:
                return {}
            if challenge.scheme == "basic":
                credentials = self._credentials()
                return {"Authorization": basic_header(credentials)} if credentials else {}
            cached = self._tokens.get(scopes)
            if cached and cached[1] > _now():
                return {"Authorization": f"Bearer {cached[0]}"}
            token = self._fetch_token(challenge, scopes)
            return {"Authorization": f"Bearer {token}"}

    def on_rejection(
        self, status: int, header: str | None, scopes: tuple[str, ...], sent: bool
    ) -> bool:
        """Learn from a 401 or 403 of the registry; True when sending once more can succeed.

        ``sent`` tells whether the rejected request carried credentials. A 401 without them
        teaches the scheme (``WWW-Authenticate``). With them, or on a 403 (ECR's "token
        expired"), the cached token and the provider's credentials are dropped, so that the
        next :meth:`headers` fetches them again: worth one more try only when they can change.
        The caller sends once more at most, so a token is fetched again once per request.
        """
        challenge = parse_challenge(header) if status == 401 else None
        with self._lock:
            if challenge is not None and challenge.scheme in ("basic", "bearer"):
                self._challenge = challenge
            elif status == 401 or self._challenge is None:
                return False  # no usable challenge: nothing to answer with
            self._tokens.pop(scopes, None)
            scheme = self._challenge.scheme
            renewed = self._invalidate() if sent else False
            if scheme == "bearer":
                return True  # a new token from the realm (with renewed credentials, if any)
            return self._credentials() is not None and (renewed or not sent)

    def _invalidate(self) -> bool:
        """Ask the provider to forget ``host``'s credentials; True if new ones may differ."""
        invalidate = getattr(self._provider, "invalidate", None)
        return bool(invalidate(self._host)) if callable(invalidate) else False

    def _credentials(self) -> Credentials | None:
        return self._provider(self._host) if self._provider else None

    def _fetch_token(self, challenge: Challenge, scopes: tuple[str, ...]) -> str:
        """GET the realm with service and scopes; cache the token until shortly before expiry."""
        realm = challenge.params.get("realm", "")
        scheme = urlsplit(realm).scheme
        if scheme != "https" and not (scheme == "http" and self._allow_http_realm):
            raise RegistryError(f"{self._host}: unusable token realm {redact_url(realm)!r}")
        query = [("scope", scope) for scope in scopes]
        if "service" in challenge.params:
            query.insert(0, ("service", challenge.params["service"]))
        url = realm + ("&" if "?" in realm else "?") + urlencode(query) if query else realm
        credentials = self._credentials()
        headers = {"Authorization": basic_header(credentials)} if credentials else {}
        response = self._transport.send("GET", url, headers=headers).response
        if response.status != 200:
            raise error_from_response(response, "GET", url, f"token request for {self._host}")
        what = f"token response for {self._host}"
        token, lifetime = _parse_token(
            read_capped(response, MAX_TOKEN_RESPONSE, what, RegistryError), self._host
        )
        expiry = _now() + max(0, lifetime - min(TOKEN_EXPIRY_MARGIN, lifetime // 2))
        self._tokens[scopes] = (token, expiry)
        return token


def _parse_token(body: bytes, host: str) -> tuple[str, int]:
    """``(token, lifetime seconds)`` from a token response (``token`` or ``access_token``)."""
    try:
        data = json.loads(body)
        token = data.get("token") or data.get("access_token")
        lifetime = int(data.get("expires_in") or DEFAULT_TOKEN_LIFETIME)
        if not isinstance(token, str) or not token:
            raise ValueError("no token")
    except (ValueError, TypeError, AttributeError, RecursionError) as exc:
        raise RegistryError(f"token request for {host}: unusable response ({exc})") from exc
    return token, lifetime
