"""From a merged Go ``tar.Header`` to the zTOC ``FileMetadata`` soci stores (§3.3, §3.4, §3.8)."""

from __future__ import annotations

from itertools import repeat

from ..ztoc.model import FileMetadata
from .header import Header

TYPE_REG = ord("0")
TYPE_REGA = 0  # old V7 regular file; Go folds it into '0' or '5'
TYPE_DIR = ord("5")
TYPE_XHEADER = ord("x")
TYPE_XGLOBAL = ord("g")
TYPE_GNU_LONGNAME = ord("L")
TYPE_GNU_LONGLINK = ord("K")

#: §3.4: the only typeflags soci accepts (after folding), and the string it stores.
TYPE_NAMES: dict[int, str] = {
    ord("0"): "reg",
    ord("1"): "hardlink",
    ord("2"): "symlink",
    ord("3"): "char",
    ord("4"): "block",
    ord("5"): "dir",
    ord("6"): "fifo",
}

#: Go ``isHeaderOnlyType``: no data section follows, whatever the size field says (§3.9).
HEADER_ONLY_TYPES = frozenset(b"123456")

# Go's time.MarshalText range: years 0000..9999 (UTC), in Unix seconds.
_MIN_SECONDS = -62167219200  # 0000-01-01T00:00:00Z
_MAX_SECONDS = 253402300799  # 9999-12-31T23:59:59Z
_CACHE_LIMIT = 1 << 16
_whole_seconds: dict[int, str] = {}
_SURROGATE = "surrogateescape"
# Endless argument streams for map(bytes.decode, values, _UTF8, _SURROGATES): no Python frame.
_UTF8 = repeat("utf-8")
_SURROGATES = repeat(_SURROGATE)


def fold_typeflag(typeflag: int, name: bytes) -> int:
    """Go: typeflag ``'\\0'`` becomes ``'5'`` when the (final) name ends in ``/``, else ``'0'``."""
    if typeflag != TYPE_REGA:
        return typeflag
    return TYPE_DIR if name.endswith(b"/") else TYPE_REG


def _civil_from_days(days: int) -> tuple[int, int, int]:
    """Proleptic Gregorian (year, month, day) of a day count since 1970-01-01 (H. Hinnant)."""
    z = days + 719468
    era = z // 146097
    doe = z - era * 146097
    yoe = (doe - doe // 1460 + doe // 36524 - doe // 146096) // 365
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    day = doy - (153 * mp + 2) // 5 + 1
    month = mp + 3 if mp < 10 else mp - 9
    return yoe + era * 400 + (month <= 2), month, day


def _format_seconds(seconds: int) -> str:
    """``YYYY-MM-DDTHH:MM:SS`` in UTC, or "" outside years 0..9999 (MarshalText fails there)."""
    if not _MIN_SECONDS <= seconds <= _MAX_SECONDS:
        return ""
    days, second_of_day = divmod(seconds, 86400)
    year, month, day = _civil_from_days(days)
    hour, rest = divmod(second_of_day, 3600)
    minute, second = divmod(rest, 60)
    return f"{year:04d}-{month:02d}-{day:02d}T{hour:02d}:{minute:02d}:{second:02d}"


def mod_time(seconds: int, nanos: int = 0) -> str:
    """Go ``time.Unix(seconds, nanos).UTC().MarshalText()`` (RFC 3339, trimmed nanoseconds).

    soci formats in the process-local zone; this emits the ``TZ=UTC`` form (§3.8).
    """
    if not nanos:
        text = _whole_seconds.get(seconds)
        if text is None:
            base = _format_seconds(seconds)
            text = base + "Z" if base else ""
            if len(_whole_seconds) >= _CACHE_LIMIT:
                _whole_seconds.clear()
            _whole_seconds[seconds] = text
        return text
    text = _whole_seconds.get(seconds) or mod_time(seconds)
    return f"{text[:-1]}.{nanos:09d}".rstrip("0") + "Z" if text else ""


def to_entry(
    header: Header, type_name: str, offset: int, records: dict[bytes, bytes] | None
) -> FileMetadata:
    """The TOC entry for a merged header whose data starts at ``offset``.

    Names and values are Go strings (raw bytes): decoded as UTF-8 with surrogate escapes, so
    ``.encode("utf-8", "surrogateescape")`` gives the exact bytes back. ``uid``/``gid`` are cast
    to uint32 as soci does when serializing (§2.1).
    """
    pax: tuple[tuple[str, str], ...] = ()
    if records:
        # Keys never hold NUL (parse_records refuses it): decode them in one go.
        keys = b"\0".join(records).decode("utf-8", _SURROGATE).split("\0")
        pax = tuple(
            zip(keys, map(bytes.decode, records.values(), _UTF8, _SURROGATES), strict=False)
        )
    # tuple.__new__ skips NamedTuple's Python-level __new__ (a measurable share per entry).
    return tuple.__new__(
        FileMetadata,
        (
            header.name.decode("utf-8", _SURROGATE),
            type_name,
            offset,
            header.size,
            header.linkname.decode("utf-8", _SURROGATE),
            header.mode,
            header.uid & 0xFFFFFFFF,
            header.gid & 0xFFFFFFFF,
            header.uname,
            header.gname,
            mod_time(header.mtime, header.mtime_nsec),
            header.devmajor,
            header.devminor,
            pax,
        ),
    )
