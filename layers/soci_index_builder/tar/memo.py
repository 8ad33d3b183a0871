"""Per-scan memo tables: decoded header pieces and PAX plans, keyed by their raw bytes.

A layer repeats most header pieces (owner and mode, typeflag, linkname, prefix, whole PAX
header blocks and payload shapes), so a scan decodes each distinct piece once. The tables
belong to one :class:`~.scanner.TarScanner` and die with it: nothing outlives a build, so a
warm Lambda that indexes thousands of layers keeps a flat memory profile
(docs/performance.md). Each table is cleared when it reaches its limit, so a layer whose
pieces never repeat costs a bounded amount, not memory per entry.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from .header import Tail
    from .pax_fast import Pairs

#: Entries per table before it is cleared (keys are at most a few hundred bytes).
LIMIT = 1 << 14
#: Whole 512-byte PAX header blocks are larger keys: fewer of them.
BLOCK_LIMIT = 1 << 11

_T = TypeVar("_T")
_K = TypeVar("_K")


class ScanMemo:
    """The memo tables of one scan (see the module docstring)."""

    __slots__ = ("ids", "minutes", "plans", "result_hits", "results", "seen", "tails")

    def __init__(self) -> None:
        #: Raw mode+uid+gid -> (mode, uid, gid), uid and gid cast to uint32 as soci stores them.
        self.ids: dict[bytes, tuple[int, int, int]] = {}
        #: Raw rest of a header block (from the typeflag on) -> :class:`~.header.Tail`.
        self.tails: dict[bytes, Tail] = {}
        #: Minutes since the epoch -> ``YYYY-MM-DDTHH:MM:`` (entries.whole_seconds_text).
        self.minutes: dict[int, str] = {}
        #: PAX payload shape (digits zeroed) -> its plan (see pax_fast); shapes seen once.
        self.plans: dict[bytes, Any] = {}
        self.seen: set[bytes] = set()
        #: PAX payloads read by a plan -> the result (callers never mutate it).
        self.results: dict[bytes, tuple[Pairs, dict[int, Any], None]] = {}
        self.result_hits = 0


def remember(cache: dict[_K, _T], key: _K, value: _T, limit: int = LIMIT) -> _T:
    """``cache[key] = value`` (the cache is cleared first when full); returns ``value``."""
    if len(cache) >= limit:
        cache.clear()
    cache[key] = value
    return value


def cached(cache: dict[bytes, _T], key: bytes, parse: Callable[[bytes], _T]) -> _T:
    """``parse(key)``, remembered in ``cache``."""
    return remember(cache, key, parse(key))
