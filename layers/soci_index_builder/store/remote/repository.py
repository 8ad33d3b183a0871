"""One repository of an OCI registry: the registry backend of :class:`~..base.Repository`.

Every manifest and blob read is checked against its digest; names, tags and digests are
validated before any URL is built (see ``client.py`` for transport, auth and retries).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from ...digest import sha256_digest, validate_digest
from ...errors import DigestMismatchError, ManifestError, NotFoundError
from ...oci import mediatypes as mt
from ...oci.reference import validate_manifest_reference, validate_repository, validate_tag
from ..base import MAX_MANIFEST_SIZE, ManifestInfo, RawManifest
from . import _http, uploads
from .auth import repository_scope
from .errors import MANIFEST_PUSH_RACE_CODES
from .mount import Mounting

if TYPE_CHECKING:
    from ...streams import Readable
    from .client import RegistryClient

#: What a manifest GET/HEAD accepts: indexes first, so multi-platform images stay whole.
MANIFEST_ACCEPT = ", ".join(
    (mt.OCI_IMAGE_INDEX, mt.DOCKER_MANIFEST_LIST, mt.OCI_IMAGE_MANIFEST, mt.DOCKER_MANIFEST_V2)
)
#: Tags per page (ECR refuses more than 1000).
TAG_PAGE_SIZE = 1000


class RemoteRepository(Mounting):
    """One repository of a registry: the Repository + ReferrersLister protocols, and mounts."""

    def __init__(self, client: RegistryClient, name: str) -> None:
        self.client = client
        self.path = name
        self._url = f"{client.base_url}/v2/{name}"
        self._pull = (repository_scope(name, "pull"),)
        self._push = (repository_scope(name, "pull,push"),)

    @property
    def name(self) -> str:
        return f"{self.client.host}/{self.path}"

    def _what(self, kind: str, reference: str) -> str:
        sep = "@" if reference.startswith("sha256:") else ":"
        return f"{kind} {self.name}{sep}{reference}"

    # --- manifests ----------------------------------------------------------------------

    def fetch_manifest(self, reference: str) -> RawManifest:
        validate_manifest_reference(reference)
        what = self._what("manifest", reference)
        response = self.client.request(
            "GET",
            f"{self._url}/manifests/{reference}",
            scopes=self._pull,
            headers={"Accept": MANIFEST_ACCEPT},
            stream=True,
            what=what,
        )
        raw = _http.read_capped(
            response, MAX_MANIFEST_SIZE, what, ManifestError, self.client.deadline
        )
        digest = sha256_digest(raw)
        header = response.headers.get("Docker-Content-Digest", "")
        expected = reference if reference.startswith("sha256:") else header
        if expected.startswith("sha256:") and expected != digest:
            raise DigestMismatchError(expected, digest, what)
        return RawManifest(
            _media_type(response.headers.get("Content-Type"), raw, what), digest, raw
        )

    def resolve(self, reference: str) -> ManifestInfo | None:
        validate_manifest_reference(reference)
        what = self._what("manifest", reference)
        response = self.client.request(
            "HEAD",
            f"{self._url}/manifests/{reference}",
            scopes=self._pull,
            headers={"Accept": MANIFEST_ACCEPT},
            ok=(200, 404),
            what=what,
        )
        if response.status == 404:
            return None
        digest = response.headers.get("Docker-Content-Digest", "")
        length = response.headers.get("Content-Length", "")
        content_type = _http.base_media_type(response.headers.get("Content-Type"))
        if not (digest.startswith("sha256:") and length.isdigit() and content_type):
            manifest = self.fetch_manifest(reference)  # HEAD not informative enough: GET
            return ManifestInfo(manifest.media_type, manifest.digest, len(manifest.raw))
        validate_digest(digest)
        if reference.startswith("sha256:") and digest != reference:
            raise DigestMismatchError(reference, digest, what)
        return ManifestInfo(content_type, digest, int(length))

    def push_manifest(self, raw: bytes, media_type: str, tag: str | None = None) -> str:
        """PUT by digest, then by tag: the tag moves only once the content is stored."""
        if tag is not None:
            validate_tag(tag)
        if len(raw) > MAX_MANIFEST_SIZE:
            raise ManifestError(f"manifest of {len(raw)} bytes exceeds {MAX_MANIFEST_SIZE}")
        digest = sha256_digest(raw)
        for reference in (digest, tag) if tag else (digest,):
            self._put_manifest(reference, raw, media_type, digest)
        return digest

    def _put_manifest(self, reference: str, raw: bytes, media_type: str, digest: str) -> None:
        """One manifest PUT, under the client's retry policy.

        Besides throttling (ECR's PutImage quota) and server failures, race answers
        (MANIFEST_PUSH_RACE_CODES) are retried: a PUT of the same bytes is idempotent, so
        concurrent deliveries of one push converge once the other client's write is done.
        """
        what = self._what("manifest push", reference)
        response = self.client.request(
            "PUT",
            f"{self._url}/manifests/{reference}",
            scopes=self._push,
            headers={"Content-Type": media_type},
            body=raw,
            ok=(200, 201, 202, 204),
            what=what,
            transient_codes=MANIFEST_PUSH_RACE_CODES,
        )
        stored = response.headers.get("Docker-Content-Digest", "")
        if stored.startswith("sha256:") and stored != digest:
            raise DigestMismatchError(digest, stored, what)

    # --- blobs --------------------------------------------------------------------------

    @contextmanager
    def open_blob(self, digest: str, size: int | None = None) -> Iterator[Readable]:
        """Stream a blob; the reader raises DigestMismatchError at EOF on wrong bytes.

        A connection lost mid-blob is resumed with a Range request from the byte reached
        (:class:`~._http.ResumableBody`); the digest still covers the whole stream.
        """
        validate_digest(digest)
        what = self._what("blob", digest)
        url = f"{self._url}/blobs/{digest}"

        def open_at(offset: int, retry: bool) -> _http.Body:
            headers = {"Range": f"bytes={offset}-"} if offset else None
            response = self.client.request(
                "GET",
                url,
                scopes=self._pull,
                headers=headers,
                ok=(200, 206) if offset else (200,),
                stream=True,
                what=what,
                retry=retry,
            )
            return _http.Body(response, what, self.client.deadline).skip_to(offset)

        body = _http.ResumableBody(open_at, self.client.retry, self.client.deadline, what)
        try:
            yield _http.verified(body, digest, size, what)
        finally:
            body.close()

    @contextmanager
    def _open(self, digest: str, headers: dict[str, str] | None = None) -> Iterator[_http.Body]:
        validate_digest(digest)
        response = self.client.request(
            "GET",
            f"{self._url}/blobs/{digest}",
            scopes=self._pull,
            headers=headers,
            ok=(200, 206, 416) if headers else (200,),
            stream=True,
            what=self._what("blob", digest),
        )
        body = _http.Body(response, self._what("blob", digest), self.client.deadline)
        try:
            yield body
        finally:
            body.close()

    def read_blob_range(self, digest: str, start: int, end: int) -> bytes:
        if start < 0 or end < start:
            raise ValueError(f"bad range [{start}, {end})")
        if end == start:
            return b""
        with self._open(digest, {"Range": f"bytes={start}-{end - 1}"}) as body:
            return body.read_range(start, end)

    def has_blob(self, digest: str) -> bool:
        validate_digest(digest)
        response = self.client.request(
            "HEAD",
            f"{self._url}/blobs/{digest}",
            scopes=self._pull,
            ok=(200, 404),
            what=self._what("blob", digest),
        )
        return response.status == 200

    def push_blob(self, digest: str, data: bytes) -> bool:
        validate_digest(digest)
        if sha256_digest(data) != digest:
            raise DigestMismatchError(digest, sha256_digest(data), "blob to push")
        if self.has_blob(digest):
            return False
        uploads.push_bytes(self.client, self._url, self._push, digest, data)
        return True

    def push_blob_stream(self, source: Readable) -> tuple[str, int]:
        return uploads.push_stream(self.client, self._url, self._push, source)

    def mount_blob(self, digest: str, from_repository: str) -> bool:
        """Cross-repository mount; False when the registry wants an upload instead."""
        validate_digest(digest)
        validate_repository(from_repository)
        scopes = (*self._push, repository_scope(from_repository, "pull"))
        return uploads.mount(self.client, self._url, scopes, digest, from_repository)

    def delete_manifest(self, digest: str) -> None:
        """DELETE by digest: the registry drops the manifest and the tags pointing at it."""
        validate_digest(digest)
        self.client.request(
            "DELETE",
            f"{self._url}/manifests/{digest}",
            scopes=(repository_scope(self.path, "pull,push,delete"),),
            ok=(200, 202),
            what=self._what("manifest delete", digest),
        )

    # --- listings -----------------------------------------------------------------------

    def list_tags(self) -> list[str]:
        url: str | None = f"{self._url}/tags/list?n={self.client.page_size}"
        tags: list[str] = []
        for page in _http.pages(self.client, url, self._pull, None, f"tags of {self.name}"):
            tags.extend(str(tag) for tag in page.get("tags") or ())
        return tags

    def list_referrers(
        self, digest: str, artifact_type: str | None = None
    ) -> list[dict[str, object]]:
        """The referrers API, or the ``sha256-<hex>`` tag-schema index when it answers 404."""
        validate_digest(digest)
        query = f"?artifactType={quote(artifact_type, safe='')}" if artifact_type else ""
        url = f"{self._url}/referrers/{digest}{query}"
        headers = {"Accept": mt.OCI_IMAGE_INDEX}
        what = f"referrers of {self.name}@{digest}"
        found: list[Any] = []
        try:
            for page in _http.pages(self.client, url, self._pull, headers, what):
                found.extend(page.get("manifests") or ())
        except NotFoundError:
            found = self._referrers_from_tag(digest)
        return [
            d
            for d in found
            if isinstance(d, dict)
            and (artifact_type is None or d.get("artifactType") == artifact_type)
        ]

    def _referrers_from_tag(self, digest: str) -> list[Any]:
        try:
            manifest = self.fetch_manifest(digest.replace(":", "-", 1))
        except NotFoundError:
            return []
        return list(_http.parse_json(manifest.raw, "referrers tag index").get("manifests") or ())


def _media_type(header: str | None, raw: bytes, what: str) -> str:
    """The Content-Type, or the manifest's own ``mediaType`` when the header is generic."""
    media_type = _http.base_media_type(header)
    if mt.is_manifest_or_index(media_type):
        return media_type
    declared = _http.parse_json(raw, what).get("mediaType")
    if isinstance(declared, str) and declared:
        return declared
    if media_type:
        return media_type
    raise ManifestError(f"{what}: no media type in Content-Type nor in the manifest")
