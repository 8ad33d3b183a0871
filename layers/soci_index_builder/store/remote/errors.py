"""Turn a registry's HTTP answer into a :class:`RegistryError` (the only place that does).

Follows the distribution spec's error body (``{"errors": [{"code", "message", "detail"}]}``,
https://github.com/opencontainers/distribution-spec/blob/main/spec.md#error-codes). Bodies are
read with a cap and messages never carry query strings (presigned S3 URLs hold signatures) nor
request headers (credentials), the way ggcr's ``transport.Error`` + ``redact.URL`` do.
"""

from __future__ import annotations

import email.utils
import json
import re
import time
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from ...errors import NotFoundError, RegistryError

if TYPE_CHECKING:
    from urllib3 import BaseHTTPResponse

#: Error bodies are read up to this size; the rest is dropped with the connection.
MAX_ERROR_BODY = 64 << 10
#: Longest registry-provided text quoted in a message.
MAX_MESSAGE_TEXT = 300
#: Statuses worth retrying: throttling, timeouts and server-side failures.
TRANSIENT_STATUSES = frozenset({408, 429, 500, 502, 503, 504})
#: OCI/Docker error codes that mean "try again later" whatever the status says.
TRANSIENT_CODES = frozenset({"TOOMANYREQUESTS", "UNAVAILABLE"})
#: Codes a manifest PUT can get while another client pushes the same content: distribution's
#: filesystem driver rewrites a repository link file in place (truncate, then write), and the
#: manifest check reads it empty meanwhile (``digest.ErrDigestInvalidFormat`` -> DIGEST_INVALID,
#: followed by MANIFEST_BLOB_UNKNOWN). Our manifest digests are computed locally, so this
#: answer means "try again", never "your digest is wrong".
MANIFEST_PUSH_RACE_CODES = frozenset({"DIGEST_INVALID"})

_QUERY_RE = re.compile(r"\?[^\s'\")]*")
_UNPRINTABLE_RE = re.compile(r"[^\x20-\x7e]+")
_HINTS = {
    401: "authentication required or rejected",
    403: "access denied",
    404: "not found",
    429: "throttled",
}


def redact_url(url: str) -> str:
    """``scheme://host/path`` without query or fragment (they may hold signatures)."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}{parts.path}"


def redact_text(text: str) -> str:
    """Drop query strings and control characters from free text, and cap its length."""
    text = _UNPRINTABLE_RE.sub(" ", _QUERY_RE.sub("?...", text)).strip()
    return text if len(text) <= MAX_MESSAGE_TEXT else text[:MAX_MESSAGE_TEXT] + "..."


def read_error_body(response: BaseHTTPResponse) -> bytes:
    """Read at most :data:`MAX_ERROR_BODY` bytes and give the connection back (or close it)."""
    try:
        body = response.read(MAX_ERROR_BODY + 1, decode_content=True)
    except Exception:  # the body is advisory: a broken one must not hide the status
        body = b""
    finish_response(response, drained=len(body) <= MAX_ERROR_BODY)
    return body[:MAX_ERROR_BODY]


def finish_response(response: BaseHTTPResponse, *, drained: bool) -> None:
    """Return the connection to the pool when the body was consumed, else close it."""
    if not drained:
        response.close()
    response.release_conn()


def parse_error_body(body: bytes) -> tuple[str | None, str]:
    """The first OCI error ``(code, message)``, or ``(None, text excerpt)`` for other bodies."""
    try:
        errors = json.loads(body)["errors"]
        first = errors[0]
        code = str(first.get("code") or "") or None
        return code, str(first.get("message") or "")
    except (ValueError, KeyError, IndexError, TypeError, AttributeError, RecursionError):
        return None, body[:MAX_MESSAGE_TEXT].decode("utf-8", "replace")


def error_from_response(
    response: BaseHTTPResponse,
    method: str,
    url: str,
    what: str | None = None,
    transient_codes: frozenset[str] = frozenset(),
) -> RegistryError:
    """Build the error for an unexpected status; consumes and releases ``response``.

    ``transient_codes`` adds codes that mean "try again" for this request only.
    """
    status = response.status
    code, text = parse_error_body(read_error_body(response))
    subject = what or f"{method} {redact_url(url)}"
    detail = " ".join(p for p in (_HINTS.get(status, ""), code or "", redact_text(text)) if p)
    message = f"{subject}: HTTP {status}" + (f" ({detail})" if detail else "")
    if status == 401 and not response.headers.get("WWW-Authenticate"):
        message += "; the registry sent no WWW-Authenticate challenge"
    if status == 404:
        return NotFoundError(message, code=code)
    transient = status in TRANSIENT_STATUSES or code in TRANSIENT_CODES or code in transient_codes
    retry_after = parse_retry_after(response.headers.get("Retry-After"))
    return RegistryError(
        message, status=status, code=code, transient=transient, retry_after=retry_after
    )


class ConnectError(RegistryError):
    """No connection could be made: nothing was sent, so even a non-idempotent request can be
    sent again."""

    def __init__(self, message: str) -> None:
        super().__init__(message, transient=True)


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


def connection_error(exc: BaseException, method: str, url: str, *, unsent: bool) -> RegistryError:
    """A network failure (refused, reset, timed out): transient; ConnectError when ``unsent``."""
    reason = redact_text(f"{type(exc).__name__}: {exc}")
    message = f"{method} {redact_url(url)}: connection failed ({reason})"
    return ConnectError(message) if unsent else RegistryError(message, transient=True)


def stream_error(exc: BaseException, what: str) -> RegistryError:
    """The connection failed while a body was being read: transient (the read can be redone)."""
    reason = redact_text(f"{type(exc).__name__}: {exc}")
    return RegistryError(f"{what}: connection failed while reading ({reason})", transient=True)
