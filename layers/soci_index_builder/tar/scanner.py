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
    TYPE_REGA,
    TYPE_XGLOBAL,
    TYPE_XHEADER,
    fold_typeflag,
    whole_seconds_text,
)
from .header import (
    BLOCK_SIZE,
    HEAD,
    HeaderError,
    Tail,
    UnsupportedError,
    decode,
    fast_octal,
    parse_header,
    parse_ids,
    parse_string,
    parse_tail,
)
from .memo import ScanMemo, cached
from .model import FileMetadata
from .pax import MAX_SPECIAL_FILE_SIZE, parse_long_name, pax_overrides
from .pax_fast import Pairs, read_pax

DEFAULT_BUFFER_SIZE = 1 << 20
_META_TYPES = frozenset((TYPE_XHEADER, TYPE_XGLOBAL, TYPE_GNU_LONGNAME, TYPE_GNU_LONGLINK))
_TYPE_HINTS = {TYPE_XGLOBAL: " (PAX global header)", ord("S"): " (old GNU sparse file)"}
_HALF = BLOCK_SIZE // 2
_REG = TYPE_NAMES[ord("0")]  # the only type with a data section (§3.9)
MAX_PAYLOAD = MAX_SPECIAL_FILE_SIZE


class Toc(NamedTuple):
    """Every tar entry as soci records it, and ``uncompressed_archive_size`` (§3.7)."""

    entries: EntryColumns
    archive_size: int


class _Pending:
    """What ``x``/``L``/``K`` meta entries left for the next real entry."""

    __slots__ = ("dirty", "long_link", "long_name", "overrides", "pax", "raw_records")

    def __init__(self) -> None:
        self.pax: Pairs | None = None  # the records of the governing 'x' header
        self.overrides: dict[int, Any] | None = None  # FileMetadata index -> value
        self.raw_records: dict[bytes, bytes] | None = None  # when overrides is yet unknown
        self.long_name = self.long_link = b""
        self.dirty = False  # holds what a meta entry read by TarScanner._meta left


class TarScanner(BlockBuffer):
    """Go ``archive/tar`` headers of a tar stream, as zTOC entries, in tar order.

    Iterate :meth:`entries` to the end; then :attr:`archive_size` is the stream position after
    the end-of-archive blocks Go consumed. Reads are whole chunks of up to ``buffer_size`` bytes,
    so up to ``buffer_size`` bytes beyond ``archive_size`` may already have been read from
    ``source``: :meth:`leftover` returns them (the caller drains the rest of the stream).
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
        # self around the slow paths). The fast path decodes a header with plain octal numbers
        # and pieces seen before in this scan (memo tables) without allocating per field;
        # anything else goes to the exact parser, header.parse_header, through _learn.
        buf, view = self._buf, self._view
        lo, hi, base = self._lo, self._hi, self._base
        memo = self._memo
        tails, ids, minutes = memo.tails, memo.ids, memo.minutes
        pending, state = False, _Pending()
        # The records of an inline-read 'x' header not yet moved into ``state``: an entry
        # governed only by it, with at most an mtime override, is built without _merge.
        x_pax: Pairs | None = None
        x_over: dict[int, Any] | None = None
        x_raw: dict[bytes, bytes] | None = None
        skip_data = skip_pad = 0
        add, append = table.add, table.append
        kind_tail: Tail | None = None
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
                skip_data = skip_pad = 0
            if hi - lo < BLOCK_SIZE or not buf[lo]:  # refill, zero blocks, end of archive
                self._lo = lo
                if self._read_block() is None:
                    break
                lo, hi, base = self._lo - BLOCK_SIZE, self._hi, self._base
            offset = base + lo
            name, raw_ids, size, mtime, chksum, rest = HEAD.unpack_from(buf, lo)
            halves = adler32(view[lo : lo + _HALF]) & 0xFFFF
            halves += adler32(view[lo + _HALF : lo + BLOCK_SIZE]) & 0xFFFF
            tail = tails.get(rest)
            owner = ids.get(raw_ids)
            length = fast_octal(size)
            seconds = fast_octal(mtime)
            if (
                tail is None
                or owner is None
                or length < 0
                or seconds < 0
                # Go's checksum test, unsigned sum (the field counted as spaces); else exact
                or fast_octal(chksum) != halves + 254 - sum(chksum)
            ):
                tail, owner, length, seconds = self._learn(view[lo : lo + BLOCK_SIZE], offset)
            lo += BLOCK_SIZE
            typeflag, linkname, uname, gname, devmajor, devminor, prefix = tail
            mode, uid, gid = owner
            end = name.find(0)
            if end >= 0:
                name = name[:end]
            if prefix:
                name = prefix + b"/" + name
            if length < 0 and typeflag not in HEADER_ONLY_TYPES:
                self._refuse(name, length, typeflag, offset)  # Go handleRegularFile
            if typeflag in _META_TYPES:
                pending = True
                if typeflag == TYPE_XHEADER and lo + length <= hi and length <= MAX_PAYLOAD:
                    try:  # the usual PAX case, inline: the payload is in the buffer
                        x_pax, x_over, x_raw = read_pax(bytes(view[lo : lo + length]), memo)
                    except HeaderError as exc:
                        raise _error(exc, offset, name) from None
                    lo += length
                    skip_pad = -length % BLOCK_SIZE
                else:
                    if x_pax is not None:  # an earlier inline 'x': into state, in order
                        state.pax, state.overrides, state.raw_records = x_pax, x_over, x_raw
                        x_pax = None
                    state.dirty = True
                    self._lo = lo
                    self._meta(state, typeflag, name, length, offset)
                    lo, hi, base = self._lo, self._hi, self._base
                    skip_pad, self._skip_pad = self._skip_pad, 0
                continue
            type_name = TYPE_NAMES.get(typeflag)
            records: Pairs = ()
            text = None
            if (
                x_pax is not None
                and x_over is not None
                and not state.dirty
                and typeflag != TYPE_REGA
                and (not x_over or (len(x_over) == 1 and E.MOD_TIME in x_over))
            ):  # only one 'x' header, with at most an mtime: _merge's result, built directly
                if x_over:
                    text = x_over[E.MOD_TIME]
                records, x_pax, pending = x_pax, None, False
            if text is None:  # formatted only when no PAX mtime replaces it
                text = whole_seconds_text(seconds, minutes)
            if not pending and type_name is not None:
                # The kind is a function of the memoized tail and owner objects (kept alive
                # here, so identity is safe): interned once per change, not per entry.
                if tail is not kind_tail or owner is not kind_owner:
                    kind_tail, kind_owner = tail, owner
                    kind_id = table.kind_id(
                        (type_name, linkname, mode, uid, gid, uname, gname, devmajor, devminor)
                    )
                add(name, kind_id, base + lo, length, text, records)
            else:
                if x_pax is not None:
                    state.pax, state.overrides, state.raw_records = x_pax, x_over, x_raw
                    x_pax = None
                fields = (
                    name.decode("utf-8", "surrogateescape"), type_name, base + lo, length,
                    linkname, mode, uid, gid, uname, gname, text, devmajor, devminor, records,
                )  # fmt: skip
                entry = self._merge(state, fields, typeflag, name, offset)
                type_name, length = entry.type, entry.uncompressed_size
                pending, state = False, _Pending()
                append(entry)
            if type_name == _REG:  # the only type with a data section
                skip_data, skip_pad = length, -length % BLOCK_SIZE
            self._lo = lo
            yield None
        self._archive_size = self._base + self._lo

    def _learn(self, block: memoryview, offset: int) -> tuple[Tail, tuple[int, int, int], int, int]:
        """Decode a header the fast path could not, exactly; memoize its repeating pieces."""
        try:
            header = parse_header(block)
        except HeaderError as exc:
            raise _error(exc, offset, parse_string(bytes(block[:100]))) from None
        _, raw_ids, _, _, _, rest = HEAD.unpack(block)
        memo = self._memo
        tail = memo.tails.get(rest) or cached(memo.tails, rest, parse_tail)
        owner = memo.ids.get(raw_ids) or cached(memo.ids, raw_ids, parse_ids)
        return tail, owner, header.size, header.mtime

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
                pending.pax, pending.overrides, pending.raw_records = read_pax(payload, self._memo)
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
        overrides = pending.overrides
        if pending.raw_records is not None:
            try:
                overrides = pax_overrides(pending.raw_records)
            except HeaderError as exc:
                raise _error(exc, offset, name) from None
        if pending.pax is not None:
            entry[E.PAX_RECORDS] = pending.pax
        if overrides:
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


def _error(exc: HeaderError, offset: int, name: bytes) -> TarFormatError:
    """The package error for a codec error: unsupported (soci refuses) or corrupt (Go refuses)."""
    kind = UnsupportedTarEntryError if isinstance(exc, UnsupportedError) else TarFormatError
    return kind(str(exc), offset=offset, entry=name.decode("utf-8", "surrogateescape"))


def read_toc(source: Readable, buffer_size: int = DEFAULT_BUFFER_SIZE) -> Toc:
    """Scan a whole tar stream (see :class:`TarScanner`; up to ``buffer_size`` bytes read ahead)."""
    scanner = TarScanner(source, buffer_size)
    entries = EntryColumns()
    for _ in scanner.scan(entries):
        pass
    return Toc(entries, scanner.archive_size)
