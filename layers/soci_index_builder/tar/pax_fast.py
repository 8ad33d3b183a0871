"""PAX records the fast way: for the well-formed ASCII payloads nearly every writer produces.

:func:`read_pax` gives the same records as :func:`~.pax.parse_records` and the same overrides
as :func:`~.pax.pax_overrides` (:func:`overrides_of`), or defers to them (Go's exact rules and
errors) for anything else. Three tiers, fastest first:

* a *plan*: a payload whose shape (digits zeroed) was seen before is cut by one precompiled
  ``struct`` unpack; the shape fixes every key, separator and value position, so only the
  record length fields need checking;
* one regex scan (:func:`fast_records`) and plain-form value checks (:func:`fast_overrides`);
* the exact parser.

The result keeps values as the payload's bytes, which is what the TOC columns store, and
singles out the common case the scanner adds without building an entry: a header whose only
interpreted records are ``mtime`` and ``path`` (Python's and GNU tar's sub-second times, Go's
long names). Plans and results live in the scan's :class:`~.memo.ScanMemo`, never here.
"""

from __future__ import annotations

import re
import struct
from collections.abc import Callable
from typing import Any

from . import entries as E
from .entries import time_text
from .header import decode
from .memo import Memo, ScanMemo, remember
from .pax import FIELDS, GNU_SPARSE, parse_records, pax_overrides

Pairs = tuple[tuple[str, str], ...]
#: What :func:`read_pax` returns: (keys, values, simple, mtime, path, overrides, raw).
#:
#: * keys and values: Go's records in order (a repeated key keeps its last value), values as
#:   the payload's bytes;
#: * simple: True when the only non-empty interpreted records are ``mtime`` and ``path``, in
#:   their plain form; then ``mtime`` is the entry's ``mod_time`` text (or None) and ``path``
#:   its name (or None), and overrides and raw are None;
#: * otherwise ``overrides`` (FileMetadata index -> value), or None with ``raw`` the records
#:   for :func:`~.pax.pax_overrides` to apply Go's exact rules (errors at the entry).
PaxHeader = tuple[
    tuple[str, ...],
    tuple[bytes, ...],
    bool,
    bytes | None,
    bytes | None,
    dict[int, Any] | None,
    dict[bytes, bytes] | None,
]
#: (unpack, expected length fields, keys, position of a non-empty mtime value or -1, of a
#: non-empty path or -1, (value position, FileMetadata index) of the other non-empty
#: interpreted records)
Plan = tuple[
    Callable[[bytes], tuple[bytes, ...]],
    tuple[bytes, ...],
    tuple[str, ...],
    int,
    int,
    tuple[tuple[int, int], ...],
]

_ZERO_DIGITS = bytes.maketrans(b"123456789", b"000000000")
_PLAN_LIMIT = 1024
_RESULT_LIMIT = 4096
#: Payloads remembered before any was seen twice; then none, until one is: in a layer where
#: every payload differs (distinct sub-second mtimes) remembering them is pure cost.
_RESULT_PROBE = 64


def read_pax(payload: bytes, memo: ScanMemo) -> PaxHeader:
    """The records of one ``x`` payload (see :data:`PaxHeader`). Raises HeaderError for a
    payload Go refuses."""
    result = memo.results.get(payload)
    if result is not None:
        memo.result_hits += 1
        return result
    shape = payload.translate(_ZERO_DIGITS)
    plan: Plan | None = memo.plans.get(shape)
    if plan is not None:
        unpack, expected, keys, mtime_at, path_at, others = plan
        fields = unpack(payload)
        if fields[::2] == expected:
            values = fields[1::2]
            mtime = None if mtime_at < 0 else pax_time_text(values[mtime_at], memo.minutes)
            path = None if path_at < 0 else values[path_at]
            if others:
                overrides = {index: _convert(index, values[pos], memo) for pos, index in others}
                _add_simple(overrides, mtime, path)
                result = keys, values, False, None, None, overrides, None
            else:
                result = keys, values, True, mtime, path, None, None
            if memo.result_hits or len(memo.results) < _RESULT_PROBE:
                remember(memo.results, payload, result, _RESULT_LIMIT)
            return result
    records = fast_records(payload)
    fast = None if records is None else fast_overrides(records, memo)
    if records is None:
        records = parse_records(payload)
    keys, values = tuple(map(decode, records)), tuple(records.values())
    if fast is None:
        return keys, values, False, None, None, None, records
    _note_shape(payload, shape, memo)
    if fast.keys() <= _SIMPLE:
        mtime, path = fast.get(E.MOD_TIME), fast.get(E.NAME)
        return keys, values, True, _enc(mtime), _enc(path), None, None
    return keys, values, False, None, None, fast, None


def overrides_of(header: PaxHeader) -> dict[int, Any]:
    """Go ``mergePAX``'s changes to an entry (FileMetadata index -> value); raises
    HeaderError where Go's exact rules refuse a record."""
    _, _, simple, mtime, path, overrides, raw = header
    if raw is not None:
        return pax_overrides(raw)
    if overrides is not None:
        return overrides
    assert simple
    found: dict[int, Any] = {}
    _add_simple(found, mtime, path)
    return found


def pairs_of(header: PaxHeader) -> Pairs:
    """The records as the ``FileMetadata.pax_records`` pairs."""
    return tuple(zip(header[0], map(decode, header[1]), strict=True))


def pax_time_text(value: bytes, minutes: Memo[int, bytes]) -> bytes:
    """``mod_time`` of a plain PAX time (``[0-9]{1,18}(\\.[0-9]*)?``): the whole-second text
    with the fraction, cut to nanoseconds and trimmed, as Go's ``MarshalText`` writes it."""
    whole, _, fraction = value.partition(b".")
    return time_text(int(whole), minutes, fraction[:9].rstrip(b"0"))


def _add_simple(overrides: dict[int, Any], mtime: bytes | None, path: bytes | None) -> None:
    if mtime is not None:
        overrides[E.MOD_TIME] = mtime.decode()
    if path is not None:
        overrides[E.NAME] = path.decode()


def _enc(text: str | None) -> bytes | None:
    return None if text is None else text.encode()


def _note_shape(payload: bytes, shape: bytes, memo: ScanMemo) -> None:
    """A shape seen twice gets a plan (most layers repeat a few shapes many times)."""
    if shape in memo.seen:
        plan = _make_plan(payload)
        if plan is not None:
            remember(memo.plans, shape, plan, _PLAN_LIMIT)
    else:
        if len(memo.seen) >= _PLAN_LIMIT:
            memo.seen.clear()
        memo.seen.add(shape)


def _make_plan(payload: bytes) -> Plan | None:
    """The plan for payloads of this one's shape (:func:`fast_records` and
    :func:`fast_overrides` accepted it): None when a key holds a digit (keys must be fixed by
    the shape) or repeats (the dict would differ from the record list)."""
    found = _RECORD.findall(payload)
    keys = tuple(key.decode() for _, key, _ in found)
    if len(set(keys)) != len(keys) or any(map(_DIGIT.search, keys)):
        return None
    layout = "".join(f"{len(d)}s{len(k) + 2}x{len(v)}s1x" for d, k, v in found)
    expected = tuple(digits for digits, _, _ in found)
    applied = [
        (pos, FIELDS[key])
        for pos, (_, key, value) in enumerate(found)
        if value and FIELDS.get(key, -1) >= 0
    ]
    mtime_at = next((pos for pos, index in applied if index == E.MOD_TIME), -1)
    path_at = next((pos for pos, index in applied if index == E.NAME), -1)
    others = tuple((pos, index) for pos, index in applied if index not in _SIMPLE)
    return struct.Struct(layout).unpack, expected, keys, mtime_at, path_at, others


def _convert(index: int, value: bytes, memo: ScanMemo) -> Any:
    """An override value of the plain form (as :func:`fast_overrides` checked it)."""
    if index == E.MOD_TIME:
        return pax_time_text(value, memo.minutes).decode()
    if index in _NUMERIC:
        return int(value) if index == E.SIZE else int(value) & 0xFFFFFFFF
    return value.decode()


_DIGIT = re.compile(r"[0-9]")
_RECORD = re.compile(rb"([0-9]+) ([^=\n]+)=([^\n]*)\n")
_PAX_TIME = re.compile(rb"[0-9]{1,18}(?:\.[0-9]*)?")
_DECIMAL = re.compile(rb"[0-9]{1,18}")
_NUMERIC = frozenset((E.UID, E.GID, E.SIZE))
#: The overrides of a *simple* header (see :data:`PaxHeader`).
_SIMPLE = frozenset((E.MOD_TIME, E.NAME))


def fast_records(payload: bytes) -> dict[bytes, bytes] | None:
    """:func:`parse_records` of an ASCII payload without NUL or GNU sparse records.

    None for anything else (the caller uses :func:`parse_records`). One regex scan: the
    records it finds are Go's exactly when each one's length field is its length and they
    tile the payload.
    """
    if not payload.isascii() or 0 in payload or GNU_SPARSE in payload:
        return None
    records: dict[bytes, bytes] = {}
    total = 0
    for digits, key, value in _RECORD.findall(payload):
        length = int(digits)
        if length != len(digits) + len(key) + len(value) + 3:
            return None
        total += length
        records[key] = value
    return records if total == len(payload) else None


def fast_overrides(records: dict[bytes, bytes], memo: ScanMemo) -> dict[int, Any] | None:
    """:func:`~.pax.pax_overrides` of :func:`fast_records` output when every value has the
    plain form (unsigned decimals, times without sign); None otherwise (the caller uses the
    exact one)."""
    fields: dict[int, Any] = {}
    for key in FIELDS.keys() & records.keys():
        value = records[key]
        if not value:
            continue
        index = FIELDS[key]
        if index == E.MOD_TIME or index < 0:
            if _PAX_TIME.fullmatch(value) is None:
                return None
            if index > 0:
                fields[index] = _convert(index, value, memo)
        elif index in _NUMERIC and _DECIMAL.fullmatch(value) is None:
            return None
        else:
            fields[index] = _convert(index, value, memo)
    return fields
