"""The 512-byte tar header block, decoded exactly as Go's ``archive/tar`` reader does (§3.2).

Go quirks mirrored here (``reader.go`` ``readHeader``, ``format.go`` ``getFormat``, ``strconv.go``):

* the checksum field is read with ``parseOctal`` (never base-256) and accepted if it equals the
  unsigned *or* the signed (``int8``) byte sum, the field itself counted as spaces;
* format = STAR (``ustar\\0`` + ``tar\\0`` trailer), USTAR/PAX (``ustar\\0``), GNU (``ustar `` +
  version `` \\0``) or V7 (anything else: no uname/gname/devices/prefix are read);
* numbers: base-256 two's complement when bit 7 of the first byte is set, else octal after trimming
  spaces/NULs on both ends and cutting at the first NUL; any bad field fails the whole header;
* GNU headers have no prefix, but when their atime/ctime fields do not parse (pre-Go 1.8 writers put
  a USTAR prefix there) the USTAR prefix is used if it is ASCII.

This module is the one exact parser, pure and cache-free. The scanner's fast path
(:func:`fast_octal`, the per-scan memo tables of ``memo.py``) takes only cases where it gives
the same result, and defers everything else here; tests/engine/test_tar_fast_path.py proves
that over random headers (docs/performance.md).
"""

from __future__ import annotations

import struct
from typing import NamedTuple
from zlib import adler32

BLOCK_SIZE = 512
ZERO_BLOCK = bytes(BLOCK_SIZE)

# Field offsets (start, end) in the header block: V7 first, then USTAR, then the variants that
# reuse the USTAR prefix area.
NAME = (0, 100)
MODE = (100, 108)
UID = (108, 116)
GID = (116, 124)
SIZE = (124, 136)
MTIME = (136, 148)
CHKSUM = (148, 156)
TYPEFLAG = 156
LINKNAME = (157, 257)
MAGIC = (257, 263)
VERSION = (263, 265)
UNAME = (265, 297)
GNAME = (297, 329)
DEVMAJOR = (329, 337)
DEVMINOR = (337, 345)
PREFIX = (345, 500)  # USTAR / PAX
GNU_ATIME = (345, 357)  # GNU: atime, ctime, offset, longnames, sparse map... instead of prefix
GNU_CTIME = (357, 369)
STAR_PREFIX = (345, 476)  # STAR: a shorter prefix, then atime and ctime
STAR_ATIME = (476, 488)
STAR_CTIME = (488, 500)
STAR_TRAILER = (508, 512)

MAGIC_USTAR = b"ustar\x00"
MAGIC_GNU = b"ustar "
VERSION_GNU = b" \x00"
TRAILER_STAR = b"tar\x00"

# One unpack of the whole block: the fields that change from entry to entry, and the rest. The
# scanner memoizes the pieces that repeat across a layer by their raw bytes: mode+uid+gid, and
# everything from the typeflag on (linkname, owner, devices, prefix).
HEAD = struct.Struct("100s24s12s12s8s356s")
assert HEAD.size == BLOCK_SIZE
TAIL = TYPEFLAG  # where the cached rest starts
# Offsets in the rest (block offset - TAIL).
_LINKNAME = slice(LINKNAME[0] - TAIL, LINKNAME[1] - TAIL)
_MAGIC = slice(MAGIC[0] - TAIL, MAGIC[1] - TAIL)
_VERSION = slice(VERSION[0] - TAIL, VERSION[1] - TAIL)
_UNAME = slice(UNAME[0] - TAIL, UNAME[1] - TAIL)
_GNAME = slice(GNAME[0] - TAIL, GNAME[1] - TAIL)
_DEVMAJOR = slice(DEVMAJOR[0] - TAIL, DEVMAJOR[1] - TAIL)
_DEVMINOR = slice(DEVMINOR[0] - TAIL, DEVMINOR[1] - TAIL)
_PREFIX = slice(PREFIX[0] - TAIL, PREFIX[1] - TAIL)
_TRAILER = slice(STAR_TRAILER[0] - TAIL, STAR_TRAILER[1] - TAIL)

_OCTAL_DIGITS = b"01234567"
_ASCII = bytes(range(128))
_HIGH_BYTES = bytes(range(0x80, 0x100))


class HeaderError(ValueError):
    """A header field Go's reader rejects (``ErrHeader``); the scanner adds the offset."""


class UnsupportedError(HeaderError):
    """Something Go reads but soci refuses (sparse records); the scanner adds the offset."""


class Tail(NamedTuple):
    """The decoded rest of a header block (from the typeflag on)."""

    typeflag: int
    linkname: str  # decoded already, as the owner names
    uname: str
    gname: str
    devmajor: int
    devminor: int
    prefix: bytes  # the name prefix, b"" if none


class Header(NamedTuple):
    """The Go ``tar.Header`` fields soci uses, still as raw bytes/integers."""

    typeflag: int
    name: bytes
    linkname: bytes
    size: int
    mode: int
    uid: int
    gid: int
    mtime: int
    uname: str  # decoded already: cached with the other owner fields
    gname: str
    devmajor: int
    devminor: int
    #: Nanoseconds of ``mtime``, only ever set by a PAX ``mtime`` record.
    mtime_nsec: int = 0


def parse_string(field: bytes) -> bytes:
    """Go ``parseString``: the bytes before the first NUL."""
    end = field.find(0)
    return field if end < 0 else field[:end]


def parse_octal(field: bytes) -> int:
    """Go ``parseOctal``: trim spaces/NULs, cut at NUL, strict ``ParseUint(s, 8, 64)``."""
    digits = parse_string(field.strip(b" \x00"))
    if not digits:
        return 0
    if digits.translate(None, _OCTAL_DIGITS):
        raise HeaderError(f"invalid octal field {field!r}")
    value = int(digits, 8)
    if value >> 64:
        raise HeaderError(f"octal field out of range {field!r}")
    return value


def parse_base256(field: bytes) -> int:
    """Go's base-256 branch of ``parseNumeric``: big-endian two's complement, int64 range."""
    inv = 0xFF if field[0] & 0x40 else 0
    value = 0
    for i, byte in enumerate(field):
        byte ^= inv
        if i == 0:
            byte &= 0x7F
        if value >> 56:
            raise HeaderError(f"base-256 field overflows int64 {field!r}")
        value = value << 8 | byte
    if value >> 63:
        raise HeaderError(f"base-256 field overflows int64 {field!r}")
    return ~value if inv else value


def parse_numeric(field: bytes) -> int:
    """Go ``parseNumeric``."""
    return parse_base256(field) if field and field[0] & 0x80 else parse_octal(field)


def fast_octal(field: bytes) -> int:
    """:func:`parse_numeric` of a field of plain octal digits (spaces/NULs around), else -1.

    -1 means "ask the exact parser" (base-256, an inner NUL, a bad digit, an empty field).
    """
    digits = field.strip(b" \x00")
    if digits.isdigit():  # ASCII digits only; int() would also take "_" and spaces
        try:
            return int(digits, 8)
        except ValueError:  # an 8 or a 9
            return -1
    return -1


def checksum_matches(block: memoryview, stored: bytes) -> bool:
    """Go ``getFormat`` checksum test: unsigned or signed byte sum, the field read as spaces."""
    try:
        value = parse_octal(stored)
    except HeaderError:
        return False
    unsigned, signed = _sums(block, stored)
    return value in (unsigned, signed)


def _sums(block: memoryview, stored: bytes) -> tuple[int, int]:
    """The unsigned and the signed (int8) byte sums, the checksum field counted as spaces."""
    # adler32's low half is 1 + byte sum mod 65521; 256 bytes sum to at most 65280, so exact.
    unsigned = (adler32(block[:256]) & 0xFFFF) + (adler32(block[256:]) & 0xFFFF) - 2
    unsigned += 8 * 0x20 - sum(stored)
    high_bytes = BLOCK_SIZE - len(bytes(block).translate(None, _HIGH_BYTES))
    high_bytes -= sum(1 for byte in stored if byte >= 0x80)
    return unsigned, unsigned - 256 * high_bytes


def parse_header(block: memoryview | bytes) -> Header:
    """Decode one non-zero 512-byte header block; raise HeaderError where Go returns ErrHeader."""
    name, raw_ids, size, mtime, chksum, rest = HEAD.unpack(block)
    if not checksum_matches(memoryview(block), chksum):
        raise HeaderError("invalid tar header checksum")
    mode, uid, gid = parse_ids(raw_ids)
    tail = parse_tail(rest)
    seconds = parse_numeric(mtime)
    length = parse_numeric(size)
    name = parse_string(name)
    if tail.prefix:
        name = tail.prefix + b"/" + name
    typeflag, _, uname, gname, devmajor, devminor, _ = tail
    linkname = parse_string(rest[_LINKNAME])
    fields = (typeflag, name, linkname, length, mode, uid, gid, seconds, uname, gname)
    return Header(*fields, devmajor, devminor)


def parse_ids(fields: bytes) -> tuple[int, int, int]:
    """Mode, uid and gid (three 8-byte numeric fields); uid and gid as uint32."""
    uid, gid = parse_numeric(fields[8:16]), parse_numeric(fields[16:])
    return parse_numeric(fields[:8]), uid & 0xFFFFFFFF, gid & 0xFFFFFFFF


def parse_tail(rest: bytes) -> Tail:
    """Typeflag, linkname, owner, devices and name prefix (V7: no owner, devices or prefix)."""
    typeflag, linkname, magic = rest[0], decode(parse_string(rest[_LINKNAME])), rest[_MAGIC]
    if magic != MAGIC_USTAR and (magic != MAGIC_GNU or rest[_VERSION] != VERSION_GNU):
        return Tail(typeflag, linkname, "", "", 0, 0, b"")  # V7: USTAR fields not read
    uname, gname = decode(parse_string(rest[_UNAME])), decode(parse_string(rest[_GNAME]))
    devmajor, devminor = parse_numeric(rest[_DEVMAJOR]), parse_numeric(rest[_DEVMINOR])
    area, trailer = rest[_PREFIX], rest[_TRAILER]
    prefix = b""
    if area[0] or area[12] or trailer == TRAILER_STAR:  # else: no prefix to read
        prefix = _prefix(magic, area, trailer)
    return Tail(typeflag, linkname, uname, gname, devmajor, devminor, prefix)


def decode(raw: bytes) -> str:
    """A Go string (raw bytes) as str: UTF-8 with surrogate escapes, so it round-trips exactly."""
    return raw.decode("utf-8", "surrogateescape")


def _prefix(magic: bytes, area: bytes, trailer: bytes) -> bytes:
    """The name prefix of a USTAR, PAX, STAR or GNU header (the 155-byte area at 345)."""
    if magic == MAGIC_USTAR:
        if trailer != TRAILER_STAR:
            return parse_string(area)
        parse_numeric(area[STAR_ATIME[0] - PREFIX[0] : STAR_ATIME[1] - PREFIX[0]])
        parse_numeric(area[STAR_CTIME[0] - PREFIX[0] : STAR_CTIME[1] - PREFIX[0]])
        return parse_string(area[: STAR_PREFIX[1] - PREFIX[0]])
    # GNU: atime/ctime are only parsed when their first byte is non-zero (Go issue 12594).
    atime = area[: GNU_ATIME[1] - PREFIX[0]]
    ctime = area[GNU_CTIME[0] - PREFIX[0] : GNU_CTIME[1] - PREFIX[0]]
    try:
        for field in (atime, ctime):
            if field[0]:
                parse_numeric(field)
    except HeaderError:
        prefix = parse_string(area)
        return prefix if not prefix.translate(None, _ASCII) else b""
    return b""
