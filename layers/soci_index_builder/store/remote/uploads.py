"""Blob uploads over the distribution API: monolithic (POST + PUT), chunked (PATCH), mount.

Spec: https://github.com/opencontainers/distribution-spec/blob/main/spec.md#pushing-blobs.
Upload session requests are not idempotent (a replayed PATCH would append twice), so they are
retried only on throttling and failed connects; a monolithic upload is retried as a whole
instead (one :meth:`RegistryClient.retrying` loop; its requests make one attempt each).
"""

from __future__ import annotations

import hashlib
from contextlib import suppress
from typing import TYPE_CHECKING
from urllib.parse import quote, urljoin

from ...digest import hash_digest
from ...errors import RegistryError
from ...streams import fill

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
        response = client.request(
            "PATCH",
            location,
            scopes=scopes,
            headers={"Content-Type": _OCTET_STREAM, "Content-Range": f"{offset}-{offset + n - 1}"},
            body=chunk,
            ok=(202,),
            idempotent=False,
            what=f"{what} at byte {offset}",
        )
        location = _location(response.headers.get("Location"), location, what)
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
