"""zTOC decoder (soci-format.md section 2.4): untrusted bytes -> :class:`Ztoc`, bounds-checked."""

from __future__ import annotations

import struct

from soci_index_builder.ztoc._flatbuffers import Reader, ZtocFormatError
from soci_index_builder.ztoc.model import CompressionAlgorithm, CompressionInfo, FileMetadata, Ztoc

__all__ = ["ZtocFormatError", "decode_ztoc"]


def _read_entry(r: Reader, pos: int) -> FileMetadata:
    t = r.table(pos, "FileMetadata")
    pax = []
    for x in r.refs(t, 13, "xattrs vector"):
        xt = r.table(x, "Xattr")
        pax.append((r.string(xt, 0), r.string(xt, 1)))
    s, q = r.string, r.scalar
    return FileMetadata(
        s(t, 0), s(t, 1), q(t, 2, "q"), q(t, 3, "q"), s(t, 4), q(t, 5, "q"), q(t, 6, "I"),
        q(t, 7, "I"), s(t, 8), s(t, 9), s(t, 10), q(t, 11, "q"), q(t, 12, "q"), tuple(pax),
    )  # fmt: skip


def _read_compression_info(r: Reader, pos: int) -> CompressionInfo:
    t = r.table(pos, "CompressionInfo")
    code = r.scalar(t, 0, "b") if len(t[1]) and t[1][0] else 1  # schema default Gzip
    algorithm = {1: CompressionAlgorithm.GZIP, 2: CompressionAlgorithm.UNCOMPRESSED}.get(code)
    if algorithm is None:
        raise ZtocFormatError(f"unknown compression algorithm {code}")
    digests = tuple(r.text(p, "span digest") for p in r.refs(t, 2, "span_digests vector"))
    checkpoints = r.blob(r.ref(t, 3), "checkpoints")
    return CompressionInfo(algorithm, r.scalar(t, 1, "i"), digests, checkpoints)


def decode_ztoc(raw: bytes | bytearray | memoryview) -> Ztoc:
    """Parse a zTOC (section 2.4). Absent ``compression_algorithm`` reads as GZIP, as in soci.

    Raises :class:`ZtocFormatError` for anything that is not a well-formed zTOC buffer.
    """
    r = Reader(raw)
    try:
        t = r.root("Ztoc")
        toc, info = r.ref(t, 4), r.ref(t, 5)
        if not toc or not info:
            raise ZtocFormatError("zTOC has no toc or no compression_info")
        entries = tuple(_read_entry(r, p) for p in r.refs(r.table(toc, "TOC"), 0, "metadata"))
        return Ztoc(
            r.string(t, 0), r.string(t, 1), r.scalar(t, 2, "q"), r.scalar(t, 3, "q"),
            entries, _read_compression_info(r, info),
        )  # fmt: skip
    except (struct.error, IndexError, ValueError, OverflowError) as exc:
        raise ZtocFormatError(f"not a zTOC: {exc}") from None
