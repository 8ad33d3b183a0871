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
from contextlib import suppress
from typing import Any, NamedTuple, NoReturn
from zlib import adler32

from ..errors import TarFormatError, UnsupportedTarEntryError
from ..streams import Readable
from . import entries as E
from .buffer import BlockBuffer
from .columns import EntryColumns
from .entries import (
    HEADER_ONLY_TYPES,
    TYPE_GNU_LONGLINK,
    TYPE_GNU_LONGNAME,
    TYPE_NAMES,
    TYPE_XGLOBAL,
    TYPE_XHEADER,
    fold_typeflag,
    time_text,
)
from .header import (
    BLOCK_SIZE,
    HEAD,
    HeaderError,
    UnsupportedError,
    decode,
    parse_header,
    parse_ids,
    parse_string,
    parse_tail,
)
from .memo import ScanMemo, TailMemo, remember
from .model import FileMetadata
from .pax import MAX_SPECIAL_FILE_SIZE, parse_long_name
from .pax_fast import PaxHeader, overrides_of, pairs_of, read_pax

DEFAULT_BUFFER_SIZE = 1 << 20
_META_TYPES = frozenset((TYPE_XHEADER, TYPE_XGLOBAL, TYPE_GNU_LONGNAME, TYPE_GNU_LONGLINK))
_TYPE_HINTS = {TYPE_XGLOBAL: " (PAX global header)", ord("S"): " (old GNU sparse file)"}
#: The checksum's variable part: the bytes before the field (name, ids, size, mtime); their
#: sum is below 65521, so adler32's low half is exactly 1 + their sum.
_SUMMED = 148
_REG = TYPE_NAMES[ord("0")]  # the only type with a data section (§3.9)
MAX_PAYLOAD = MAX_SPECIAL_FILE_SIZE


class Toc(NamedTuple):
    """Every tar entry as soci records it, and ``uncompressed_archive_size`` (§3.7)."""

    entries: EntryColumns
    archive_size: int


class _Pending:
    """What ``x``/``L``/``K`` meta entries left for the next real entry, when it cannot be
    added directly (see :meth:`TarScanner.scan`)."""

    __slots__ = ("dirty", "long_link", "long_name", "pax")

    def __init__(self) -> None:
        self.pax: PaxHeader | None = None  # the records of the governing 'x' header
        self.long_name = self.long_link = b""
        self.dirty = False  # holds what a meta entry read by TarScanner._meta left


class TarScanner(BlockBuffer):
    """Go ``archive/tar`` headers of a tar stream, as zTOC entries, in tar order.

    Iterate :meth:`entries` to the end; then :attr:`archive_size` is the stream position after
    the end-of-archive blocks Go consumed. Reads are whole chunks of up to ``buffer_size`` bytes,
    so up to ``buffer_size`` bytes beyond ``archive_size`` (or the rest of a view a
    :class:`~..streams.Lending` source lent) may already have been read from ``source``:
    :meth:`leftover` returns them (the caller drains the rest of the stream).
    Errors: :class:`TarFormatError` (corrupt or truncated) and its subclass
    :class:`UnsupportedTarEntryError` (what soci refuses: ``g``, sparse, unknown typeflags).
    """

    def __init__(self, source: Readable, buffer_size: int = DEFAULT_BUFFER_SIZE) -> None:
        super().__init__(source, buffer_size)
        self._archive_size: int | None = None
        self._memo = ScanMemo()  # this scan's only caches: they die with the scanner

    @property
    def archive_size(self) -> int:
        """``uncompressed_archive_size``; only known once :meth:`entries` is exhausted."""
        if self._archive_size is None:
            raise RuntimeError("archive_size is known only after the last entry")
        return self._archive_size

    def entries(self) -> Iterator[FileMetadata]:
        """Yield one entry per Go ``Next()`` until end of archive."""
        table = EntryColumns()
        for _ in self.scan(table):
            yield table[-1]

    def scan(self, table: EntryColumns) -> Iterator[None]:  # noqa: C901 (one hot loop, see below)
        """Add one entry per Go ``Next()`` to ``table``, yielding after each, until the end."""
        # The hot loop of a layer build, in one frame with the buffer state in locals (synced to
        # self around the slow paths). The fast path decodes a header by looking its pieces up
        # in this scan's memo tables (memo.py), checksum included, without allocating per
        # field; anything else goes to the exact parser, header.parse_header, through _learn.
        # ``buf``/``view`` may be a view the source lent (buffer.py): re-read with ``lo, hi,
        # base`` after every call that may refill, and never kept past the current header.
        buf, view = self._buf, self._view
        lo, hi, base = self._lo, self._hi, self._base
        memo = self._memo
        tails, ids, numbers, minutes, checksums = (
            memo.tails, memo.ids, memo.numbers, memo.minutes, memo.checksums
        )  # fmt: skip
        state = _Pending()
        # An inline-read 'x' header not yet moved into ``state``: an entry governed only by
        # it, when it is *simple* (pax_fast.PaxHeader), is added without building an entry.
        x: PaxHeader | None = None
        skip_data = skip_pad = 0
        add, append = table.add, table.append
        kind_tail: TailMemo | None = None
        kind_owner: tuple[int, int, int] | None = None
        kind_id = 0
        while True:
            if skip_data or skip_pad:
                if lo + skip_data + skip_pad <= hi:  # the usual case: all in the buffer
                    lo += skip_data + skip_pad
                else:
                    self._lo, self._skip_data, self._skip_pad = lo, skip_data, skip_pad
                    self._last_name = table.name(len(table) - 1) if table else ""
                    if not self._skip_previous():
                        break
                    lo, hi, base = self._lo, self._hi, self._base
                    buf, view = self._buf, self._view
                skip_data = skip_pad = 0
            if hi - lo < BLOCK_SIZE or not buf[lo]:  # refill, zero blocks, end of archive
                self._lo = lo
                if self._read_block() is None:
                    break
                lo, hi, base = self._lo - BLOCK_SIZE, self._hi, self._base
                buf, view = self._buf, self._view
            name, raw_ids, size, mtime, chksum, rest = HEAD.unpack_from(buf, lo)
            tail = tails.get(rest)
            owner = ids.get(raw_ids)
            length = numbers[size]
            seconds = numbers[mtime]
            if (
                tail is None
                or owner is None
                or length < 0
                or seconds < 0
                # Go's checksum test, unsigned sum, field as every common writer formats it
                or checksums[(adler32(view[lo : lo + _SUMMED]) & 0xFFFF) + tail[7]] != chksum
            ):
                tail, owner, length, seconds = self._learn(view[lo : lo + BLOCK_SIZE], base + lo)
            lo += BLOCK_SIZE
            typeflag = tail[0]
            if typeflag in _META_TYPES:
                if length < 0:
                    self._refuse(_name(name, tail), length, typeflag, base + lo - BLOCK_SIZE)
                if typeflag == TYPE_XHEADER and lo + length <= hi and length <= MAX_PAYLOAD:
                    try:  # the usual PAX case, inline: the payload is in the buffer
                        x = read_pax(bytes(view[lo : lo + length]), memo)
                    except HeaderError as exc:
                        raise _error(exc, base + lo - BLOCK_SIZE, _name(name, tail)) from None
                    lo += length
                    skip_pad = -length % BLOCK_SIZE
                else:
                    if x is not None:  # an earlier inline 'x': into state, in order
                        state.pax, x = x, None
                    state.dirty = True
                    self._lo = lo
                    self._meta(state, typeflag, _name(name, tail), length, base + lo - BLOCK_SIZE)
                    lo, hi, base = self._lo, self._hi, self._base
                    buf, view = self._buf, self._view
                    skip_pad, self._skip_pad = self._skip_pad, 0
                continue
            end = name.find(0)
            if end >= 0:
                name = name[:end]
            if tail[6]:
                name = tail[6] + b"/" + name
            type_name = TYPE_NAMES.get(typeflag)
            if (
                type_name is None  # unknown, or TYPE_REGA: folded or refused by _merge
                or state.dirty
                or (x is not None and not x[2])
                or length < 0
            ):
                if x is not None:
                    state.pax, x = x, None
                _, linkname, uname, gname, devmajor, devminor, _, _ = tail
                mode, uid, gid = owner
                fields = (
                    decode(name), type_name, base + lo, length, linkname, mode, uid, gid,
                    uname, gname, time_text(seconds, minutes).decode(), devmajor,
                    devminor, (),
                )  # fmt: skip
                entry = self._merge(state, fields, typeflag, name, base + lo - BLOCK_SIZE)
                type_name, length = entry.type, entry.uncompressed_size
                state = _Pending()
                append(entry)
            else:
                keys: tuple[str, ...] = ()
                values: tuple[bytes, ...] = ()
                text = path = None
                if x is not None:  # one simple 'x' header: _merge's result, built directly
                    keys, values, _, text, path, _, _ = x
                    x = None
                if text is None:  # no PAX mtime (b"" is one: a time out of Go's range)
                    text = time_text(seconds, minutes)
                if path is not None:
                    name = path
                # The kind is a function of the memoized tail and owner objects (kept alive
                # here, so identity is safe): interned once per change, not per entry.
                if tail is not kind_tail or owner is not kind_owner:
                    kind_tail, kind_owner = tail, owner
                    kind_id = table.kind_id((type_name, tail[1], *owner, *tail[2:6]))
                add(name, kind_id, base + lo, length, text, keys, values)
            if type_name == _REG:  # the only type with a data section
                skip_data, skip_pad = length, -length % BLOCK_SIZE
            self._lo = lo
            yield None
        self._archive_size = self._base + self._lo

    def _learn(
        self, block: memoryview, offset: int
    ) -> tuple[TailMemo, tuple[int, int, int], int, int]:
        """Decode a header the fast path could not, exactly; memoize its repeating pieces.

        Returns the memoized tail and owner, the size and the mtime. When the tail is the only
        new piece (a symlink's own target, a new owner name: most misses on real layers), the
        tail parser alone decodes it: every other field was decoded exactly before, so if the
        tail parses and the checksum passes the fast path's test, the exact parser would accept
        the block with the same values (docs/performance.md, "The tar scanner"). Anything else
        goes to the exact parser, which also picks the error to report.
        """
        memo = self._memo
        _, raw_ids, size, mtime, chksum, rest = HEAD.unpack(block)
        owner, length, seconds = memo.ids.get(raw_ids), memo.numbers[size], memo.numbers[mtime]
        if owner is not None and length >= 0 and seconds >= 0:
            with suppress(HeaderError):  # the exact parser below reports it
                tail = self._tail(rest)
                if memo.checksums[(adler32(block[:_SUMMED]) & 0xFFFF) + tail[7]] == chksum:
                    return tail, owner, length, seconds
        try:
            header = parse_header(block)
        except HeaderError as exc:
            raise _error(exc, offset, parse_string(bytes(block[:100]))) from None
        owner = owner or remember(memo.ids, raw_ids, parse_ids(raw_ids))
        return self._tail(rest), owner, header.size, header.mtime

    def _tail(self, rest: bytes) -> TailMemo:
        """The memoized tail of ``rest``, with its byte sum for the checksum test; HeaderError
        when the tail parser refuses it."""
        tails = self._memo.tails
        return tails.get(rest) or remember(tails, rest, (*parse_tail(rest), sum(rest) + 255))

    def _meta(
        self, pending: _Pending, typeflag: int, name: bytes, size: int, offset: int
    ) -> _Pending:
        """Read an ``x``/``L``/``K`` payload into the pending state; refuse ``g`` (§3.2)."""
        if typeflag == TYPE_XGLOBAL:
            reason = "unsupported input tar entry 'g' (PAX global header)"
            raise _error(UnsupportedError(reason), offset, name)
        try:
            payload = self._read_payload(size)
            if typeflag == TYPE_XHEADER:  # a later 'x' replaces an earlier one
                pending.pax = read_pax(payload, self._memo)
            elif typeflag == TYPE_GNU_LONGNAME:
                pending.long_name = parse_long_name(payload)
            else:
                pending.long_link = parse_long_name(payload)
        except HeaderError as exc:
            raise _error(exc, offset, name) from None
        return pending

    def _merge(
        self, pending: _Pending, fields: tuple[Any, ...], typeflag: int, name: bytes, offset: int
    ) -> FileMetadata:
        """Go ``mergePAX`` and GNU long names onto an entry; fold ``'\\0'``, check the type."""
        entry = list(fields)
        if pending.pax is not None:
            try:
                overrides = overrides_of(pending.pax)
            except HeaderError as exc:
                raise _error(exc, offset, name) from None
            entry[E.PAX_RECORDS] = pairs_of(pending.pax)
            for index, value in overrides.items():
                entry[index] = value
        if pending.long_name:
            entry[E.NAME] = decode(pending.long_name)
        if pending.long_link:
            entry[E.LINKNAME] = decode(pending.long_link)
        typeflag = fold_typeflag(typeflag, entry[E.NAME])
        entry[E.TYPE] = TYPE_NAMES.get(typeflag)
        size = entry[E.SIZE]
        if (size < 0 and typeflag not in HEADER_ONLY_TYPES) or entry[E.TYPE] is None:
            self._refuse(entry[E.NAME].encode("utf-8", "surrogateescape"), size, typeflag, offset)
        return tuple.__new__(FileMetadata, entry)

    def _refuse(self, name: bytes, size: int, typeflag: int, offset: int) -> NoReturn:
        """Raise for a negative data size (Go ErrHeader) or a typeflag soci refuses (§3.4)."""
        if size < 0:
            raise _error(HeaderError(f"negative size {size}"), offset, name)
        hint = _TYPE_HINTS.get(typeflag, "")
        reason = f"unsupported input tar entry {chr(typeflag)!r}{hint}"
        raise _error(UnsupportedError(reason), offset, name)


def _name(field: bytes, tail: TailMemo) -> bytes:
    """An entry's header name (prefix and name field), for error messages."""
    name = parse_string(field)
    return tail[6] + b"/" + name if tail[6] else name


def _error(exc: HeaderError, offset: int, name: bytes) -> TarFormatError:
    """The package error for a codec error: unsupported (soci refuses) or corrupt (Go refuses)."""
    kind = UnsupportedTarEntryError if isinstance(exc, UnsupportedError) else TarFormatError
    return kind(str(exc), offset=offset, entry=name.decode("utf-8", "surrogateescape"))


def read_toc(source: Readable, buffer_size: int = DEFAULT_BUFFER_SIZE) -> Toc:
    """Scan a whole tar stream (see :class:`TarScanner` for how far ``source`` is read ahead)."""
    scanner = TarScanner(source, buffer_size)
    entries = EntryColumns()
    for _ in scanner.scan(entries):
        pass
    return Toc(entries, scanner.archive_size)
