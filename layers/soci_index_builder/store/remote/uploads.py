"""Blob uploads over the distribution API: monolithic (POST + PUT), chunked (PATCH), mount.

Spec: https://github.com/opencontainers/distribution-spec/blob/main/spec.md#pushing-blobs.
Upload session requests are not idempotent (a replayed PATCH would append twice), so they are
retried only on throttling and failed connects; a monolithic upload is retried as a whole
instead (one :meth:`RegistryClient.retrying` loop; its requests make one attempt each).

A streamed upload cannot re-read its source, so a PATCH that failed after it may have been sent
(a reset, a timeout, a 5xx) is resumed instead: the upload status (``GET`` of the upload
Location, spec "Pushing blobs") says how many bytes the registry holds, and the rest of the part
is sent from there, to the Location that answer gives. Only an end within the part is trusted;
no status, no valid ``Range`` or an end elsewhere raise the PATCH's error. Resumes are single
tries under the policy's attempt budget, backoff and deadline (docs/credentials.md "Retries,
deadlines and uploads", which also says what docker-registry 2.8 answers).
"""

from __future__ import annotations

import hashlib
import re
from contextlib import suppress
from typing import TYPE_CHECKING
from urllib.parse import quote, urljoin

from ...digest import hash_digest
from ...errors import RegistryError
from ...streams import fill
from .errors import redact_text
from .retry import may_have_acted

if TYPE_CHECKING:
    from ...streams import Readable
    from .client import RegistryClient

#: Bytes per PATCH of a streamed upload: ECR's largest upload part (parts are 5-10 MiB except
#: the last), for the fewest round trips and the most bytes within its 4,200-part limit.
PART_SIZE = 10 << 20
#: Parts from this one on are twice :data:`PART_SIZE`: 3,000 x 10 MiB + 1,200 x 20 MiB =
#: 54,000 MiB, so a layer up to ECR's 52,000 MiB limit fits in 4,200 parts. Only layers over
#: 30,000 MiB get such parts (docs/credentials.md "Retries, deadlines and uploads").
GROWTH_PART = 3000
_OCTET_STREAM = "application/octet-stream"
#: An upload status ``Range``: bytes ``0`` to the last one received, inclusive.
_RANGE_RE = re.compile(r"0-([0-9]+)")


def push_bytes(
    client: RegistryClient, repo_url: str, scopes: tuple[str, ...], digest: str, data: bytes
) -> None:
    """POST a session, PUT the bytes with ``?digest=``; the pair is retried as one operation."""
    what = f"upload of {digest}"

    def upload() -> None:
        location = _start(client, repo_url, scopes, what, retry=False)
        client.request(
            "PUT",
            with_digest(location, digest),
            scopes=scopes,
            headers={"Content-Type": _OCTET_STREAM},
            body=data,
            ok=(201, 204),
            what=what,
            retry=False,
        )

    client.retrying(upload, what)


def part_size(index: int, base: int) -> int:
    """Size of upload part ``index`` (0-based) for a client whose part size is ``base``."""
    return base if index < GROWTH_PART else 2 * base


def push_stream(
    client: RegistryClient, repo_url: str, scopes: tuple[str, ...], source: Readable
) -> tuple[str, int]:
    """PATCH ``source`` in parts (``Content-Range``), then PUT ``?digest=``; (digest, size)."""
    what = "chunked upload"
    location = _start(client, repo_url, scopes, what)
    hasher = hashlib.sha256()
    buffer = bytearray(part_size(0, client.chunk_size))
    offset = index = 0
    while n := _fill(source, buffer):
        chunk = bytes(buffer[:n])
        hasher.update(chunk)
        location = _send_part(client, location, scopes, chunk, offset, what)
        offset += n
        index += 1
        if n < len(buffer):
            break
        if len(buffer) != (size := part_size(index, client.chunk_size)):
            buffer = bytearray(size)
    digest = hash_digest(hasher)
    client.request(
        "PUT",
        with_digest(location, digest),
        scopes=scopes,
        headers={"Content-Type": _OCTET_STREAM},
        body=b"",
        ok=(201, 204),
        idempotent=False,
        what=f"{what} of {digest}",
    )
    return digest, offset


def _send_part(
    client: RegistryClient,
    location: str,
    scopes: tuple[str, ...],
    part: bytes,
    start: int,
    what: str,
) -> str:
    """PATCH ``part`` (the upload's bytes from ``start``); the Location to continue at.

    After a failure that the PATCH may have reached the registry through
    (:func:`~.retry.may_have_acted`), ask where the upload stands and PATCH what the registry
    lacks of ``part``; again after each transient failure, as single tries under the policy's
    budget, backoff and deadline. The PATCH's error is raised, noted, when the registry cannot
    say (no status, no valid ``Range``) or says an end outside ``part``.
    """
    label = f"{what} at byte {start}"
    try:
        return _patch(client, location, scopes, part, start, label, retry=True)
    except RegistryError as exc:
        if not may_have_acted(exc):
            raise
        error = last = exc
    end = start + len(part)
    failures = 0
    while True:
        failures += 1
        if client.retry.spent(failures, last):
            raise _noted(error, f"not resumed: {failures} tries failed, the last: {last}")
        client.retry.wait(failures, last, client.deadline, label)
        try:
            status = _upload_status(client, location, scopes, what)
        except RegistryError as exc:  # transient: asked again
            last = exc
            continue
        if isinstance(status, str):
            raise _noted(error, f"not resumed: {status}")
        received, location = status
        if not start <= received <= end:
            told = f"the registry has {received} bytes, expected {start} to {end}"
            raise _noted(error, f"not resumed: {told}")
        if received == end:
            return location
        try:
            rest = part[received - start :]
            return _patch(client, location, scopes, rest, received, label, retry=False)
        except RegistryError as exc:
            if not exc.transient:
                raise
            last = exc


def _patch(
    client: RegistryClient,
    location: str,
    scopes: tuple[str, ...],
    data: bytes,
    start: int,
    what: str,
    *,
    retry: bool,
) -> str:
    """One PATCH of ``data`` at byte ``start``: the Location to continue at."""
    response = client.request(
        "PATCH",
        location,
        scopes=scopes,
        headers={
            "Content-Type": _OCTET_STREAM,
            "Content-Range": f"{start}-{start + len(data) - 1}",
        },
        body=data,
        ok=(202,),
        idempotent=False,
        what=what,
        retry=retry,
    )
    return _location(response.headers.get("Location"), location, what)


def _upload_status(
    client: RegistryClient, location: str, scopes: tuple[str, ...], what: str
) -> tuple[int, str] | str:
    """GET the upload session, one try: (bytes received, Location to continue at), or why the
    answer cannot be used. Transient failures are raised.

    ``Range`` must be exactly ``0-<last byte received>``. distribution answers ``0-0`` for an
    empty session as well as for one byte; it is taken as empty, its meaning there.
    """
    try:
        response = client.request(
            "GET", location, scopes=scopes, ok=(204,), what=f"status of {what}", retry=False
        )
    except RegistryError as exc:
        if exc.transient:
            raise
        return f"no upload status ({exc})"
    header = response.headers.get("Range")
    match = _RANGE_RE.fullmatch(header or "")
    if not match:
        return f"the upload status has no valid Range ({redact_text(repr(header))})"
    if not response.headers.get("Location"):
        return "the upload status has no Location"
    last = int(match.group(1))
    return last + 1 if last else 0, _location(response.headers.get("Location"), location, what)


def _noted(exc: RegistryError, note: str) -> RegistryError:
    """``exc`` with ``note`` added to its message (when its message is its only argument)."""
    if len(exc.args) == 1 and isinstance(exc.args[0], str):
        exc.args = (f"{exc.args[0]}; {note}",)
    return exc


def mount(
    client: RegistryClient, repo_url: str, scopes: tuple[str, ...], digest: str, source: str
) -> bool:
    """POST ``?mount=&from=``: 201 mounted; 202 is an upload session we cancel (caller uploads)."""
    response = client.request(
        "POST",
        f"{repo_url}/blobs/uploads/?mount={quote(digest, safe=':')}&from={quote(source, safe='/')}",
        scopes=scopes,
        ok=(201, 202),
        what=f"mount of {digest} from {source}",
    )
    if response.status == 201:
        return True
    location = response.headers.get("Location")
    if location:
        with suppress(RegistryError):  # tidy only: an abandoned session expires on its own
            client.request("DELETE", urljoin(repo_url, location), scopes=scopes, ok=(202, 204, 404))
    return False


def with_digest(location: str, digest: str) -> str:
    """The upload URL with ``digest=`` added to whatever query it already has."""
    return f"{location}{'&' if '?' in location else '?'}digest={quote(digest, safe=':')}"


def _start(
    client: RegistryClient,
    repo_url: str,
    scopes: tuple[str, ...],
    what: str,
    *,
    retry: bool = True,
) -> str:
    response = client.request(
        "POST",
        f"{repo_url}/blobs/uploads/",
        scopes=scopes,
        ok=(202,),
        what=f"start of {what}",
        retry=retry,
    )
    return _location(response.headers.get("Location"), repo_url, what)


def _location(header: str | None, base: str, what: str) -> str:
    """Absolute upload URL from a (possibly relative) ``Location`` header."""
    if not header:
        raise RegistryError(f"{what}: registry sent no upload Location")
    return urljoin(base + "/", header)


def _fill(source: Readable, buffer: bytearray) -> int:
    """Fill ``buffer`` from ``source``; fewer bytes only at end of stream."""
    with memoryview(buffer) as view:
        return fill(source, view)
