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

Numeric fields repeat a lot across a layer, so decoded values are memoized by their raw bytes.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from typing import NamedTuple, TypeVar
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

# One unpack of the whole block. Neighbouring fields that repeat together across a layer are
# taken as one slice (mode+uid+gid; uname+gname+devmajor+devminor) and decoded through a cache.
_BLOCK = struct.Struct("100s24s12s12s8sB100s6s2s80s155s12s")
assert _BLOCK.size == BLOCK_SIZE
assert (MODE[0], UNAME[0], DEVMAJOR[0], PREFIX[1]) == (100, 265, 329, 500)

_OCTAL_DIGITS = b"01234567"
_ASCII = bytes(range(128))
_CACHE_LIMIT = 1 << 16
_numbers: dict[bytes, int] = {}
_octals: dict[bytes, int] = {}
_ids: dict[bytes, tuple[int, int, int]] = {}
_owners: dict[bytes, tuple[str, str, int, int]] = {}
_V7_OWNER = ("", "", 0, 0)
_HIGH_BYTES = bytes(range(0x80, 0x100))


class HeaderError(ValueError):
    """A header field Go's reader rejects (``ErrHeader``); the scanner adds the offset."""


class UnsupportedError(HeaderError):
    """Something Go reads but soci refuses (sparse records); the scanner adds the offset."""


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
    """Go ``parseNumeric`` (memoized by raw field bytes)."""
    value = _numbers.get(field)
    if value is None:
        value = parse_base256(field) if field and field[0] & 0x80 else parse_octal(field)
        if len(_numbers) >= _CACHE_LIMIT:
            _numbers.clear()
        _numbers[field] = value
    return value


def checksum_matches(block: memoryview, stored: bytes) -> bool:
    """Go ``getFormat`` checksum test: unsigned or signed byte sum, the field read as spaces."""
    value = _octals.get(stored)
    if value is None:
        try:
            value = cached_parse(_octals, stored, parse_octal)
        except HeaderError:
            return False
    return value in _sums(block, stored)


def _sums(block: memoryview, stored: bytes) -> tuple[int, int]:
    """The unsigned and the signed (int8) byte sums, the checksum field counted as spaces."""
    # adler32's low half is 1 + byte sum mod 65521; 256 bytes sum to at most 65280, so exact.
    unsigned = (adler32(block[:256]) & 0xFFFF) + (adler32(block[256:]) & 0xFFFF) - 2
    unsigned += 8 * 0x20 - sum(stored)
    high_bytes = BLOCK_SIZE - len(bytes(block).translate(None, _HIGH_BYTES))
    high_bytes -= sum(1 for byte in stored if byte >= 0x80)
    return unsigned, unsigned - 256 * high_bytes


def parse_header(block: memoryview) -> Header:
    """Decode one non-zero 512-byte header block; raise HeaderError where Go returns ErrHeader."""
    (name, ids, size, mtime, chksum, typeflag, linkname, magic, version, ustar,
     prefix, tail) = _BLOCK.unpack(block)  # fmt: skip
    # Checksum (inlined _sums fast path): exact unsigned sum from two adler32 halves.
    unsigned = (adler32(block[:256]) & 0xFFFF) + (adler32(block[256:]) & 0xFFFF) + 254 - sum(chksum)
    if unsigned != _octals.get(chksum) and not checksum_matches(block, chksum):
        raise HeaderError("invalid tar header checksum")
    end = name.find(0)
    if end >= 0:
        name = name[:end]
    mode, uid, gid = _ids.get(ids) or cached_parse(_ids, ids, _parse_ids)
    if magic != MAGIC_USTAR and (magic != MAGIC_GNU or version != VERSION_GNU):
        owner = _V7_OWNER  # V7: the USTAR fields are not read at all
    else:
        owner = _owners.get(ustar) or cached_parse(_owners, ustar, _parse_owner)
        if prefix[0] or prefix[12] or tail[8:] == TRAILER_STAR:  # else: no prefix to read
            prefix = _prefix(magic, prefix, tail[8:])
            if prefix:
                name = prefix + b"/" + name
    seconds = _numbers.get(mtime)
    if seconds is None:
        seconds = parse_numeric(mtime)
    length = _numbers.get(size)
    if length is None:
        length = parse_numeric(size)
    end = linkname.find(0)
    if end >= 0:
        linkname = linkname[:end]
    fields = (typeflag, name, linkname, length, mode, uid, gid, seconds)
    return tuple.__new__(Header, (*fields, *owner, 0))  # skips NamedTuple's Python __new__


_T = TypeVar("_T")


def cached_parse(cache: dict[bytes, _T], key: bytes, parse: Callable[[bytes], _T]) -> _T:
    """``parse(key)``, stored in ``cache`` (cleared when it reaches its size limit)."""
    value = parse(key)
    if len(cache) >= _CACHE_LIMIT:
        cache.clear()
    cache[key] = value
    return value


def _parse_ids(fields: bytes) -> tuple[int, int, int]:
    """Mode, uid and gid (three 8-byte numeric fields)."""
    return parse_numeric(fields[:8]), parse_numeric(fields[8:16]), parse_numeric(fields[16:])


def _parse_owner(fields: bytes) -> tuple[str, str, int, int]:
    """Uname, gname (two 32-byte strings, decoded), devmajor and devminor (two 8-byte numbers)."""
    uname, gname = decode(parse_string(fields[:32])), decode(parse_string(fields[32:64]))
    return uname, gname, parse_numeric(fields[64:72]), parse_numeric(fields[72:])


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
