"""The zTOC catalogue: where a zTOC with a given key was already built (docs/reuse.md).

A zTOC is a pure function of (layer digest, span size, build-tool identifier, compression),
so one built before, in any repository of the registry, can stand in for a fresh build. The
catalogue only remembers *where* it is; every entry is verified against the blob itself
before use (:mod:`.reuse`), so a stale or wrong entry costs a rebuild, never a bad index.
Backends: :mod:`.sqlite` (the CLI's cache file), :mod:`.previous` (the previous output in the
same repository, always on) and the Lambda's DynamoDB table (``functions/indexer``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol

from ...oci.model import Descriptor


@dataclass(frozen=True)
class ZtocKey:
    """Everything a zTOC's bytes depend on.

    ``compression`` is the *source* layer's (``gzip``, ``uncompressed`` or ``zstd``): a zstd
    layer is recompressed to gzip first, so its entry also names the gzip replacement.
    """

    layer_digest: str
    span_size: int
    build_tool: str
    compression: str


@dataclass(frozen=True)
class CatalogueEntry:
    """A built zTOC: its blob and the repository (``Repository.name``) that holds it."""

    ztoc_digest: str
    ztoc_size: int
    where: str
    #: The gzip layer that replaced a zstd source (``--recompress-zstd``), pushed next to it.
    replacement: Descriptor | None = None


class Catalogue(Protocol):
    """The one interface of every backend. Implementations must be thread-safe."""

    def lookup(self, key: ZtocKey) -> CatalogueEntry | None:
        """The recorded zTOC for ``key``, or None."""
        ...

    def record(self, key: ZtocKey, entry: CatalogueEntry) -> None:
        """Remember ``entry`` for ``key`` (the last writer wins: entries are interchangeable)."""
        ...

    def drop(self, key: ZtocKey) -> None:
        """Forget ``key``: its entry pointed at a missing or different blob."""
        ...


class MemoryCatalogue:
    """A dict: the previous-output backend's view, and a catalogue for tests and benchmarks."""

    def __init__(self, entries: Iterable[tuple[ZtocKey, CatalogueEntry]] = ()) -> None:
        self._entries = dict(entries)

    def lookup(self, key: ZtocKey) -> CatalogueEntry | None:
        return self._entries.get(key)

    def record(self, key: ZtocKey, entry: CatalogueEntry) -> None:
        self._entries[key] = entry

    def drop(self, key: ZtocKey) -> None:
        self._entries.pop(key, None)


class ChainedCatalogue:
    """Ask each catalogue in turn; record to and drop from all of them."""

    def __init__(self, *catalogues: Catalogue) -> None:
        self._catalogues = catalogues

    def lookup(self, key: ZtocKey) -> CatalogueEntry | None:
        for catalogue in self._catalogues:
            entry = catalogue.lookup(key)
            if entry is not None:
                return entry
        return None

    def record(self, key: ZtocKey, entry: CatalogueEntry) -> None:
        for catalogue in self._catalogues:
            catalogue.record(key, entry)

    def drop(self, key: ZtocKey) -> None:
        for catalogue in self._catalogues:
            catalogue.drop(key)
