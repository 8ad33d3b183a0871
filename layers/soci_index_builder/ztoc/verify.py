"""Check a zTOC against its layer the way a careful reader would (soci-format.md 2.4).

Three checks, every violation collected rather than the first raised: the TOC is contiguous
(what the snapshotter requires at load), every span digest matches the blob, and every regular
file read through the checkpoints equals the same bytes read sequentially.
"""

from __future__ import annotations

import gzip as stdlib_gzip
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import BinaryIO, cast

from ..digest import sha256_digest
from ..errors import SociError
from ..streams import RangeReader
from .extract import ZtocReader
from .model import CompressionAlgorithm, FileMetadata, Ztoc

_PIECE = 4 << 20  # files are compared in pieces, so memory stays bounded for huge files


@dataclass
class VerifyReport:
    spans_checked: int = 0
    files_checked: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def verify_ztoc(ztoc: Ztoc, blob: RangeReader, layer: BinaryIO) -> VerifyReport:
    """Verify ``ztoc`` against the layer, given both random (``blob``) and sequential access."""
    report = VerifyReport()
    report.problems += toc_problems(ztoc.entries)
    reader = ZtocReader(ztoc, blob)
    _check_span_digests(ztoc, reader, blob, report)
    gzip = ztoc.compression.algorithm is not CompressionAlgorithm.UNCOMPRESSED
    stream: BinaryIO = layer
    if gzip:
        stream = cast(BinaryIO, stdlib_gzip.GzipFile(fileobj=layer, mode="rb"))
    try:
        _check_files(reader, stream, report)
    except (OSError, EOFError, zlib.error) as exc:  # the sequential read itself failed
        report.problems.append(f"reading the layer sequentially failed: {exc}")
    return report


def toc_problems(entries: Sequence[FileMetadata]) -> list[str]:
    """The snapshotter's load-time rule: entries sorted by offset describe every tar block."""
    problems = []
    next_header = 0
    for entry in sorted(entries, key=lambda e: e.uncompressed_offset):
        if next_header > entry.uncompressed_offset:
            problems.append(f"invalid toc entry {entry.name!r}: overlaps the previous entry")
        next_header = (entry.uncompressed_offset + entry.uncompressed_size + 511) & ~511
    return problems


def _check_span_digests(ztoc: Ztoc, reader: ZtocReader, blob: RangeReader, r: VerifyReport) -> None:
    info = ztoc.compression
    if len(info.span_digests) != info.max_span_id + 1 or len(reader.spans) != len(
        info.span_digests
    ):
        r.problems.append(
            f"{len(info.span_digests)} span digests and {len(reader.spans)} spans "
            f"for max span id {info.max_span_id}"
        )
    for span in map(reader.spans.span, range(min(len(reader.spans), len(info.span_digests)))):
        data = blob.read_range(span.compressed_start, span.compressed_end)
        actual = sha256_digest(data)
        r.spans_checked += 1
        if actual != info.span_digests[span.id]:
            r.problems.append(
                f"span {span.id} [{span.compressed_start}, {span.compressed_end}): "
                f"digest {actual} != {info.span_digests[span.id]}"
            )


def _check_files(reader: ZtocReader, stream: BinaryIO, r: VerifyReport) -> None:
    position = 0
    regular = [e for e in reader.ztoc.entries if e.type == "reg"]
    for entry in sorted(regular, key=lambda e: e.uncompressed_offset):
        if entry.uncompressed_offset < position:
            continue  # overlapping entries are already reported by toc_problems
        _read(stream, entry.uncompressed_offset - position)
        position = entry.uncompressed_offset
        if not _same_content(reader, stream, entry, r):
            r.problems.append(f"{entry.name!r}: content through the checkpoints differs")
        position += entry.uncompressed_size
        r.files_checked += 1


def _read(stream: BinaryIO, size: int) -> bytes:
    parts = []
    while size > 0 and (chunk := stream.read(min(size, _PIECE))):
        parts.append(chunk)
        size -= len(chunk)
    return b"".join(parts)


def _same_content(
    reader: ZtocReader, stream: BinaryIO, entry: FileMetadata, r: VerifyReport
) -> bool:
    done = 0
    same = True
    while done < entry.uncompressed_size:
        n = min(_PIECE, entry.uncompressed_size - done)
        expected = _read(stream, n)
        try:
            got = reader.read(entry.uncompressed_offset + done, n)
        except SociError as exc:
            r.problems.append(f"{entry.name!r}: {exc}")
            got = b""
        same = same and got == expected
        done += n
    return same
