"""Small I/O protocols the engine is written against: streams in, byte ranges for random access.

The engine never opens files by name: a layer is a :class:`Readable` (a file, an HTTP response
body, a decompressor), and random access goes through a :class:`RangeReader`.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from contextlib import suppress
from pathlib import Path
from typing import BinaryIO, Protocol, TypeVar, runtime_checkable

T = TypeVar("T")


@runtime_checkable
class Readable(Protocol):
    """A forward-only binary stream: ``readinto`` returns 0 only at end of stream."""

    def readinto(self, buffer: bytearray | memoryview, /) -> int: ...


@runtime_checkable
class Skippable(Readable, Protocol):
    """A Readable that can also discard bytes without copying them out: a decompressor that
    runs ahead into its own buffers (gzip/checkpoints.py), so the tar scanner passes over
    file data without a memory copy (docs/performance.md)."""

    def skip(self, size: int, /) -> int:
        """Discard up to ``size`` bytes; fewer only at end of stream. Returns the count."""
        ...


@runtime_checkable
class Lending(Skippable, Protocol):
    """A Skippable that can also lend its next bytes in place: the tar scanner parses headers
    straight out of the inflater's ring instead of copying every chunk into its own buffer
    first (docs/performance.md, "The tar scanner")."""

    def lend(self) -> memoryview:
        """A read-only view of the next bytes, which count as consumed: at least one byte,
        empty only at end of stream. Valid only until the next call of any method of the
        source (the bytes behind it are then reused), so a borrower copies what it keeps."""
        ...


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


def fill(source: Readable, view: memoryview) -> int:
    """Fill ``view`` from ``source``; fewer bytes only at end of stream (``readinto`` may stop
    short anywhere, as sockets and decompressors do). Returns the byte count."""
    got = 0
    size = len(view)
    while got < size and (n := source.readinto(view[got:])):
        got += n
    return got


def read_exactly(source: Readable, size: int) -> bytes:
    """Read ``size`` bytes or fewer at end of stream."""
    buf = bytearray(size)
    with memoryview(buf) as view:
        got = fill(source, view)
    del buf[got:]
    return bytes(buf)


def write_through_temp(
    directory: Path, prefix: str, write: Callable[[BinaryIO], T], final: Callable[[T], Path]
) -> T:
    """Write a file that appears whole or not at all: ``write`` fills a temporary file in
    ``directory``, which is then renamed to ``final(result)`` (atomic within one file
    system). On any failure the temporary file is removed; nothing partial stays behind."""
    try:
        fd, tmp = tempfile.mkstemp(prefix=prefix, dir=directory)
    except OSError as exc:  # name the directory, not a temporary name nobody asked for
        raise type(exc)(exc.errno, exc.strerror, str(directory)) from None
    try:
        with os.fdopen(fd, "wb") as file:
            result = write(file)
        Path(tmp).replace(final(result))
    except BaseException:
        with suppress(OSError):  # the original error is the one to report
            Path(tmp).unlink(missing_ok=True)
        raise
    return result


def write_atomically(path: Path, data: bytes, prefix: str = ".tmp-") -> None:
    """Write ``data`` to ``path`` so that a failure never leaves a partial file behind."""
    write_through_temp(path.parent, prefix, lambda file: file.write(data), lambda _: path)


def copy_stream(source: Readable, sink: BinaryIO, chunk_size: int = 1 << 20) -> int:
    """Copy ``source`` to ``sink`` through one reused buffer; returns the byte count."""
    buf = bytearray(chunk_size)
    view = memoryview(buf)
    total = 0
    while n := source.readinto(view):
        sink.write(view[:n])
        total += n
    return total
