"""Compressed input for the checkpointer: read-ahead and span digests off the inflate thread.

Two helper threads keep the inflater busy (soci-format.md 4.4 for the digests): a reader
fills pooled buffers from the source (so a DigestingReader's layer hash and network waits run
beside inflate), and a hasher digests each consumed buffer's bytes into per-span sha256s.
``ctypes`` and ``hashlib`` both release the GIL, so the three overlap on a 2-vCPU machine.
Memory is bounded by the pool: ``buffers x chunk_size`` bytes. ``threaded=False`` does the
same work inline (for profiling and for environments without threads to spare).
"""

from __future__ import annotations

import ctypes
import hashlib
import mmap
import queue
import threading
from typing import TYPE_CHECKING

from ..digest import hash_digest
from ..streams import fill

if TYPE_CHECKING:
    from ..streams import Readable

#: A span cut inside a chunk: (offset of checkpoint ``in`` in the chunk, 1 if bits else 0).
Cut = tuple[int, int]
_STOP = -1


class _Closed(RuntimeError):
    """What ``next`` raises once the feed was closed under a waiting inflater."""


def buffer_address(buffer: bytearray | mmap.mmap) -> int:
    """Address of a buffer's storage, for zlib (valid while its size stays fixed)."""
    return ctypes.addressof((ctypes.c_char * len(buffer)).from_buffer(buffer))


def mapped_buffer(size: int) -> mmap.mmap:
    """``size`` zero bytes of private anonymous memory: an input chunk or a ring buffer.

    Mapped memory goes back to the OS as soon as the buffer is freed. Heap bytearrays of
    several MiB may not: once glibc frees such a block it raises its mmap threshold and serves
    the next ones from per-thread arenas, and a warm Lambda would carry them from build to
    build (docs/performance.md, "No process-wide state").
    """
    return mmap.mmap(-1, size, flags=mmap.MAP_PRIVATE)


class SpanHasher:
    """sha256 of compressed ranges ``[in_i - shared_i, in_{i+1})``, fed chunk by chunk in order.

    The byte before a mid-byte checkpoint belongs to both spans; when it sits at the end of
    the previous chunk it is the only byte remembered from it.
    """

    def __init__(self) -> None:
        self.digests: list[str] = []
        self._hash: hashlib._Hash | None = None
        self._prev_byte = b""

    def feed(self, view: memoryview, n: int, cuts: list[Cut]) -> None:
        """Hash the first ``n`` bytes of ``view``; each cut closes a span and opens the next."""
        pos = 0
        for rel, shared in cuts:
            if self._hash is not None:
                self._hash.update(view[pos:rel])
                self.digests.append(hash_digest(self._hash))
            self._hash = hashlib.sha256()
            pos = rel - shared
            if pos < 0:
                self._hash.update(self._prev_byte)
                pos = 0
        if self._hash is not None:
            self._hash.update(view[pos:n])
        self._prev_byte = bytes(view[n - 1 : n])

    def finish(self) -> list[str]:
        """Close the last span at the blob end and return every digest."""
        if self._hash is not None:
            self.digests.append(hash_digest(self._hash))
            self._hash = None
        return self.digests


class ChunkFeed:
    """Hands out filled input chunks in order; takes them back, with their cuts, to hash."""

    def __init__(
        self, source: Readable, chunk_size: int, *, threaded: bool = True, buffers: int = 4
    ) -> None:
        self._source = source
        count = buffers if threaded else 1
        self._bufs = [mapped_buffer(chunk_size) for _ in range(count)]
        # The views pin each buffer: it cannot be resized (moved) while the feed lives.
        self._views = [memoryview(b) for b in self._bufs]
        self._addrs = [buffer_address(b) for b in self._bufs]
        self._hasher = SpanHasher()
        self._current = (0, 0)
        self._threads: list[threading.Thread] = []
        self._free: queue.SimpleQueue[int] = queue.SimpleQueue()
        self._filled: queue.SimpleQueue[tuple[int, int] | BaseException] = queue.SimpleQueue()
        self._hashq: queue.SimpleQueue[tuple[int, int, list[Cut]] | None] = queue.SimpleQueue()
        self._stopped = threading.Event()
        if threaded:
            for i in range(count):
                self._free.put(i)
            self._threads = [
                threading.Thread(target=self._read_loop, name="gzip-reader", daemon=True),
                threading.Thread(target=self._hash_loop, name="gzip-hasher", daemon=True),
            ]
            for t in self._threads:
                t.start()

    def next(self) -> tuple[int, int]:
        """Address and length of the next chunk of the blob; length 0 at end of blob."""
        if self._threads:
            item = self._filled.get()
            if isinstance(item, BaseException):
                raise item
            index, n = item
        else:
            index, n = 0, self._fill(self._views[0])
        self._current = (index, n)
        return self._addrs[index], n

    def release(self, cuts: list[Cut]) -> None:
        """The current chunk is consumed: hash it, with the span cuts found inside it."""
        index, n = self._current
        if not n:
            return
        if self._threads:
            self._hashq.put((index, n, cuts))
        else:
            self._hasher.feed(self._views[index], n, cuts)
        self._current = (index, 0)

    def finish(self) -> list[str]:
        """Wait for the hasher (after end of blob) and return the span digests."""
        if self._threads:
            self._hashq.put(None)
            self._threads[1].join()
            self._threads = []
        return self._hasher.finish()

    def close(self) -> None:
        """Let the helper threads exit (idempotent; also called on errors and abandonment)."""
        self._stopped.set()
        self._free.put(_STOP)
        self._hashq.put(None)
        self._filled.put(_Closed("gzip input closed"))  # wakes an inflater waiting in next()

    def _fill(self, view: memoryview) -> int:
        """Fill ``view`` from the source (fewer bytes only at end of blob)."""
        return fill(self._source, view)

    def _read_loop(self) -> None:
        while (index := self._free.get()) != _STOP and not self._stopped.is_set():
            try:
                n = self._fill(self._views[index])
            except BaseException as exc:  # handed to the consuming thread
                self._filled.put(exc)
                return
            self._filled.put((index, n))
            if not n:
                return

    def _hash_loop(self) -> None:
        while (item := self._hashq.get()) is not None:
            index, n, cuts = item
            self._hasher.feed(self._views[index], n, cuts)
            self._free.put(index)
