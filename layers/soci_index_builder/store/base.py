"""The one interface every image store implements: a single repository's content.

A SOCI index lives in the same repository as its image, so every operation is scoped to one
repository. Backends: ``store.layout`` (an OCI image layout directory) and ``store.remote``
(any OCI distribution registry, ECR included). Optional capabilities are separate protocols
checked with ``isinstance`` (go-containerregistry's ``partial`` idea).
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from typing import NamedTuple, Protocol, runtime_checkable

from ..streams import Readable

#: Manifests larger than this are refused (the limit containerd and most registries apply).
MAX_MANIFEST_SIZE = 4 << 20


class RawManifest(NamedTuple):
    """A manifest or index exactly as stored: ``raw`` hashes to ``digest``."""

    media_type: str
    digest: str
    raw: bytes


class ManifestInfo(NamedTuple):
    """What a HEAD on a manifest tells: enough to build a descriptor."""

    media_type: str
    digest: str
    size: int


@runtime_checkable
class Repository(Protocol):
    """Read and write access to one repository. All methods verify digests of what they return."""

    @property
    def name(self) -> str:
        """Human-readable location, e.g. ``registry:5000/app`` or ``oci:./layout``."""
        ...

    def fetch_manifest(self, reference: str) -> RawManifest:
        """Manifest or index by tag or digest; NotFoundError if absent, ManifestError if > 4 MiB."""
        ...

    def resolve(self, reference: str) -> ManifestInfo | None:
        """HEAD a manifest by tag or digest; None if absent."""
        ...

    def open_blob(self, digest: str, size: int | None = None) -> AbstractContextManager[Readable]:
        """Stream a blob; the stream raises DigestMismatchError at EOF if the bytes are wrong."""
        ...

    def read_blob_range(self, digest: str, start: int, end: int) -> bytes:
        """Bytes ``[start, end)`` of a blob (not verifiable on their own: callers check spans)."""
        ...

    def has_blob(self, digest: str) -> bool:
        """True if the repository already holds the blob (push can be skipped)."""
        ...

    def push_blob(self, digest: str, data: bytes) -> bool:
        """Upload a small blob held in memory; returns False if it was already there."""
        ...

    def push_blob_stream(self, source: Readable) -> tuple[str, int]:
        """Upload a blob whose digest is known only at the end; returns (digest, size)."""
        ...

    def push_manifest(self, raw: bytes, media_type: str, tag: str | None = None) -> str:
        """Store a manifest by digest, and point ``tag`` at it when given; returns the digest."""
        ...

    def list_tags(self) -> list[str]:
        """Every tag of the repository (all pages)."""
        ...


@runtime_checkable
class ReferrersLister(Protocol):
    """Optional: the OCI referrers API (or its tag-schema fallback where a registry lacks it)."""

    def list_referrers(
        self, digest: str, artifact_type: str | None = None
    ) -> list[dict[str, object]]:
        """Descriptors of the manifests whose ``subject`` is ``digest``."""
        ...


@runtime_checkable
class BlobMounter(Protocol):
    """Optional: several repositories of one registry, whose blobs can be shared.

    A zTOC built in one repository is reused in another by a cross-repository mount instead
    of a rebuild (docs/reuse.md). An OCI layout holds one repository: it has no siblings.
    """

    def sibling(self, name: str) -> Repository | None:
        """The repository ``name`` (a ``Repository.name``) of the same registry, else None."""
        ...

    def mount_from(self, digest: str, sibling: Repository) -> bool:
        """Mount blob ``digest`` of ``sibling`` here; False if the registry wants an upload."""
        ...


@runtime_checkable
class ManifestDeleter(Protocol):
    """Optional: delete a manifest by digest (pruning, docs/fleet.md section 3).

    The manifest and every tag pointing at it go; blobs are left to the registry's garbage
    collection. Only the fleet pruner calls it, on manifests it proved the builder made.
    """

    def delete_manifest(self, digest: str) -> None:
        """Delete the manifest ``digest``; NotFoundError if it is already gone."""
        ...


class BlobRanges:
    """A blob of a repository seen as a RangeReader (zTOC extraction over the network)."""

    def __init__(self, repository: Repository, digest: str) -> None:
        self._repository = repository
        self._digest = digest

    def read_range(self, start: int, end: int) -> bytes:
        return self._repository.read_blob_range(self._digest, start, end)
