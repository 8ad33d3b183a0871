"""The gzip checkpoint blob stored in a zTOC's ``checkpoints`` field (soci-format.md 4.1).

Layout, little-endian and tightly packed: ``i32 n``, ``i64 span_size``, then per checkpoint
``i64 in``, ``i64 out``, ``u8 bits`` and the 32 KiB window. Every soci release writes "v2"
(checkpoint 0 included); readers also accept "v1", where checkpoint 0 was omitted and is
implied as ``in=10, out=0, bits=0`` with a zero window (soci's ``blob_to_zinfo``).
"""

from __future__ import annotations

import struct
from typing import TYPE_CHECKING

from ..errors import GzipFormatError
from .model import WINDOW_SIZE, Checkpoint

if TYPE_CHECKING:
    from collections.abc import Sequence

_HEADER = struct.Struct("<iq")
_RECORD = struct.Struct("<qqB")
#: Size of the blob header and of one packed checkpoint record (12 and 32785 bytes).
HEADER_SIZE = _HEADER.size
RECORD_SIZE = _RECORD.size + WINDOW_SIZE
_V1_CHECKPOINT_0 = Checkpoint(10, 0, 0, bytes(WINDOW_SIZE))


def zinfo_blob_size(count: int) -> int:
    """Length of a v2 blob holding ``count`` checkpoints."""
    return HEADER_SIZE + count * RECORD_SIZE


def encode_zinfo_blob(checkpoints: Sequence[Checkpoint], span_size: int) -> bytes:
    """Serialize ``checkpoints`` as a v2 blob, byte-identical to soci's ``zinfo_to_blob``."""
    parts = [_HEADER.pack(len(checkpoints), span_size)]
    for cp in checkpoints:
        if len(cp.window) != WINDOW_SIZE:
            raise ValueError(f"checkpoint window must be {WINDOW_SIZE} bytes, not {len(cp.window)}")
        parts.append(_RECORD.pack(cp.compressed_offset, cp.uncompressed_offset, cp.bits))
        parts.append(cp.window)
    return b"".join(parts)


def decode_zinfo_blob(blob: bytes) -> tuple[int, list[Checkpoint]]:
    """Parse a v2 or v1 blob into ``(span_size, checkpoints)``.

    The version is told apart by length alone, as soci does; any other length is rejected
    with :class:`GzipFormatError` (mirrors soci's ``TestNewGzipZinfo`` cases).
    """
    if len(blob) < HEADER_SIZE:
        raise GzipFormatError(f"gzip zinfo blob too short: {len(blob)} bytes")
    count, span_size = _HEADER.unpack_from(blob, 0)
    if count < 0:
        raise GzipFormatError(f"gzip zinfo blob claims {count} checkpoints")
    if len(blob) == zinfo_blob_size(count):
        checkpoints: list[Checkpoint] = []
    elif count > 0 and len(blob) == zinfo_blob_size(count - 1):
        checkpoints = [_V1_CHECKPOINT_0]
    else:
        raise GzipFormatError(
            f"gzip zinfo blob of {len(blob)} bytes does not hold {count} checkpoints"
        )
    view = memoryview(blob)
    for pos in range(HEADER_SIZE, len(blob), RECORD_SIZE):
        cin, cout, bits = _RECORD.unpack_from(blob, pos)
        start = pos + _RECORD.size
        checkpoints.append(Checkpoint(cin, cout, bits, bytes(view[start : start + WINDOW_SIZE])))
    return span_size, checkpoints
