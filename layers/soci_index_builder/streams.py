"""Small I/O protocols the engine is written against: streams in, byte ranges for random access.

The engine never opens files by name: a layer is a :class:`Readable` (a file, an HTTP response
body, a decompressor), and random access goes through a :class:`RangeReader`.
"""

from __future__ import annotations

from typing import BinaryIO, Protocol, runtime_checkable


@runtime_checkable
class Readable(Protocol):
    """A forward-only binary stream: ``readinto`` returns 0 only at end of stream."""

    def readinto(self, buffer: bytearray | memoryview, /) -> int: ...


@runtime_checkable
class RangeReader(Protocol):
    """Random access to a blob: the bytes ``[start, end)`` (shorter only at end of blob)."""

    def read_range(self, start: int, end: int, /) -> bytes: ...


class FileRangeReader:
    """RangeReader over a seekable binary file."""

    def __init__(self, file: BinaryIO) -> None:
        self._file = file

    def read_range(self, start: int, end: int) -> bytes:
        self._file.seek(start)
        return self._file.read(max(0, end - start))


class BytesRangeReader:
    """RangeReader over bytes in memory (tests, small blobs)."""

    def __init__(self, data: bytes) -> None:
        self._data = data

    def read_range(self, start: int, end: int) -> bytes:
        return self._data[start:end]


def read_exactly(source: Readable, size: int) -> bytes:
    """Read ``size`` bytes or fewer at end of stream."""
    buf = bytearray(size)
    view = memoryview(buf)
    got = 0
    while got < size:
        n = source.readinto(view[got:])
        if not n:
            break
        got += n
    del view
    del buf[got:]
    return bytes(buf)


def copy_stream(source: Readable, sink: BinaryIO, chunk_size: int = 1 << 20) -> int:
    """Copy ``source`` to ``sink`` through one reused buffer; returns the byte count."""
    buf = bytearray(chunk_size)
    view = memoryview(buf)
    total = 0
    while n := source.readinto(view):
        sink.write(view[:n])
        total += n
    return total
