"""Turning a catalogue entry into a zTOC in the target repository, or into a rebuild.

The order of docs/reuse.md: the blob already in the target repository (HEAD) is referenced;
in another repository of the same registry it is mounted; when the registry answers a mount
with an upload session, the zTOC blob (small) is copied, never a layer. Every reused zTOC is
read back from the target repository against its digest and size and decoded (its layer size
and build tool must match); a recompressed layer's gzip replacement must be there with its
exact size. Either way a failed check means the layer is built; the entry is dropped only
when its bytes are missing or different, not when they merely cannot be brought here.

A catalogue that cannot be reached (throttling, a locked or broken file, a network error) never
fails a build: the lookup counts as a miss, with a warning, and the build goes on.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from ...errors import NotFoundError, RegistryError, SociError
from ...oci import mediatypes
from ...oci.model import Descriptor
from ...store.base import BlobMounter, Repository
from ...ztoc.decode import decode_ztoc
from ..model import IndexSettings
from ..plan import LayerPlan
from . import Catalogue, CatalogueEntry, ZtocKey

log = logging.getLogger(__name__)
_CHUNK = 1 << 20
_T = TypeVar("_T")


class _Unusable(SociError):
    """The entry names a blob that is missing or different: drop it, build instead."""


class _Unreachable(SociError):
    """The entry may be right, but its blob cannot be brought here (another registry or
    layout, a layer that will not mount): build, and keep the entry."""


@dataclass(frozen=True)
class Reused:
    """A zTOC now present in the target repository, and where the catalogue found it."""

    ztoc_digest: str
    ztoc_size: int
    where: str
    replacement: Descriptor | None
    #: Blobs copied into the target repository (a mount or a blob already there counts 0).
    uploads: int


def ztoc_key(plan: LayerPlan, settings: IndexSettings) -> ZtocKey:
    """The catalogue key of a planned layer under ``settings``."""
    compression = mediatypes.layer_compression(plan.media_type) or "unknown"
    return ZtocKey(plan.digest, settings.span_size, settings.build_tool_identifier, compression)


class Reuser:
    """Looks zTOCs up for one target repository and records the ones built there."""

    def __init__(self, repo: Repository, catalogue: Catalogue) -> None:
        self._repo = repo
        self._catalogue = catalogue

    def reuse(self, key: ZtocKey, layer_size: int) -> Reused | None:
        """The zTOC for ``key``, present and verified in the target repository; None: build."""
        entry = _guarded("lookup", lambda: self._catalogue.lookup(key))
        if entry is None:
            return None
        try:
            uploads = self._bring(key, entry, layer_size)
        except _Unreachable as exc:
            log.info("zTOC of %s not reachable from here (%s): building", key.layer_digest, exc)
            return None
        except SociError as exc:
            log.warning("catalogue entry for %s unusable (%s): building", key.layer_digest, exc)
            if _entry_is_wrong(exc):
                _guarded("drop", lambda: self._catalogue.drop(key))
            return None
        return Reused(entry.ztoc_digest, entry.ztoc_size, entry.where, entry.replacement, uploads)

    def record(
        self, key: ZtocKey, ztoc_digest: str, ztoc_size: int, replacement: Descriptor | None
    ) -> None:
        """Remember a zTOC just pushed to the target repository."""
        entry = CatalogueEntry(ztoc_digest, ztoc_size, self._repo.name, replacement)
        _guarded("record", lambda: self._catalogue.record(key, entry))

    def _bring(self, key: ZtocKey, entry: CatalogueEntry, layer_size: int) -> int:
        indexed_size = layer_size
        if entry.replacement is not None:
            replacement = entry.replacement
            self._present(replacement.digest, replacement.size, entry.where, copy=False)
            self._check_size(replacement.digest, replacement.size)
            indexed_size = replacement.size
        uploads = self._present(entry.ztoc_digest, entry.ztoc_size, entry.where, copy=True)
        ztoc = decode_ztoc(_read(self._repo, entry.ztoc_digest, entry.ztoc_size))
        if ztoc.compressed_archive_size != indexed_size:
            raise _Unusable(f"zTOC {entry.ztoc_digest} describes a layer of another size")
        if ztoc.build_tool_identifier != key.build_tool:
            raise _Unusable(f"zTOC {entry.ztoc_digest} has another build tool identifier")
        return uploads

    def _present(self, digest: str, size: int, where: str, *, copy: bool) -> int:
        """Make ``digest`` of repository ``where`` present here; the blobs uploaded (0 or 1)."""
        repo = self._repo
        if repo.has_blob(digest):
            return 0
        mounter = repo if isinstance(repo, BlobMounter) and where != repo.name else None
        sibling = mounter.sibling(where) if mounter is not None else None
        if mounter is None or sibling is None:
            if where == repo.name:
                raise _Unusable(f"blob {digest} is not in {where}")
            raise _Unreachable(f"{where} is not a repository of this registry")
        if mounter.mount_from(digest, sibling):
            return 0
        if not copy:
            raise _Unreachable(f"layer {digest} could not be mounted from {where}")
        data = _read(sibling, digest, size)
        return int(repo.push_blob(digest, data))

    def _check_size(self, digest: str, size: int) -> None:
        """Exactly ``size`` bytes: byte ``size - 1`` exists and byte ``size`` does not."""
        if size < 1 or len(self._repo.read_blob_range(digest, size - 1, size + 1)) != 1:
            raise _Unusable(f"blob {digest} does not have {size} bytes")


def _entry_is_wrong(exc: SociError) -> bool:
    """Missing or different bytes condemn the entry; a transient registry error does not."""
    return not isinstance(exc, RegistryError) or isinstance(exc, NotFoundError)


def _guarded(operation: str, call: Callable[[], _T]) -> _T | None:
    """``call()``, or None with a warning: a failing catalogue only costs a rebuild.

    Any exception, whatever the backend (docs/reuse.md "Failures never fail a build").
    """
    try:
        return call()
    except Exception as exc:
        log.warning("zTOC catalogue %s failed (%s: %s)", operation, type(exc).__name__, exc)
        return None


def _read(repo: Repository, digest: str, size: int) -> bytes:
    """A small blob, verified against its digest (and size) by the store's reader."""
    out = bytearray()
    buffer = bytearray(_CHUNK)
    with repo.open_blob(digest, size) as stream:
        while n := stream.readinto(buffer):
            out += memoryview(buffer)[:n]
    return bytes(out)
