"""Per-scan memo tables: decoded header pieces and PAX plans, keyed by their raw bytes.

A layer repeats most header pieces (owner and mode, typeflag, linkname, prefix, sizes and
mtimes of files written together, checksum values, PAX payload shapes), so a scan decodes
each distinct piece once and the scanner's fast path is a handful of dictionary lookups
(docs/performance.md). The tables belong to one :class:`~.scanner.TarScanner` and die with it:
nothing outlives a build, so a warm Lambda that indexes thousands of layers keeps a flat
memory profile. Each table is cleared when it reaches its limit, so a layer whose pieces
never repeat costs a bounded amount, not memory per entry.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from .entries import minute_prefix
from .header import fast_octal

if TYPE_CHECKING:
    from .pax_fast import PaxHeader

#: Entries per table before it is cleared (keys are at most a few hundred bytes).
LIMIT = 1 << 14

_T = TypeVar("_T")
_K = TypeVar("_K")

#: A memoized header tail: :class:`~.header.Tail`'s fields (typeflag, linkname, uname, gname,
#: devmajor, devminor, prefix), then the checksum's constant part: the byte sum of the tail
#: plus 255 (the checksum field counted as eight spaces, less adler32's initial 1).
TailMemo = tuple[int, str, str, str, int, int, bytes, int]


class Memo(dict[_K, _T]):
    """A bounded dict that makes a missing value with ``make`` on first lookup.

    ``memo[key]`` costs one C-level lookup on a hit; on a miss ``__missing__`` makes and
    remembers the value (the table is cleared first when full).
    """

    __slots__ = ("_limit", "_make")

    def __init__(self, make: Callable[[_K], _T], limit: int = LIMIT) -> None:
        super().__init__()
        self._make = make
        self._limit = limit

    def __missing__(self, key: _K) -> _T:
        if len(self) >= self._limit:
            self.clear()
        value = self[key] = self._make(key)
        return value


def checksum_text(total: int) -> bytes:
    """The checksum field every common writer (Go, GNU tar, libarchive, Python) makes for an
    unsigned byte sum: six octal digits, NUL, space. Go accepts it (``parseOctal``)."""
    return b"%06o\x00 " % total


class ScanMemo:
    """The memo tables of one scan (see the module docstring)."""

    __slots__ = (
        "checksums",
        "ids",
        "minutes",
        "numbers",
        "plans",
        "result_hits",
        "results",
        "seen",
        "tails",
    )

    def __init__(self) -> None:
        #: Raw mode+uid+gid -> (mode, uid, gid), uid and gid cast to uint32 as soci stores them.
        self.ids: dict[bytes, tuple[int, int, int]] = {}
        #: Raw rest of a header block (from the typeflag on) -> :data:`TailMemo`.
        self.tails: dict[bytes, TailMemo] = {}
        #: Raw 12-byte size or mtime field -> its value, -1 when only the exact parser may
        #: read it (header.fast_octal).
        self.numbers: Memo[bytes, int] = Memo(fast_octal)
        #: Minutes since the epoch -> ``YYYY-MM-DDTHH:MM:`` (entries.time_text).
        self.minutes: Memo[int, bytes] = Memo(minute_prefix)
        #: Unsigned header byte sum -> the checksum field that states it (:func:`checksum_text`).
        self.checksums: Memo[int, bytes] = Memo(checksum_text)
        #: PAX payload shape (digits zeroed) -> its plan (see pax_fast); shapes seen once.
        self.plans: dict[bytes, Any] = {}
        self.seen: set[bytes] = set()
        #: PAX payloads read by a plan -> the result (callers never mutate it).
        self.results: dict[bytes, PaxHeader] = {}
        self.result_hits = 0


def remember(cache: dict[_K, _T], key: _K, value: _T, limit: int = LIMIT) -> _T:
    """``cache[key] = value`` (the cache is cleared first when full); returns ``value``."""
    if len(cache) >= limit:
        cache.clear()
    cache[key] = value
    return value
