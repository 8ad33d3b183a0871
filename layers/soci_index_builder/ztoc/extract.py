"""Random access through a zTOC, the way the snapshotter reads (soci-format.md 2.4, 4.4).

To read uncompressed bytes ``[o, o + n)`` of a gzip layer: fetch the compressed byte range of
the spans covering them, check each span's digest, and inflate from the checkpoint of the first
span. Uncompressed layers are read directly. This is the proof that the checkpoints work.
"""

from __future__ import annotations

import posixpath

from ..digest import sha256_digest
from ..errors import DigestMismatchError, SociError
from ..gzip.inflate import inflate_from_checkpoint
from ..gzip.zinfo_blob import decode_zinfo_blob
from ..streams import RangeReader
from .model import Checkpoint, CompressionAlgorithm, FileMetadata, Ztoc
from .spans import GzipSpans, Span, UncompressedSpans
from .tar_zinfo import decode_tar_zinfo


class EntryNotFoundError(SociError):
    """The path names no regular file in the zTOC."""


def clean_name(name: str) -> str:
    """The snapshotter's path normalization: ``./etc/``, ``/etc`` and ``etc/`` are all ``etc``."""
    return posixpath.normpath("/" + name).lstrip("/")


class ZtocReader:
    """Reads uncompressed ranges and files of one layer blob through its zTOC."""

    def __init__(self, ztoc: Ztoc, blob: RangeReader) -> None:
        self.ztoc = ztoc
        self._blob = blob
        self.checkpoints: list[Checkpoint] = []
        self.spans: GzipSpans | UncompressedSpans
        info, csize, usize = (
            ztoc.compression,
            ztoc.compressed_archive_size,
            ztoc.uncompressed_archive_size,
        )
        if info.algorithm is CompressionAlgorithm.UNCOMPRESSED:
            self.spans = UncompressedSpans(decode_tar_zinfo(info.checkpoints)[0], csize, usize)
        else:
            self.checkpoints = decode_zinfo_blob(info.checkpoints)[1]
            self.spans = GzipSpans(self.checkpoints, csize, usize)

    def find(self, path: str) -> FileMetadata:
        """The regular file named ``path`` (raw or cleaned); hard links resolve to their target."""
        wanted = clean_name(path)
        by_name = {clean_name(e.name): e for e in self.ztoc.entries}
        entry = by_name.get(wanted)
        for _ in range(len(by_name)):
            if entry is None or entry.type != "hardlink":
                break
            entry = by_name.get(clean_name(entry.linkname))
        if entry is None:
            raise EntryNotFoundError(f"no file {path!r} in the zTOC")
        if entry.type != "reg":
            target = f" to {entry.linkname!r}" if entry.linkname else ""
            raise EntryNotFoundError(f"{path!r} is a {entry.type}{target}, not a regular file")
        return entry

    def read_file(self, entry: FileMetadata) -> bytes:
        return self.read(entry.uncompressed_offset, entry.uncompressed_size)

    def read(self, offset: int, length: int) -> bytes:
        """Uncompressed bytes ``[offset, offset + length)`` of the layer's tar stream."""
        if length <= 0:
            return b""
        first = self.spans.span(self.spans.span_of(offset))
        last = self.spans.span(self.spans.span_of(offset + length - 1))
        data = self._blob.read_range(first.compressed_start, last.compressed_end)
        self._check_spans(data, first, last)
        skip = offset - first.uncompressed_start
        if not self.checkpoints:
            return data[skip : skip + length]
        return inflate_from_checkpoint(data, self.checkpoints[first.id], skip, length)

    def _check_spans(self, data: bytes, first: Span, last: Span) -> None:
        """Every fetched span must hash to its digest, as the snapshotter checks (2.4)."""
        for span in map(self.spans.span, range(first.id, last.id + 1)):
            chunk = data[
                span.compressed_start - first.compressed_start : span.compressed_end
                - first.compressed_start
            ]
            actual = sha256_digest(chunk)
            expected = self.ztoc.compression.span_digests[span.id]
            if actual != expected:
                raise DigestMismatchError(expected, actual, f"span {span.id}")


def extract_file(ztoc: Ztoc, blob: RangeReader, path: str) -> bytes:
    """The content of the regular file ``path``, read through the zTOC's checkpoints."""
    reader = ZtocReader(ztoc, blob)
    return reader.read_file(reader.find(path))
