"""The streaming loop: Go ``tar.Reader.Next`` over a forward-only stream (§3.2, §3.3, §3.7).

The scanner reads the stream in large chunks into one reusable buffer and consumes exactly the
bytes Go's reader consumes: each header block, the data and padding of every entry (skipped), the
payloads of ``x``/``L``/``K`` meta entries and the end-of-archive blocks. End of archive, as in
Go: two zero blocks; a zero block then end of input; end of input at a header boundary; end of
input inside an entry's *padding* (Go's ``tryReadFull`` turns that into ``io.EOF``). A zero block
followed by a non-zero one, a partial header and truncated data or payloads are errors.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import NamedTuple, NoReturn

from ..errors import TarFormatError, UnsupportedTarEntryError
from ..streams import Readable
from ..ztoc.model import FileMetadata
from .entries import (
    HEADER_ONLY_TYPES,
    TYPE_GNU_LONGLINK,
    TYPE_GNU_LONGNAME,
    TYPE_NAMES,
    TYPE_XGLOBAL,
    TYPE_XHEADER,
    fold_typeflag,
    to_entry,
)
from .header import (
    BLOCK_SIZE,
    ZERO_BLOCK,
    Header,
    HeaderError,
    UnsupportedError,
    parse_header,
    parse_string,
)
from .pax import MAX_SPECIAL_FILE_SIZE, merge_pax, parse_long_name, parse_records

DEFAULT_BUFFER_SIZE = 1 << 20
_META_TYPES = frozenset((TYPE_XHEADER, TYPE_XGLOBAL, TYPE_GNU_LONGNAME, TYPE_GNU_LONGLINK))
_TYPE_HINTS = {TYPE_XGLOBAL: " (PAX global header)", ord("S"): " (old GNU sparse file)"}


class Toc(NamedTuple):
    """Every tar entry as soci records it, and ``uncompressed_archive_size`` (§3.7)."""

    entries: tuple[FileMetadata, ...]
    archive_size: int


class TarScanner:
    """Go ``archive/tar`` headers of a tar stream, as zTOC entries, in tar order.

    Iterate :meth:`entries` to the end; then :attr:`archive_size` is the stream position after
    the end-of-archive blocks Go consumed. Reads are whole chunks of up to ``buffer_size`` bytes,
    so up to ``buffer_size`` bytes beyond ``archive_size`` may already have been read from
    ``source``: :meth:`leftover` returns them (the caller drains the rest of the stream).
    Errors: :class:`TarFormatError` (corrupt or truncated) and its subclass
    :class:`UnsupportedTarEntryError` (what soci refuses: ``g``, sparse, unknown typeflags).
    """

    def __init__(self, source: Readable, buffer_size: int = DEFAULT_BUFFER_SIZE) -> None:
        if buffer_size < BLOCK_SIZE:
            raise ValueError(f"buffer_size must be at least {BLOCK_SIZE}")
        self._source = source
        self._buf = bytearray(buffer_size)
        self._view = memoryview(self._buf)
        self._lo = 0  # next unread byte in the buffer
        self._hi = 0  # end of the valid bytes in the buffer
        self._base = 0  # stream offset of buffer byte 0
        self._eof = False
        self._skip_data = 0  # data bytes of the previous entry not yet consumed
        self._skip_pad = 0  # padding after them
        self._last_name: str | None = None
        self._records: dict[bytes, bytes] | None = None
        self._long_name = b""
        self._long_link = b""
        self._archive_size: int | None = None

    @property
    def position(self) -> int:
        """Bytes of the stream consumed so far, by Go's accounting."""
        return self._base + self._lo

    @property
    def archive_size(self) -> int:
        """``uncompressed_archive_size``; only known once :meth:`entries` is exhausted."""
        if self._archive_size is None:
            raise RuntimeError("archive_size is known only after the last entry")
        return self._archive_size

    def leftover(self) -> bytes:
        """Bytes already read from ``source`` but not consumed (at most ``buffer_size``)."""
        return bytes(self._view[self._lo : self._hi])

    def entries(self) -> Iterator[FileMetadata]:
        """Yield one entry per Go ``Next()`` until end of archive."""
        while (entry := self._next()) is not None:
            yield entry

    def _next(self) -> FileMetadata | None:
        """Go ``next()``: fold ``x``/``L``/``K`` meta entries into the next real entry."""
        self._records = None
        self._long_name = self._long_link = b""
        while True:
            lo, skip = self._lo, self._skip_data + self._skip_pad
            if skip and lo + skip <= self._hi:  # the usual case: all in the buffer
                self._lo = lo = lo + skip
                self._skip_data = self._skip_pad = 0
            elif skip and not self._skip_previous():
                break
            offset = self._base + self._lo
            block = self._read_block()
            if block is None:
                break
            try:
                header = parse_header(block)
            except HeaderError as exc:
                raise _error(exc, offset, parse_string(bytes(block[:100]))) from None
            if header.size < 0 and header.typeflag not in HEADER_ONLY_TYPES:
                self._refuse(header, header.typeflag, offset)  # Go handleRegularFile, raw header
            if header.typeflag not in _META_TYPES:
                return self._entry(header, offset)
            self._meta(header, offset)
        self._archive_size = self._base + self._lo
        return None

    def _meta(self, header: Header, offset: int) -> None:
        """Read an ``x``/``L``/``K`` payload into the pending state; refuse ``g`` (§3.2)."""
        if header.typeflag == TYPE_XGLOBAL:
            reason = "unsupported input tar entry 'g' (PAX global header)"
            raise _error(UnsupportedError(reason), offset, header.name)
        try:
            payload = self._read_payload(header.size)
            if header.typeflag == TYPE_XHEADER:
                self._records = parse_records(payload)  # a later 'x' replaces an earlier one
            elif header.typeflag == TYPE_GNU_LONGNAME:
                self._long_name = parse_long_name(payload)
            else:
                self._long_link = parse_long_name(payload)
        except HeaderError as exc:
            raise _error(exc, offset, header.name) from None

    def _entry(self, header: Header, offset: int) -> FileMetadata:
        """Merge PAX records and GNU long names, check the type, arm skipping of the data."""
        records = self._records
        if records is not None:
            try:
                header = merge_pax(header, records)
            except HeaderError as exc:
                raise _error(exc, offset, header.name) from None
        if self._long_name:
            header = header._replace(name=self._long_name)
        if self._long_link:
            header = header._replace(linkname=self._long_link)
        typeflag = header.typeflag or fold_typeflag(header.typeflag, header.name)
        size = 0 if typeflag in HEADER_ONLY_TYPES else header.size
        type_name = TYPE_NAMES.get(typeflag)
        if size < 0 or type_name is None:
            self._refuse(header, typeflag, offset)
        entry = to_entry(header, type_name, self._base + self._lo, records)
        self._skip_data, self._skip_pad = size, -size % BLOCK_SIZE
        self._last_name = entry.name
        return entry

    def _refuse(self, header: Header, typeflag: int, offset: int) -> NoReturn:
        """Raise for a negative data size (Go ErrHeader) or a typeflag soci refuses (§3.4)."""
        if header.size < 0:
            raise _error(HeaderError(f"negative size {header.size}"), offset, header.name)
        hint = _TYPE_HINTS.get(typeflag, "")
        reason = f"unsupported input tar entry {chr(typeflag)!r}{hint}"
        raise _error(UnsupportedError(reason), offset, header.name)

    # -- buffer management ---------------------------------------------------------------------

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


def _error(exc: HeaderError, offset: int, name: bytes) -> TarFormatError:
    """The package error for a codec error: unsupported (soci refuses) or corrupt (Go refuses)."""
    kind = UnsupportedTarEntryError if isinstance(exc, UnsupportedError) else TarFormatError
    return kind(str(exc), offset=offset, entry=name.decode("utf-8", "surrogateescape"))


def read_toc(source: Readable, buffer_size: int = DEFAULT_BUFFER_SIZE) -> Toc:
    """Scan a whole tar stream (see :class:`TarScanner`; up to ``buffer_size`` bytes read ahead)."""
    scanner = TarScanner(source, buffer_size)
    entries = tuple(scanner.entries())
    return Toc(entries, scanner.archive_size)
