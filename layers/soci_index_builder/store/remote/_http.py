"""Response-body helpers for the registry client: bounded reads, streaming bodies, pagination.

Every body is read with a cap or streamed through :class:`Body`, which turns mid-stream network
failures into transient RegistryErrors and gives the connection back (or closes it) when done.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any
from urllib.parse import urljoin

from urllib3.exceptions import HTTPError

from ...digest import DigestingReader
from ...errors import ManifestError, RegistryError
from ...streams import read_exactly
from .errors import finish_response, redact_url, stream_error
from .retry import RetryPolicy, check_deadline
from .transport import discard

if TYPE_CHECKING:
    import urllib3

    from .client import RegistryClient

#: A listing page (tags, referrers) larger than this is refused.
MAX_PAGE_SIZE = 16 << 20
#: Pagination stops with an error after this many pages (a registry looping on ``Link``).
MAX_PAGES = 10_000
_SKIP_CHUNK = 1 << 20
_LINK_NEXT_RE = re.compile(r'<([^>]*)>\s*;[^,]*\brel="?next"?', re.IGNORECASE)

__all__ = [
    "Body",
    "ResumableBody",
    "base_media_type",
    "discard",
    "pages",
    "parse_json",
    "read_capped",
    "verified",
]


class Body:
    """A streamed response body as a :class:`~...streams.Readable`; ``close()`` releases it.

    Reads stop with DeadlineExceededError once ``deadline`` (monotonic) has passed: socket
    timeouts alone never end a server that drips a byte at a time.
    """

    def __init__(
        self, response: urllib3.BaseHTTPResponse, what: str, deadline: float | None = None
    ) -> None:
        self._response = response
        self._what = what
        self._deadline = deadline
        self.eof = False

    def readinto(self, buffer: bytearray | memoryview) -> int:
        check_deadline(self._deadline, self._what)
        try:
            if self._deadline is None:
                data = self._response.read(len(buffer), decode_content=False)
            else:  # what one receive brings: read() would wait for all of a dripped buffer
                data = self._response.read1(len(buffer), decode_content=False)
        except HTTPError as exc:
            raise stream_error(exc, self._what) from exc
        n = len(data)
        memoryview(buffer)[:n] = data
        if not n:
            self.eof = True
        return n

    def read_upto(self, size: int) -> bytes:
        """Up to ``size`` bytes (fewer only at end of body)."""
        return read_exactly(self, size)

    def read_range(self, start: int, end: int) -> bytes:
        """Bytes ``[start, end)`` from a 206 answer, or from a 200 one that ignored Range."""
        status = self._response.status
        if status == 416:  # past the end; docker-registry's 416 has a wrong Content-Length
            return b""
        if status == 206:
            first = _content_range_start(self._response.headers.get("Content-Range"))
            if first != start:
                raise RegistryError(f"{self._what}: asked bytes from {start}, got from {first}")
        else:
            skipped = 0
            while skipped < start and (n := len(self.read_upto(min(_SKIP_CHUNK, start - skipped)))):
                skipped += n
        data = self.read_upto(end - start)
        if status == 206 and len(data) == end - start:
            self.read_upto(1)  # reach EOF so that the connection can be reused
        return data

    def skip_to(self, offset: int) -> Body:
        """Position at ``offset`` of the blob: check a 206's start, or skip a 200's first bytes."""
        if not offset:
            return self
        if self._response.status == 206:
            first = _content_range_start(self._response.headers.get("Content-Range"))
            if first != offset:
                self.close()
                raise RegistryError(f"{self._what}: asked bytes from {offset}, got from {first}")
            return self
        skipped = 0
        while skipped < offset and (n := len(self.read_upto(min(_SKIP_CHUNK, offset - skipped)))):
            skipped += n
        if skipped < offset:
            self.close()
            raise RegistryError(f"{self._what}: shorter than the {offset} bytes already read")
        return self

    def close(self) -> None:
        finish_response(self._response, drained=self.eof)


class ResumableBody:
    """A blob body that survives lost connections: reopened with ``Range`` where it broke.

    ``open_at(offset, retry)`` returns a :class:`Body` positioned at ``offset``. The first
    open uses the client's request retries; later ones are single attempts counted, with the
    failures of the stream itself, against the one :class:`~.retry.RetryPolicy` (progress
    renews the budget, the deadline bounds it all).
    """

    def __init__(
        self,
        open_at: Callable[[int, bool], Body],
        policy: RetryPolicy,
        deadline: float | None,
        what: str,
    ) -> None:
        self._open_at = open_at
        self._policy = policy
        self._deadline = deadline
        self._what = what
        self._offset = 0
        self._failures = 0
        self._body: Body | None = open_at(0, True)

    def readinto(self, buffer: bytearray | memoryview) -> int:
        while True:
            try:
                if self._body is None:
                    self._body = self._open_at(self._offset, False)
                n = self._body.readinto(buffer)
            except RegistryError as exc:
                if not exc.transient:
                    raise
                self.close()
                self._failures += 1
                self._policy.wait(self._failures, exc, self._deadline, self._what)
                continue
            if n:
                self._failures = 0
            self._offset += n
            return n

    def close(self) -> None:
        if self._body is not None:
            body, self._body = self._body, None
            body.close()


def verified(
    body: Body | ResumableBody, digest: str, size: int | None, what: str
) -> DigestingReader:
    """Wrap ``body`` so that EOF raises DigestMismatchError unless it hashes to ``digest``."""
    return DigestingReader(body, digest, size, what=what)


def read_capped(
    response: urllib3.BaseHTTPResponse,
    limit: int,
    what: str,
    error: Callable[[str], Exception] = ManifestError,
    deadline: float | None = None,
) -> bytes:
    """The whole body if it is at most ``limit`` bytes, else ``error`` (checked before reading)."""
    length = response.headers.get("Content-Length", "")
    if length.isdigit() and int(length) > limit:
        finish_response(response, drained=False)
        raise error(f"{what}: {length} bytes is over the {limit}-byte limit")
    body = Body(response, what, deadline)
    try:
        data = body.read_upto(limit + 1)  # shorter means EOF was reached: connection reusable
    finally:
        body.close()
    if len(data) > limit:
        raise error(f"{what}: more than {limit} bytes (limit)")
    return data


def parse_json(
    raw: bytes, what: str, error: Callable[[str], Exception] = ManifestError
) -> dict[str, Any]:
    """A JSON object, or ``error``."""
    try:
        value = json.loads(raw)
    except ValueError as exc:
        raise error(f"{what}: invalid JSON ({exc})") from exc
    except RecursionError:
        raise error(f"{what}: JSON nests too deeply") from None
    if not isinstance(value, dict):
        raise error(f"{what}: expected a JSON object")
    return value


def base_media_type(header: str | None) -> str:
    """``type/subtype`` of a Content-Type header, parameters dropped."""
    return (header or "").partition(";")[0].strip()


def pages(
    client: RegistryClient,
    url: str | None,
    scopes: tuple[str, ...],
    headers: dict[str, str] | None,
    what: str,
) -> Iterator[dict[str, Any]]:
    """GET ``url`` and every page its ``Link: <...>; rel="next"`` headers chain to."""
    count = 0
    while url:
        count += 1
        if count > MAX_PAGES:
            raise RegistryError(f"{what}: more than {MAX_PAGES} pages at {redact_url(url)}")
        response = client.request(
            "GET", url, scopes=scopes, headers=headers, stream=True, what=what
        )
        raw = read_capped(response, MAX_PAGE_SIZE, what, RegistryError, client.deadline)
        yield parse_json(raw, what, RegistryError)
        match = _LINK_NEXT_RE.search(response.headers.get("Link", ""))
        url = urljoin(url, match.group(1)) if match else None


def _content_range_start(header: str | None) -> int | None:
    """First byte of ``Content-Range: bytes a-b/total``."""
    match = re.match(r"\s*bytes\s+(\d+)-\d+/", header or "")
    return int(match.group(1)) if match else None
