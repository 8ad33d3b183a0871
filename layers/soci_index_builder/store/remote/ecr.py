"""Amazon ECR: registry host names, and Basic credentials from ``GetAuthorizationToken``.

ECR speaks the OCI distribution API with HTTP Basic ``AWS:<token>``; the token comes from
``ecr:GetAuthorizationToken`` (valid 12 h, for every registry the caller may access). This is the
package's only boto3 user, and boto3 is imported inside the call so that nothing else pays for it.
"""

from __future__ import annotations

import base64
import threading
import time
from collections.abc import Callable
from typing import Any

from ...errors import RegistryError
from .auth import Credentials
from .ecr_hosts import parse_ecr_host

#: Renew a token this long before ECR says it expires (12 h tokens; 30 min of slack is cheap).
EXPIRY_MARGIN = 30 * 60
#: Keep a token at least this long whatever its ``expiresAt`` says (a wrong clock, or an
#: emulator's date in the past, must not cost a GetAuthorizationToken per request); a token
#: that really expired is rejected with 403 and fetched again then (``invalidate``).
MIN_TOKEN_REUSE = 5 * 60


class EcrCredentialsProvider:
    """A :data:`CredentialsProvider` for ECR hosts (None for other hosts); thread-safe.

    ``client_factory(region)`` returns a boto3 ECR client (default: ``boto3.client("ecr")``);
    ``clock`` returns epoch seconds (tests). Tokens are cached per region until
    ``expiresAt - margin``, but at least :data:`MIN_TOKEN_REUSE` seconds, and dropped when the
    registry rejects them (:meth:`invalidate`).
    """

    def __init__(
        self,
        *,
        client_factory: Callable[[str], Any] | None = None,
        margin: float = EXPIRY_MARGIN,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._client_factory = client_factory or _boto3_client
        self._margin = margin
        self._clock = clock
        self._lock = threading.Lock()
        self._cache: dict[str, tuple[Credentials, float]] = {}

    def __call__(self, host: str) -> Credentials | None:
        parsed = parse_ecr_host(host)
        if parsed is None:
            return None
        region = parsed.region
        with self._lock:
            cached = self._cache.get(region)
            now = self._clock()
            if cached and cached[1] > now:
                return cached[0]
            credentials, expires_at = self._fetch(region)
            reuse_until = max(expires_at - self._margin, now + MIN_TOKEN_REUSE)
            self._cache[region] = (credentials, reuse_until)
            return credentials

    def invalidate(self, host: str) -> bool:
        """Forget the token of ``host``'s region (the registry rejected it): True for ECR."""
        parsed = parse_ecr_host(host)
        if parsed is None:
            return False
        with self._lock:
            self._cache.pop(parsed.region, None)
        return True

    def _fetch(self, region: str) -> tuple[Credentials, float]:
        """Call GetAuthorizationToken and decode ``base64("AWS:<password>")``."""
        try:
            client = self._client_factory(region)
        except ImportError:
            raise RegistryError(
                f"ECR {region}: credentials need boto3 (pip install 'soci-index-builder[aws]'),"
                " or use --credentials config after docker login"
            ) from None
        try:
            response = client.get_authorization_token()
            data = response["authorizationData"][0]
            user, sep, password = (
                base64.b64decode(data["authorizationToken"]).decode().partition(":")
            )
        except Exception as exc:  # botocore errors are not importable here without boto3
            raise _token_error(region, exc) from exc
        if not sep or not password:
            raise RegistryError(f"ECR {region}: malformed authorization token")
        expires_at = data.get("expiresAt")
        expiry = (
            expires_at.timestamp() if hasattr(expires_at, "timestamp") else self._clock() + 3600
        )
        return Credentials(user, password), float(expiry)


def _boto3_client(region: str) -> Any:
    import boto3  # type: ignore[import-untyped]  # optional extra: imported on use

    return boto3.client("ecr", region_name=region)


def _token_error(region: str, exc: Exception) -> RegistryError:
    """Throttling and network failures are transient; denied or malformed answers are not."""
    code = ""
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        code = str(response.get("Error", {}).get("Code", ""))
    transient = code in {"ThrottlingException", "ServerException", "ServiceUnavailable"} or (
        type(exc).__name__ in {"EndpointConnectionError", "ConnectTimeoutError", "ReadTimeoutError"}
    )
    message = f"ECR {region}: GetAuthorizationToken failed ({code or type(exc).__name__})"
    return RegistryError(message, code=code or None, transient=transient)
