"""The block buffer under the scanner: forward-only reads in large chunks (§3.2).

Consumes exactly the bytes Go's reader consumes. End of archive, as in Go: two zero blocks; a
zero block then end of input; end of input at a header boundary; end of input inside an entry's
*padding* (Go's ``tryReadFull`` turns that into ``io.EOF``). A zero block followed by a non-zero
one, a partial header and truncated data or payloads are errors.
"""

from __future__ import annotations

from ..errors import TarFormatError
from ..streams import Readable, Skippable
from .header import BLOCK_SIZE, ZERO_BLOCK, HeaderError
from .pax import MAX_SPECIAL_FILE_SIZE


class BlockBuffer:
    """A reusable buffer over ``source``; ``_lo``/``_hi`` bound the unread bytes."""

    def __init__(self, source: Readable, buffer_size: int) -> None:
        if buffer_size < BLOCK_SIZE:
            raise ValueError(f"buffer_size must be at least {BLOCK_SIZE}")
        self._source = source
        # Data the scanner passes over is skipped without a copy where the source can.
        self._skipper = source if isinstance(source, Skippable) else None
        self._buf = bytearray(buffer_size)
        self._view = memoryview(self._buf)
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
        """Bytes already read from ``source`` but not consumed (at most ``buffer_size``)."""
        return bytes(self._view[self._lo : self._hi])

    def _fill(self, need: int) -> int:
        """Make ``need`` (<= buffer size) unread bytes available if the stream has them."""
        lo, hi = self._lo, self._hi
        if hi - lo >= need or self._eof:
            return hi - lo
        if lo:
            self._buf[: hi - lo] = self._buf[lo:hi]
            self._base += lo
            hi -= lo
            self._lo = 0
        view, source = self._view, self._source
        while hi < need:
            got = source.readinto(view[hi:])
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
            available = self._fill(min(remaining, len(self._buf)))
            if not available:
                raise HeaderError("truncated meta entry data")
            take = min(available, remaining)
            parts.append(bytes(self._view[self._lo : self._lo + take]))
            self._lo += take
            remaining -= take
        self._skip_pad = -size % BLOCK_SIZE
        return parts[0] if len(parts) == 1 else b"".join(parts)
