"""TarZinfo: the "checkpoints" of an uncompressed layer (soci-format.md sections 2.2 and 4.5)."""

from __future__ import annotations

import struct

from soci_index_builder.ztoc._flatbuffers import Reader, Writer, ZtocFormatError, ZtocValueError

__all__ = ["TAR_ZINFO_VERSION", "decode_tar_zinfo", "encode_tar_zinfo"]

#: The only ``TarZinfo.version`` soci writes.
TAR_ZINFO_VERSION = 2


def encode_tar_zinfo(span_size: int, size: int) -> bytes:
    """``TarZinfo.Bytes``: Start(3), version, span_size, size (default 0 skipped), End, Finish."""
    w = Writer()
    fields = [(0, "i", TAR_ZINFO_VERSION)]
    if span_size:
        fields.append((1, "q", span_size))
    if size:
        fields.append((2, "q", size))
    try:
        return w.finish(w.table(3, fields))
    except struct.error as exc:
        raise ZtocValueError(f"TarZinfo field out of range: {exc}") from None


def decode_tar_zinfo(raw: bytes | bytearray | memoryview) -> tuple[int, int]:
    """Return ``(span_size, size)``; :class:`ZtocFormatError` unless a version-2 TarZinfo."""
    r = Reader(raw)
    try:
        t = r.root("TarZinfo")
        version, span_size, size = r.scalar(t, 0, "i"), r.scalar(t, 1, "q"), r.scalar(t, 2, "q")
    except (struct.error, IndexError, ValueError, OverflowError) as exc:
        raise ZtocFormatError(f"not a TarZinfo: {exc}") from None
    if version != TAR_ZINFO_VERSION:
        raise ZtocFormatError(f"unsupported TarZinfo version {version}")
    return span_size, size
