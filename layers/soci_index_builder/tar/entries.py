"""From a merged Go ``tar.Header`` to the zTOC ``FileMetadata`` soci stores (§3.3, §3.4, §3.8)."""

from __future__ import annotations

from collections.abc import Mapping

from .model import FileMetadata

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

# FileMetadata field positions, for entries built as lists and patched (PAX, GNU long names).
NAME, TYPE, SIZE, LINKNAME = (
    FileMetadata._fields.index(f) for f in ("name", "type", "uncompressed_size", "linkname")
)
UID, GID, UNAME, GNAME = (FileMetadata._fields.index(f) for f in ("uid", "gid", "uname", "gname"))
MOD_TIME, PAX_RECORDS = (
    FileMetadata._fields.index("mod_time"),
    FileMetadata._fields.index("pax_records"),
)


def fold_typeflag(typeflag: int, name: str) -> int:
    """Go: typeflag ``'\\0'`` becomes ``'5'`` when the (final) name ends in ``/``, else ``'0'``."""
    if typeflag != TYPE_REGA:
        return typeflag
    return TYPE_DIR if name.endswith("/") else TYPE_REG


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


_SECOND_TEXTS = tuple(b"%02dZ" % second for second in range(60))


def minute_prefix(minute: int) -> bytes:
    """``YYYY-MM-DDTHH:MM:`` of a minute since the epoch; b"" outside years 0..9999."""
    return _format_seconds(minute * 60).encode()[:-2]


def time_text(seconds: int, minutes: Mapping[int, bytes], fraction: bytes = b"") -> bytes:
    """``mod_time`` of ``seconds`` and the digits of a ``fraction`` of a second (at most nine,
    no trailing zeros), encoded, through ``minutes``: :func:`minute_prefix` memoized.

    A layer's files are mostly written within minutes of each other, so even when no two
    mtimes are alike the date arithmetic runs once per minute. Range edges are whole minutes.
    Bytes, as the TOC columns store it (tar/columns.py).
    """
    minute, second = divmod(seconds, 60)
    prefix = minutes[minute]
    if not prefix:
        return b""
    return (
        b"%s%02d.%sZ" % (prefix, second, fraction) if fraction else prefix + _SECOND_TEXTS[second]
    )


def mod_time(seconds: int, nanos: int = 0) -> str:
    """Go ``time.Unix(seconds, nanos).UTC().MarshalText()`` (RFC 3339, trimmed nanoseconds).

    soci formats in the process-local zone; this emits the ``TZ=UTC`` form (§3.8).
    """
    base = _format_seconds(seconds)
    if not base:
        return ""
    if not nanos:
        return base + "Z"
    return f"{base}.{nanos:09d}".rstrip("0") + "Z"
