"""Inflate a gzip layer once, placing soci's checkpoints and digesting its spans on the way.

Placement follows soci's ``generate_zinfo_from_fp`` (soci-format.md 4.2, with the v0.14
multi-member rules of 4.3): a checkpoint at every deflate block boundary (or just after a
member header) that is not the end of a member's last block, where ``out == 0`` or
``out - last > span``. Only boundaries past ``last + span`` can qualify, so inflate runs with
``Z_NO_FLUSH`` and ``avail_out`` capped at that point, and with ``Z_BLOCK`` only beyond it
(soci-format.md 4.2): same checkpoints, far fewer calls. Windows come from our own history of
the last 32 KiB of output, which spans members and never resets (4.2). zlib's own window
(``inflateGetDictionary``) cannot serve: it is reset per member, and zlib leaves out of it the
output of the call that checks a member's trailer.

The CRC-32 of each member's data is not computed on the inflate thread, the critical path of a
build: once a member's header is read (and its header CRC checked by the library),
``inflateValidate(0)`` turns the library's data check off; the trailer's length is checked
here and its CRC-32 by :class:`_DataCheck`, on the reader's thread, over each filled buffer
before its bytes are read. Errors and their offsets are the library's (docs/performance.md,
"The data check off the inflate thread").
"""

from __future__ import annotations

import ctypes
import struct
import weakref
from collections.abc import Callable
from typing import TYPE_CHECKING

from ..errors import GzipFormatError
from ._ahead import InflateAhead
from ._feed import ChunkFeed, Cut
from ._zlib import (
    DT_BITS_MASK,
    DT_BOUNDARY,
    DT_LAST_BLOCK,
    WBITS_GZIP,
    Z_BLOCK,
    Z_BUF_ERROR,
    Z_NO_FLUSH,
    Z_OK,
    Z_STREAM_END,
)
from .backend import DEFAULT_BACKEND, InflateBackend
from .inflate import open_stream, zlib_message
from .model import WINDOW_SIZE, Checkpoint

if TYPE_CHECKING:
    from ..streams import Readable

_INFLATING, _MEMBER_END, _DONE = range(3)
#: A member's end within a filled range: its offset there, the CRC-32 its trailer gives, and
#: the compressed offset at which the library would have reported a mismatch.
MemberEnd = tuple[int, int, int]
Ends = tuple[MemberEnd, ...]
_TRAILER = struct.Struct("<II")  # CRC-32, ISIZE (RFC 1952 2.3.1)
_BOUNDARY_MASK = DT_BOUNDARY | DT_LAST_BLOCK
#: Reads smaller than this are served from an internal buffer, so a caller reading tar
#: headers 512 bytes at a time does not turn into one inflate call per header.
_SMALL_READ = 1 << 16
#: Input chunks and output buffers are large so that the inflate thread returns to Python (and
#: must take the GIL back, docs/performance.md "The inflate thread and the GIL") rarely: a few
#: hundred times per 500 MB layer instead of over a thousand.
_INPUT_CHUNK = 1 << 21
#: Output ring of the threaded mode (16 MiB): enough to ride out the consumer's slow stretches
#: (a run of small tar entries), small enough for the Lambda memory budget.
_AHEAD_BUFFERS = 4
_AHEAD_SIZE = 1 << 22
#: zlib's messages for a bad gzip header (inflate.c), to tell garbage from corrupt data.
_HEADER_ERRORS = frozenset(
    {"incorrect header check", "unknown compression method", "unknown header flags set"}
)


class GzipCheckpointer:
    """A Readable of the decompressed bytes of all gzip members, back to back (4.3).

    After end of stream: ``checkpoints``, ``span_digests``, ``compressed_size`` and
    ``uncompressed_size`` describe the blob. Bad input raises GzipFormatError with the
    compressed offset. ``threaded`` moves input reading, span hashing and inflation itself to
    helper threads (inflating up to a 16 MiB ring ahead of the caller): from
    construction on, ``source`` is read ahead (at most 4 input chunks) from another thread, so
    nothing else may read it, and its exceptions surface from ``readinto`` here, in order.
    ``backend`` is the inflate library (gzip/backend.py); every backend gives the same result.
    """

    def __init__(
        self,
        source: Readable,
        span_size: int,
        *,
        threaded: bool = True,
        chunk_size: int = _INPUT_CHUNK,
        backend: InflateBackend = DEFAULT_BACKEND,
    ) -> None:
        if span_size < 0:
            raise ValueError(f"span size must not be negative, got {span_size}")
        feed = ChunkFeed(source, chunk_size, threaded=threaded)
        self._core = _Inflater(feed, span_size, backend)
        self._check = _DataCheck(backend.crc32)
        self._ahead: InflateAhead[Ends] | None = None
        if threaded:
            self._ahead = InflateAhead(
                self._core.fill,
                self._core.free,
                take=self._check,
                buffers=_AHEAD_BUFFERS,
                buffer_size=_AHEAD_SIZE,
            )
        self._finalizer = weakref.finalize(self, _stop, self._ahead, self._core)
        self._small = bytearray(_SMALL_READ)
        self._small_view = memoryview(self._small)
        self._small_pos = self._small_end = 0
        self._error: BaseException | None = None
        self._at_end = False
        self.checkpoints = self._core.checkpoints

    @property
    def span_digests(self) -> list[str]:
        """``sha256:<hex>`` of each span's compressed bytes (4.4); complete only after EOF."""
        if not self._at_end or self._core.digests is None:  # the inflater may be done before
            raise RuntimeError("span digests are known only after the stream was read to its end")
        return self._core.digests

    @property
    def compressed_size(self) -> int:
        """Compressed bytes consumed so far: the blob size after EOF."""
        return self._core.totin

    @property
    def uncompressed_size(self) -> int:
        """Decompressed bytes produced so far (maybe ahead of the reads): after EOF, all."""
        return self._core.totout

    def close(self) -> None:
        """Free zlib state and stop the helper threads (also done when garbage-collected)."""
        self._finalizer()

    def __enter__(self) -> GzipCheckpointer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def readinto(self, buffer: bytearray | memoryview, /) -> int:
        """Fill ``buffer`` with decompressed bytes; 0 only once every member was read."""
        view = memoryview(buffer).cast("B")
        return self._take(len(view), view) if len(view) else 0

    def skip(self, size: int, /) -> int:
        """Discard ``size`` decompressed bytes (fewer only at end of stream); in threaded mode
        they are never copied out of the ring (the tar scanner passing over file data)."""
        done = 0
        while done < size and (n := self._take(size - done, None)):
            done += n
        return done

    def _take(self, size: int, view: memoryview | None) -> int:
        """Up to ``size`` bytes into ``view`` (None: discarded): first those left in the
        small-read buffer, else straight from the inflater for large reads and skips."""
        if self._error is not None:
            raise self._error
        try:
            buffered = self._small_end - self._small_pos
            if not buffered:
                if view is None:
                    return self._discard(size)
                if size >= _SMALL_READ:
                    return self._read(view)
                self._small_pos = 0
                self._small_end = buffered = self._read(self._small_view)
            n = min(size, buffered)
            if view is not None:
                view[:n] = self._small_view[self._small_pos : self._small_pos + n]
            self._small_pos += n
            return n
        except BaseException as exc:
            self._fail(exc)
            raise

    def lend(self) -> memoryview:
        """The next decompressed bytes in place, read-only and consumed (empty only once every
        member was read), valid until the next call: what is left in the small-read buffer,
        else the rest of a ring buffer (threaded), else a small-read buffer's worth inflated
        (inline). The tar scanner parses headers in them without copying (streams.Lending)."""
        if self._error is not None:
            raise self._error
        try:
            start, end = self._small_pos, self._small_end
            if start == end:
                if self._ahead is not None:
                    view = self._ahead.lend()
                    self._at_end = not view
                    return view
                start, end = 0, self._read(self._small_view)
            self._small_pos = self._small_end = end
            return self._small_view[start:end].toreadonly()
        except BaseException as exc:
            self._fail(exc)
            raise

    def _fail(self, exc: BaseException) -> None:
        """A failed stream stays failed: every later call raises ``exc``; stop the threads."""
        self._error = exc
        self.close()

    def _read(self, view: memoryview) -> int:
        """All of ``view`` (fewer bytes only at end of stream) or the error that came first."""
        if self._ahead is not None:
            n = self._ahead.readinto(view)
        else:
            target = (ctypes.c_char * len(view)).from_buffer(view)
            addr = ctypes.addressof(target)
            n, error, ends = self._core.fill(addr, len(view))
            error = self._check(addr, n, ends)[1] or error
            if error is not None:
                raise error
        self._at_end = n < len(view)
        return n

    def _discard(self, size: int) -> int:
        """Skip ``size`` bytes in the ring (threaded), or inflate them into the small-read
        buffer as scratch (inline: nothing runs ahead to skip in)."""
        if self._ahead is None:
            return self._read(self._small_view[: min(size, _SMALL_READ)])
        n = self._ahead.skip(size)
        self._at_end = n < size
        return n


class _DataCheck:
    """The CRC-32 of each member's data, fed the inflated bytes in order (RFC 1952 2.3.1).

    Called with each filled range and the member ends in it, on the reader's thread; the
    library's ``crc32`` releases the GIL, so the inflate thread is not held up. Returns how
    many bytes of the range are good and the error to raise after them: zlib's own, at zlib's
    offset, for the first member whose data does not match its trailer.
    """

    def __init__(self, crc32: Callable[[int, int, int], int]) -> None:
        self._crc32 = crc32
        self._crc = 0  # of the current member's data so far

    def __call__(self, addr: int, n: int, ends: Ends) -> tuple[int, GzipFormatError | None]:
        pos = 0
        for end, expected, offset in ends:
            if self._crc32(self._crc, addr + pos, end - pos) != expected:
                return end, GzipFormatError(
                    "corrupt deflate data: incorrect data check", offset=offset
                )
            self._crc, pos = 0, end
        self._crc = self._crc32(self._crc, addr + pos, n - pos)
        return n, None


class _Inflater:
    """The inflate loop itself; owns zlib's state. Never refers to its GzipCheckpointer, so
    an abandoned one is collected (and stops the threads) while this runs ahead in a thread.
    """

    def __init__(self, feed: ChunkFeed, span_size: int, backend: InflateBackend) -> None:
        self._span = span_size
        self._backend = backend
        self._call = backend.inflate
        self._strm = open_stream(WBITS_GZIP, backend)
        self._ref = ctypes.byref(self._strm)
        self._freed = False
        self.feed = feed
        # Output history: the window is _hist[_hend - 32 KiB : _hend], zero-filled at start.
        self._hist = bytearray(2 * WINDOW_SIZE)
        self._hend = WINDOW_SIZE
        self._state = _INFLATING
        self.totin = self.totout = self._last = self._chunk_start = 0
        self._cuts: list[Cut] = []
        # The current input chunk, and the last (up to 8) bytes consumed before it: a member's
        # trailer may straddle chunks.
        self._chunk_addr = self._chunk_len = 0
        self._carry = b""
        self._header = True  # the current member's header is not read yet
        self._member_start = 0  # totout where the current member's data starts
        self._ends: list[MemberEnd] = []  # members ended in the current fill (totout-based)
        self._members = 0
        self.digests: list[str] | None = None
        self.checkpoints: list[Checkpoint] = []

    def free(self) -> None:
        """Free zlib state and stop the input threads (idempotent; never during ``fill``)."""
        if not self._freed:
            self._freed = True
            self._backend.end(self._ref)
        self.feed.close()

    def fill(self, addr: int, size: int) -> tuple[int, BaseException | None, Ends]:
        """Inflate into ``[addr, addr + size)``: bytes made, the error that cut it short, and
        the members that ended in them, for :class:`_DataCheck`.

        The bytes made before an error are good (zlib writes out what precedes a bad code),
        so a reader running ahead may still hand them out before raising.
        """
        start = self.totout
        error: BaseException | None = None
        try:
            self._fill(addr, size)
        except BaseException as exc:
            error = exc
        ends = tuple((end - start, crc, offset) for end, crc, offset in self._ends)
        self._ends.clear()
        return self.totout - start, error, ends

    def _fill(self, addr: int, size: int) -> int:
        """Inflate into ``[addr, addr + size)``; fewer bytes only at end of stream."""
        got = 0
        while got < size and self._state != _DONE:
            if self._state == _MEMBER_END:
                self._next_member()
                continue
            if not self._strm.avail_in:
                self._load(at_member_end=False)
            gap = self._last + self._span - self.totout
            if self.totout and gap > 0 and not self._header:
                got += self._inflate(addr + got, min(size - got, gap), Z_NO_FLUSH)
            else:  # Z_BLOCK also stops right after a member's header
                got += self._inflate(addr + got, size - got, Z_BLOCK)
                if self._header and self._strm.data_type & DT_BOUNDARY:
                    self._header = False
                    self._backend.validate(self._ref, 0)  # the data's CRC: _DataCheck
                self._maybe_checkpoint()
        return got

    def _inflate(self, addr: int, size: int, flush: int) -> int:
        s = self._strm
        s.next_out = addr
        s.avail_out = size
        avail_in = s.avail_in
        rc = self._call(self._ref, flush)
        made: int = size - s.avail_out
        used: int = avail_in - s.avail_in
        self.totin += used
        self.totout += made
        if made:
            self._remember(addr, made)
        if rc == Z_STREAM_END:
            self._state = _MEMBER_END
            self._members += 1
            self._end_member()
        elif rc != Z_OK and not (rc == Z_BUF_ERROR and (made or used)):
            self._fail(rc)
        return made

    def _fail(self, rc: int) -> None:
        msg = zlib_message(self._strm, rc)
        if msg not in _HEADER_ERRORS:
            what = "corrupt deflate data"
        elif self._members:
            what = f"data after gzip member {self._members} is not a gzip member"
        else:
            what = "not a gzip stream"
        raise GzipFormatError(f"{what}: {msg}", offset=self.totin)

    def _end_member(self) -> None:
        """Note the trailer's CRC-32 for :class:`_DataCheck` (zlib checks it before the
        length, so it goes first) and check the length here."""
        crc, isize = _TRAILER.unpack(self._trailer())
        self._ends.append((self.totout, crc, self.totin - 4))
        if (self.totout - self._member_start) & 0xFFFFFFFF != isize:
            raise GzipFormatError("corrupt deflate data: incorrect length check", offset=self.totin)

    def _trailer(self) -> bytes:
        """The 8 bytes the library just consumed as a member's trailer."""
        used = self.totin - self._chunk_start
        if used >= _TRAILER.size:
            return ctypes.string_at(self._chunk_addr + used - _TRAILER.size, _TRAILER.size)
        return (self._carry + ctypes.string_at(self._chunk_addr, used))[-_TRAILER.size :]

    def _maybe_checkpoint(self) -> None:
        """Apply soci's rule after an ``inflate(Z_BLOCK)`` return (4.2)."""
        dt = self._strm.data_type
        out = self.totout
        if (dt & _BOUNDARY_MASK) != DT_BOUNDARY or (out and out - self._last <= self._span):
            return
        bits = dt & DT_BITS_MASK
        self.checkpoints.append(Checkpoint(self.totin, out, bits, self._window()))
        self._cuts.append((self.totin - self._chunk_start, 1 if bits else 0))
        self._last = out

    def _remember(self, addr: int, made: int) -> None:
        """Append the last (at most 32 KiB) bytes just inflated at ``addr`` to the history.

        Copied with the GIL held (``string_at`` is no foreign call): a ctypes ``memmove``
        would let the GIL go, and the inflate thread would have to win it back from the tar
        scanner (docs/performance.md, "The inflate thread and the GIL").
        """
        hist, hend = self._hist, self._hend
        if made >= WINDOW_SIZE:
            hist[:WINDOW_SIZE] = ctypes.string_at(addr + made - WINDOW_SIZE, WINDOW_SIZE)
            self._hend = WINDOW_SIZE
            return
        if hend + made > len(hist):
            hist[:WINDOW_SIZE] = hist[hend - WINDOW_SIZE : hend]
            hend = WINDOW_SIZE
        hist[hend : hend + made] = ctypes.string_at(addr, made)
        self._hend = hend + made

    def _window(self) -> bytes:
        return bytes(self._hist[self._hend - WINDOW_SIZE : self._hend])

    def _next_member(self) -> None:
        """soci v0.14: any bytes after a member must be another gzip member (4.3)."""
        if not self._strm.avail_in and not self._load(at_member_end=True):
            self._finish()
            return
        self._backend.reset(self._ref)
        self._backend.validate(self._ref, 1)  # the header CRC is the library's to check
        self._header = True
        self._member_start = self.totout
        self._state = _INFLATING

    def _load(self, *, at_member_end: bool) -> bool:
        """Hand the consumed chunk to the hasher and point zlib at the next one."""
        if self._chunk_len:  # its last bytes may start a trailer
            keep = min(self._chunk_len, _TRAILER.size)
            tail = ctypes.string_at(self._chunk_addr + self._chunk_len - keep, keep)
            self._carry = (self._carry + tail)[-_TRAILER.size :]
        self.feed.release(self._cuts)
        self._cuts = []
        addr, n = self.feed.next()
        if not n:
            if at_member_end:
                return False
            if self.totin == 0:
                raise GzipFormatError("empty layer: not a gzip stream", offset=0)
            raise GzipFormatError("truncated gzip stream", offset=self.totin)
        self._chunk_start = self.totin
        self._chunk_addr, self._chunk_len = addr, n
        self._strm.next_in = addr
        self._strm.avail_in = n
        return True

    def _finish(self) -> None:
        self._state = _DONE
        self.digests = self.feed.finish()
        self.free()


def _stop(ahead: InflateAhead[Ends] | None, core: _Inflater) -> None:
    """Free zlib state, or, while a producer may be inflating, stop it: it frees on exit."""
    if ahead is None:
        core.free()
        return
    ahead.close()
    core.feed.close()  # unblocks a producer waiting for input
