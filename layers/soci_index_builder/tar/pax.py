"""PAX extended headers and GNU long names, as Go's ``archive/tar`` reads them (§3.2, §3.6).

Records stay raw bytes, empty values included: soci stores every record of the governing ``x``
header. Go quirks mirrored: record lengths are parsed with ``strconv.ParseInt`` (a leading ``+``
or zeros are fine), duplicate keys keep the last value, GNU sparse 0.0 ``offset``/``numbytes``
pairs are folded into ``GNU.sparse.map``, and ``mergePAX`` applies only non-empty values, parsing
``atime``/``ctime`` too although it keeps neither.
"""

from __future__ import annotations

from typing import Any

from . import entries as E
from .entries import mod_time
from .header import HeaderError, UnsupportedError, decode, parse_string

#: Go ``maxSpecialFileSize``: larger ``x``/``g``/``L``/``K`` payloads fail with ErrFieldTooLong.
MAX_SPECIAL_FILE_SIZE = 1 << 20

PATH = b"path"
LINKPATH = b"linkpath"
UNAME = b"uname"
GNAME = b"gname"
UID = b"uid"
GID = b"gid"
SIZE = b"size"
MTIME = b"mtime"
ATIME = b"atime"
CTIME = b"ctime"
GNU_SPARSE = b"GNU.sparse."
GNU_SPARSE_OFFSET = b"GNU.sparse.offset"
GNU_SPARSE_NUMBYTES = b"GNU.sparse.numbytes"
GNU_SPARSE_MAP = b"GNU.sparse.map"

_INT64_MIN = -(1 << 63)
_INT64_MAX = (1 << 63) - 1
_NO_NUL_VALUE = frozenset((PATH, LINKPATH, UNAME, GNAME))
_SPARSE_00 = frozenset((GNU_SPARSE_OFFSET, GNU_SPARSE_NUMBYTES))


def parse_decimal(text: bytes) -> int:
    """Go ``strconv.ParseInt(text, 10, 64)``: optional sign, ASCII digits, int64 range."""
    if text.isdigit() and len(text) < 19:
        return int(text)  # the common case: plain digits, well inside int64
    digits = text[1:] if text[:1] in (b"+", b"-") else text
    if not digits.isdigit():
        raise HeaderError(f"invalid decimal number {text!r}")
    value = -int(digits) if text[:1] == b"-" else int(digits)
    if not _INT64_MIN <= value <= _INT64_MAX:
        raise HeaderError(f"decimal number out of range {text!r}")
    return value


def parse_pax_time(text: bytes) -> tuple[int, int]:
    """Go ``parsePAXTime`` then ``time.Unix``: (seconds, nanoseconds in [0, 1e9)).

    The fraction is right-padded or truncated to 9 digits; a leading ``-`` negates it too.
    """
    whole, _, fraction = text.partition(b".")
    seconds = parse_decimal(whole)
    if not fraction:
        return seconds, 0
    if not fraction.isdigit():
        raise HeaderError(f"invalid PAX time {text!r}")
    nanos = int(fraction[:9].ljust(9, b"0"))
    if whole[:1] == b"-":
        nanos = -nanos
    return divmod(seconds * 1_000_000_000 + nanos, 1_000_000_000)


def parse_records(data: bytes) -> dict[bytes, bytes]:
    """Go ``parsePAX``: records ``"%d %s=%s\\n"`` in order (a repeated key keeps its last value).

    Per record, as Go ``parsePAXRecord``: the length (``ParseInt``) counts the whole record and
    must end on a newline; the key ends at the first ``=`` and is non-empty; NUL bytes are refused
    in keys, and in the values of ``path``/``linkpath``/``uname``/``gname``.
    """
    records: dict[bytes, bytes] = {}
    sparse_map: list[bytes] = []
    pos, size = 0, len(data)
    while pos < size:
        space = data.find(b" ", pos)
        digits = data[pos:space] if space >= 0 else b""
        length = int(digits) if digits.isdigit() and len(digits) < 19 else parse_decimal(digits)
        end = pos + length
        if length < 5 or end > size or end - 1 <= space or data[end - 1] != 0x0A:
            raise HeaderError("malformed PAX record")
        key, equals, value = data[space + 1 : end - 1].partition(b"=")
        if not equals or not key or 0 in key or (key in _NO_NUL_VALUE and 0 in value):
            raise HeaderError("malformed PAX record")
        pos = end
        if key in _SPARSE_00:
            _add_sparse_pair(sparse_map, key, value)
        else:
            records[key] = value
    if sparse_map:
        records[GNU_SPARSE_MAP] = b",".join(sparse_map)
    return records


def _add_sparse_pair(sparse_map: list[bytes], key: bytes, value: bytes) -> None:
    """GNU sparse 0.0: alternating ``offset``/``numbytes`` records, later one ``map``."""
    expected = GNU_SPARSE_OFFSET if len(sparse_map) % 2 == 0 else GNU_SPARSE_NUMBYTES
    if key != expected or b"," in value:
        raise HeaderError("invalid GNU sparse 0.0 record")
    sparse_map.append(value)


def parse_long_name(data: bytes) -> bytes:
    """GNU ``L``/``K`` payload: the bytes before the first NUL (empty means no override)."""
    return parse_string(data)


def check_pax_time(value: bytes) -> None:
    """``atime``/``ctime``: Go parses them (failing the entry if invalid), soci keeps neither."""
    whole, _, fraction = value.partition(b".")
    if not (whole.isdigit() and len(whole) < 19 and (not fraction or fraction.isdigit())):
        parse_pax_time(value)  # not the plain form: let Go's rules decide


#: The records Go's ``mergePAX`` interprets -> the FileMetadata field they set (-1: none,
#: parsed as Go does but not kept by soci).
FIELDS = {
    PATH: E.NAME,
    LINKPATH: E.LINKNAME,
    UNAME: E.UNAME,
    GNAME: E.GNAME,
    UID: E.UID,
    GID: E.GID,
    SIZE: E.SIZE,
    MTIME: E.MOD_TIME,
    ATIME: -1,
    CTIME: -1,
}


def pax_overrides(records: dict[bytes, bytes]) -> dict[int, Any]:
    """Go ``mergePAX``: the non-empty interpreted records, as FileMetadata index -> value.

    Every interpreted record is parsed (errors raise, even for atime/ctime, which soci does not
    keep); GNU sparse records are refused. uid/gid are cast to uint32 as soci stores them.
    """
    fields: dict[int, Any] = {}
    for key, value in records.items():
        index = FIELDS.get(key)
        if index is None:
            if key.startswith(GNU_SPARSE):
                raise UnsupportedError("unsupported PAX GNU sparse file")
        elif not value:
            continue  # Go keeps the header's value
        elif index == E.MOD_TIME:
            fields[index] = mod_time(*parse_pax_time(value))
        elif index < 0:
            check_pax_time(value)
        elif index in (E.NAME, E.LINKNAME, E.UNAME, E.GNAME):
            fields[index] = decode(value)
        else:
            number = parse_decimal(value)
            fields[index] = number if index == E.SIZE else number & 0xFFFFFFFF
    return fields
