"""Build a zTOC from a layer stream in one pass (soci-format.md sections 2-4).

soci reads a layer three times and inflates it twice; here the compressed bytes flow once
through a chain of readers, each doing one job::

    source -> DigestingReader (layer digest, verified at EOF)
           -> GzipCheckpointer (inflate, checkpoints, span digests)   [gzip]
              or FixedSpanHasher (span digests of fixed-size spans)    [uncompressed]
           -> TarScanner (TOC entries, archive size), then drained to the end

No zTOC is returned unless the whole blob was read and its digest verified.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import NamedTuple

from ..digest import DigestingReader, hash_digest, sha256_digest
from ..errors import ConfigError, SkipReason, UnsupportedLayerError
from ..gzip.backend import DEFAULT_BACKEND, InflateBackend
from ..gzip.checkpoints import GzipCheckpointer
from ..gzip.zinfo_blob import encode_zinfo_blob
from ..streams import Readable, Skippable
from ..tar.scanner import Toc, read_toc
from .codec import encode_ztoc
from .model import (
    DEFAULT_BUILD_TOOL_IDENTIFIER,
    DEFAULT_SPAN_SIZE,
    ZTOC_VERSION,
    CompressionAlgorithm,
    CompressionInfo,
    Ztoc,
)
from .tar_zinfo import encode_tar_zinfo

_GZIP_MAGIC = b"\x1f\x8b"
_ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
_DRAIN_CHUNK = 1 << 20


class BuiltZtoc(NamedTuple):
    """A zTOC with its encoding and the facts about the layer it was built from."""

    ztoc: Ztoc
    raw: bytes
    digest: str
    size: int
    layer_digest: str
    compressed_size: int


def detect_compression(head: bytes) -> CompressionAlgorithm:
    """Compression from a layer's first bytes; zstd is reported as not indexable (section 4.6)."""
    if head.startswith(_GZIP_MAGIC):
        return CompressionAlgorithm.GZIP
    if head.startswith(_ZSTD_MAGIC):
        raise UnsupportedLayerError(
            "zstd layer: SOCI indexes only gzip and uncompressed layers", SkipReason.ZSTD
        )
    return CompressionAlgorithm.UNCOMPRESSED


def build_ztoc(
    source: Readable,
    *,
    compression: CompressionAlgorithm,
    span_size: int = DEFAULT_SPAN_SIZE,
    build_tool_identifier: str = DEFAULT_BUILD_TOOL_IDENTIFIER,
    expected_digest: str | None = None,
    expected_size: int | None = None,
    source_verifies: bool = False,
    on_progress: Callable[[int], None] | None = None,
    backend: InflateBackend = DEFAULT_BACKEND,
) -> BuiltZtoc:
    """Stream ``source`` (the layer blob) once and return its zTOC.

    Raises LayerFormatError (bad gzip/tar), UnsupportedTarEntryError (entries soci rejects),
    DigestMismatchError (``expected_digest``/``expected_size`` given and not matched).
    ``source_verifies``: the source already checks ``expected_digest`` at EOF (a store's
    verified blob stream), so the layer is not hashed twice. ``backend``: the inflate library
    (gzip/backend.py; the zTOC is the same with any). A build leaves no state in the process
    (docs/performance.md): every cache lives in the scan's own scope object.
    """
    if span_size < 0 or (span_size == 0 and compression is CompressionAlgorithm.UNCOMPRESSED):
        raise ConfigError(f"span size must be positive, got {span_size}")
    layer: DigestingReader | _VerifiedSource
    if source_verifies and expected_digest:
        layer = _VerifiedSource(source, expected_digest)
    else:
        layer = DigestingReader(source, expected_digest, expected_size, what="layer")
    blob: Readable = layer if on_progress is None else _ProgressReader(layer, on_progress)
    if compression is CompressionAlgorithm.GZIP:
        toc, info = _index_gzip(blob, span_size, backend)
    else:
        toc, info = _index_uncompressed(blob, span_size, layer)
    ztoc = Ztoc(
        version=ZTOC_VERSION,
        build_tool_identifier=build_tool_identifier,
        compressed_archive_size=layer.bytes_read,
        uncompressed_archive_size=toc.archive_size,
        entries=toc.entries,
        compression=info,
    )
    raw = encode_ztoc(ztoc)
    return BuiltZtoc(ztoc, raw, sha256_digest(raw), len(raw), layer.digest, layer.bytes_read)


def _index_gzip(
    blob: Readable, span_size: int, backend: InflateBackend
) -> tuple[Toc, CompressionInfo]:
    # The context manager stops the checkpointer's threads on any error.
    with GzipCheckpointer(blob, span_size, backend=backend) as inflater:
        toc = read_toc(inflater)
        _drain(inflater)
    return toc, CompressionInfo(
        algorithm=CompressionAlgorithm.GZIP,
        max_span_id=len(inflater.checkpoints) - 1,
        span_digests=tuple(inflater.span_digests),
        checkpoints=encode_zinfo_blob(inflater.checkpoints, span_size),
    )


def _index_uncompressed(
    blob: Readable, span_size: int, layer: DigestingReader | _VerifiedSource
) -> tuple[Toc, CompressionInfo]:
    spans = FixedSpanHasher(blob, span_size)
    toc = read_toc(spans)
    _drain(spans)
    return toc, CompressionInfo(
        algorithm=CompressionAlgorithm.UNCOMPRESSED,
        max_span_id=len(spans.span_digests) - 1,
        span_digests=tuple(spans.span_digests),
        checkpoints=encode_tar_zinfo(span_size, layer.bytes_read),
    )


class FixedSpanHasher:
    """Pass-through reader that digests fixed-size spans of an uncompressed layer (section 4.5)."""

    def __init__(self, source: Readable, span_size: int) -> None:
        self._source = source
        self._span_size = span_size
        self._room = span_size
        self._hash = hashlib.sha256()
        self._pending = False
        self.span_digests: list[str] = []

    def readinto(self, buffer: bytearray | memoryview) -> int:
        n = self._source.readinto(buffer)
        view = memoryview(buffer)[:n]
        while view:
            take = min(self._room, len(view))
            self._hash.update(view[:take])
            self._pending = True
            view = view[take:]
            self._room -= take
            if self._room == 0:
                self._close_span()
        if n == 0 and self._pending:
            self._close_span()
        return n

    def _close_span(self) -> None:
        self.span_digests.append(hash_digest(self._hash))
        self._hash = hashlib.sha256()
        self._room = self._span_size
        self._pending = False


class _VerifiedSource:
    """Counts the bytes of a source that verifies its own digest (no second sha256 pass)."""

    def __init__(self, source: Readable, digest: str) -> None:
        self._source = source
        self.digest = digest
        self.bytes_read = 0

    def readinto(self, buffer: bytearray | memoryview) -> int:
        n = self._source.readinto(buffer)
        self.bytes_read += n
        return n


class _ProgressReader:
    """Reports the running count of bytes read to a callback (CLI progress, Lambda logs)."""

    def __init__(
        self, inner: DigestingReader | _VerifiedSource, callback: Callable[[int], None]
    ) -> None:
        self._inner = inner
        self._callback = callback

    def readinto(self, buffer: bytearray | memoryview) -> int:
        n = self._inner.readinto(buffer)
        self._callback(self._inner.bytes_read)
        return n


def _drain(stream: Readable) -> None:
    """Read ``stream`` to its end: checkpoints past the tar end and the digest check need it."""
    if isinstance(stream, Skippable):
        while stream.skip(_DRAIN_CHUNK):
            pass
        return
    scratch = memoryview(bytearray(_DRAIN_CHUNK))
    while stream.readinto(scratch):
        pass
