"""The block buffer under the scanner: forward-only reads in large chunks (§3.2).

Consumes exactly the bytes Go's reader consumes. End of archive, as in Go: two zero blocks; a
zero block then end of input; end of input at a header boundary; end of input inside an entry's
*padding* (Go's ``tryReadFull`` turns that into ``io.EOF``). A zero block followed by a non-zero
one, a partial header and truncated data or payloads are errors.
"""

from __future__ import annotations

from ..errors import TarFormatError
from ..streams import Lending, Readable, Skippable
from .header import BLOCK_SIZE, ZERO_BLOCK, HeaderError
from .pax import MAX_SPECIAL_FILE_SIZE


class BlockBuffer:
    """A reusable buffer over ``source``; ``_lo``/``_hi`` bound the unread bytes.

    Over a :class:`~..streams.Lending` source the buffer is, whenever it runs dry, the view the
    source lends (no copy); only bytes still unread when the source must be called again (a
    header or payload cut by the end of a lent view) are copied into the own buffer first.
    """

    def __init__(self, source: Readable, buffer_size: int) -> None:
        if buffer_size < BLOCK_SIZE:
            raise ValueError(f"buffer_size must be at least {BLOCK_SIZE}")
        self._source = source
        # Data the scanner passes over is skipped without a copy where the source can, and
        # headers are parsed in the source's own buffers where it lends them.
        self._skipper = source if isinstance(source, Skippable) else None
        self._lender = source if isinstance(source, Lending) else None
        self._own = bytearray(buffer_size)
        self._own_view = memoryview(self._own)
        # The buffer read: the own one, or a view lent by the source (valid until its next call).
        self._buf: bytearray | memoryview = self._own
        self._view = self._own_view
        self._lo = 0  # next unread byte in the buffer
        self._hi = 0  # end of the valid bytes in the buffer
        self._base = 0  # stream offset of buffer byte 0
        self._eof = False
        self._skip_data = 0  # data bytes of the previous entry not yet consumed
        self._skip_pad = 0  # padding after them
        self._last_name: str | None = None

    @property
    def position(self) -> int:
        """Bytes of the stream consumed so far, by Go's accounting."""
        return self._base + self._lo

    def leftover(self) -> bytes:
        """Bytes already read from ``source`` but not consumed (at most ``buffer_size``, or
        the rest of a view the source lent)."""
        return bytes(self._view[self._lo : self._hi])

    def _fill(self, need: int) -> int:
        """Make ``need`` (<= buffer size) unread bytes available if the stream has them."""
        lo, hi = self._lo, self._hi
        if hi - lo >= need or self._eof:
            return hi - lo
        lender = self._lender
        if lo == hi and lender is not None and self._borrow(lender, need):
            return self._hi
        return self._top_up(need)

    def _borrow(self, lender: Lending, need: int) -> bool:
        """Take the source's next lent view as the buffer (nothing unread is lost: the old
        buffer is drained); True when it holds ``need`` bytes or the stream ended."""
        lent = lender.lend()
        self._base += self._hi
        self._buf = self._view = lent
        self._lo, self._hi = 0, len(lent)
        self._eof = not lent
        return len(lent) >= need or self._eof

    def _top_up(self, need: int) -> int:
        """Move the unread bytes to the start of the own buffer (out of a lent view: the source
        is called next) and read from ``source`` until ``need`` bytes are there. A lending
        source is read only up to ``need``: the next refill borrows again."""
        lo, hi, view = self._lo, self._hi, self._own_view
        if lo or self._view is not view:
            view[: hi - lo] = self._view[lo:hi]  # memmove: the ranges may overlap
            self._buf, self._view = self._own, view
            self._base += lo
            hi -= lo
            self._lo = 0
        stop = need if self._lender is not None else len(view)
        source = self._source
        while hi < need:
            got = source.readinto(view[hi:stop])
            if not got:
                self._eof = True
                break
            hi += got
        self._hi = hi
        return hi

    def _skip(self, count: int) -> int:
        """Consume up to ``count`` bytes; returns how many the stream had."""
        available = self._hi - self._lo
        if count <= available:
            self._lo += count
            return count
        skipped = available
        self._base += self._hi
        self._lo = self._hi = 0
        self._buf, self._view = self._own, self._own_view  # a lent view dies with the next call
        if self._skipper is not None and not self._eof:
            got = self._skipper.skip(count - skipped)
            self._base += got
            self._eof = skipped + got < count
            return skipped + got
        while not self._eof:
            got = self._source.readinto(self._view)
            if not got:
                self._eof = True
                break
            if skipped + got >= count:
                self._lo, self._hi = count - skipped, got
                return count
            self._base += got
            skipped += got
        return skipped

    def _skip_previous(self) -> bool:
        """Go ``discard`` of the previous data, then ``tryReadFull`` of its padding.

        Returns False when the stream ends inside the padding: Go reports that as ``io.EOF``.
        """
        data, pad = self._skip_data, self._skip_pad
        if not data and not pad:
            return True
        self._skip_data = self._skip_pad = 0
        start = self.position
        if data and self._skip(data) < data:
            raise TarFormatError("truncated entry data", offset=start, entry=self._last_name)
        return self._skip(pad) == pad

    def _read_block(self) -> memoryview | None:
        """The next header block, or None at end of archive (handling the zero blocks)."""
        lo = self._lo
        if self._hi - lo < BLOCK_SIZE:
            available = self._fill(BLOCK_SIZE)
            if available < BLOCK_SIZE:
                if available:
                    raise TarFormatError("truncated tar header", offset=self.position)
                return None
            lo = self._lo
        self._lo = lo + BLOCK_SIZE
        block = self._view[lo : lo + BLOCK_SIZE]
        if self._buf[lo] or block != ZERO_BLOCK:
            return block
        available = self._fill(BLOCK_SIZE)  # a zero block: EOF or a second zero block must follow
        if available and available < BLOCK_SIZE:
            raise TarFormatError("truncated tar header after a zero block", offset=self.position)
        if available:
            if self._view[self._lo : self._lo + BLOCK_SIZE] != ZERO_BLOCK:
                raise TarFormatError(
                    "zero block followed by a non-zero block", offset=self.position
                )
            self._lo += BLOCK_SIZE
        return None

    def _read_payload(self, size: int) -> bytes:
        """Go ``readSpecialFile``: the whole data of a meta entry (at most 1 MiB)."""
        if size > MAX_SPECIAL_FILE_SIZE:
            raise HeaderError(f"meta entry too large ({size} bytes)")
        lo = self._lo
        if lo + size <= self._hi:  # the usual case: all in the buffer
            self._lo = lo + size
            self._skip_pad = -size % BLOCK_SIZE
            return bytes(self._view[lo : lo + size])
        parts = []
        remaining = size
        while remaining:
            available = self._fill(min(remaining, len(self._own)))
            if not available:
                raise HeaderError("truncated meta entry data")
            take = min(available, remaining)
            parts.append(bytes(self._view[self._lo : self._lo + take]))
            self._lo += take
            remaining -= take
        self._skip_pad = -size % BLOCK_SIZE
        return parts[0] if len(parts) == 1 else b"".join(parts)
