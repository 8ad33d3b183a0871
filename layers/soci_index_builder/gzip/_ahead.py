"""Inflate ahead of the consumer: a producer thread fills a small ring of output buffers.

The zTOC build is inflate (C, GIL released) followed by tar parsing (pure Python) on the
same bytes. Run serially they add up; here a producer thread inflates into the next free
buffer of the ring while the consumer reads a filled one (``readinto`` copies out of it,
``lend`` hands it out in place), so on two cores the build costs about as much as the inflate
alone. Memory is bounded by the ring: ``buffers x buffer_size`` bytes. The producer never
references the object that owns the ring, so an abandoned reader is still garbage-collected
and its finalizer stops the thread.

Work that need not delay the producer (the checkpointer's CRC-32 of each member's data) is
done by ``take`` on the consumer's thread, once per filled buffer, before its bytes are read.
"""

from __future__ import annotations

import mmap
import queue
import threading
from collections.abc import Callable
from typing import Generic, TypeVar

from ._feed import buffer_address, mapped_buffer

#: What the producer tells the consumer about a filled buffer (opaque here).
N = TypeVar("N")
#: ``fill(addr, size)`` writes up to ``size`` bytes at ``addr``: fewer only at end of stream or
#: when an error stopped it, returned alongside (the bytes before the error are still good),
#: and a note for ``take``.
Fill = Callable[[int, int], tuple[int, BaseException | None, N]]
#: ``take(addr, length, note)`` on the consumer's thread, before a filled buffer is read: how
#: many of its bytes are good, and the error to raise once they are read (None: all good).
Take = Callable[[int, int, N], tuple[int, BaseException | None]]
#: A filled buffer ``(index, length, note)``, the producer's error, or None for end of stream.
_Item = tuple[int, int, N] | BaseException | None
_STOP = -1


class InflateAhead(Generic[N]):
    """A Readable over ``fill``, run ``buffers`` buffers ahead in a thread named ``name``.

    ``readinto`` fills the whole request or raises: an error surfaces from the first read (or
    ``lend``) that needs bytes at or past the point where ``fill`` failed (or ``take`` found one),
    exactly as if ``fill`` had been called inline with the caller's buffer. ``on_exit`` runs on
    the producer thread when it stops (end of stream, error or ``close``), to free what
    ``fill`` used.
    """

    def __init__(
        self,
        fill: Fill[N],
        on_exit: Callable[[], None],
        *,
        take: Take[N] | None = None,
        buffers: int = 4,
        buffer_size: int = 1 << 20,
        name: str = "gzip-inflater",
    ) -> None:
        self._bufs = [mapped_buffer(buffer_size) for _ in range(buffers)]
        # The views pin each buffer: it cannot be resized (moved) while the ring lives.
        self._views = [memoryview(b) for b in self._bufs]
        self._addrs = [buffer_address(b) for b in self._bufs]
        self._take = take
        self._failed: BaseException | None = None
        self._free: queue.SimpleQueue[int] = queue.SimpleQueue()
        self._filled: queue.SimpleQueue[_Item[N]] = queue.SimpleQueue()
        self._stopped = threading.Event()
        for i in range(buffers):
            self._free.put(i)
        self._current = -1
        self._pos = self._end = 0
        self._eof = False
        args = (fill, on_exit, self._bufs, self._addrs, self._free, self._filled, self._stopped)
        self._thread = threading.Thread(target=_produce, args=args, name=name, daemon=True)
        self._thread.start()

    def readinto(self, view: memoryview, /) -> int:
        """Copy decompressed bytes into ``view``: all of it, or fewer only at end of stream."""
        return self._consume(len(view), view)

    def skip(self, size: int, /) -> int:
        """Discard ``size`` decompressed bytes (fewer only at end of stream), copying none."""
        return self._consume(size, None)

    def lend(self) -> memoryview:
        """The rest of the current filled buffer, read-only and consumed (empty only at end of
        stream); valid until the next call, which may hand the buffer back to the producer."""
        while self._pos == self._end:  # a buffer may hold no bytes, only a note for take
            if not self._advance():
                return memoryview(b"")
        start, self._pos = self._pos, self._end
        return self._views[self._current][start : self._end].toreadonly()

    def _consume(self, size: int, view: memoryview | None) -> int:
        got = 0
        while got < size:
            if self._pos == self._end and not self._advance():
                break
            n = min(size - got, self._end - self._pos)
            if view is not None:
                view[got : got + n] = self._views[self._current][self._pos : self._pos + n]
            self._pos += n
            got += n
        return got

    def close(self) -> None:
        """Ask the producer to stop (idempotent, does not wait; it may be inside ``fill``)."""
        self._stopped.set()
        self._free.put(_STOP)

    def _advance(self) -> bool:
        """Hand the drained buffer back and take the next filled one; False at end of stream."""
        if self._failed is not None:  # found by take: raised once the good bytes were read
            raise self._failed
        if self._eof:
            return False
        if self._current >= 0:
            self._free.put(self._current)
            self._current = -1
        item = self._filled.get()
        if item is None:
            self._eof = True
            return False
        if isinstance(item, BaseException):
            self._filled.put(item)  # a failed stream stays failed
            raise item
        self._current, self._end, note = item
        self._pos = 0
        if self._take is not None:
            self._end, self._failed = self._take(self._addrs[self._current], self._end, note)
            if self._failed is not None and not self._end:
                raise self._failed
        return True


def _produce(
    fill: Fill[N],
    on_exit: Callable[[], None],
    bufs: list[mmap.mmap],
    addrs: list[int],
    free: queue.SimpleQueue[int],
    filled: queue.SimpleQueue[_Item[N]],
    stopped: threading.Event,
) -> None:
    """Producer loop: fill free buffers in order until end of stream, an error or ``close``.

    It holds ``bufs`` itself: an abandoned InflateAhead may be freed while ``fill`` writes.
    """
    size = len(bufs[0])
    try:
        while (index := free.get()) != _STOP and not stopped.is_set():
            try:
                n, error, note = fill(addrs[index], size)
            except BaseException as exc:  # a bug in fill: still never leave the reader waiting
                filled.put(exc)
                return
            if n or note:  # a note may concern the bytes before this buffer (a CRC to check)
                filled.put((index, n, note))
            if error is not None:
                filled.put(error)
                return
            if n < size:
                filled.put(None)
                return
    finally:
        on_exit()
