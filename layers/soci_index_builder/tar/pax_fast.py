"""PAX records the fast way: for the well-formed ASCII payloads nearly every writer produces.

:func:`read_pax` gives the same result as :func:`~.pax.parse_records` then
:func:`~.pax.pax_overrides`, or defers to them (Go's exact rules and errors) for anything else.

Three tiers, fastest first:

* a *plan*: a payload whose shape (digits zeroed) was seen before is cut by one precompiled
  ``struct`` unpack; the shape fixes every key, separator and value position, so only the
  record length fields need checking;
* one regex scan (:func:`fast_records`) and plain-form value checks (:func:`fast_overrides`);
* the exact parser.

Plans and results live in the scan's :class:`~.memo.ScanMemo`, never in this module.
"""

from __future__ import annotations

import re
import struct
from collections.abc import Callable
from typing import Any

from . import entries as E
from .entries import whole_seconds_text
from .memo import ScanMemo, remember
from .pax import FIELDS, GNU_SPARSE, parse_records

Pairs = tuple[tuple[str, str], ...]
#: (unpack, expected length fields, keys, position of a non-empty mtime value or -1,
#: (value position, FileMetadata index) of the other non-empty interpreted records)
Plan = tuple[
    Callable[[bytes], tuple[Any, ...]],
    tuple[bytes, ...],
    tuple[str, ...],
    int,
    tuple[tuple[int, int], ...],
]

_ZERO_DIGITS = bytes.maketrans(b"123456789", b"000000000")
_PLAN_LIMIT = 1024
_RESULT_LIMIT = 4096
#: Payloads remembered before any was seen twice; then none, until one is: in a layer where
#: every payload differs (distinct sub-second mtimes) remembering them is pure cost.
_RESULT_PROBE = 64


def read_pax(
    payload: bytes, memo: ScanMemo
) -> tuple[Pairs, dict[int, Any] | None, dict[bytes, bytes] | None]:
    """(records as str pairs, overrides, raw records): overrides None means the caller must
    apply :func:`~.pax.pax_overrides` to the raw records (exact rules, errors at the entry).
    Raises HeaderError for a payload Go refuses."""
    result = memo.results.get(payload)
    if result is not None:
        memo.result_hits += 1
        return result
    shape = payload.translate(_ZERO_DIGITS)
    texts = memo.minutes
    plan: Plan | None = memo.plans.get(shape)
    if plan is not None:
        unpack, expected, keys, mtime_at, others = plan
        fields = unpack(payload)
        if fields[::2] == expected:
            values = list(map(bytes.decode, fields[1::2]))
            overrides: dict[int, Any] = {}
            if mtime_at >= 0:
                seconds, _, fraction = values[mtime_at].partition(".")
                text = whole_seconds_text(int(seconds), texts)
                fraction = fraction[:9].rstrip("0")
                overrides[E.MOD_TIME] = f"{text[:-1]}.{fraction}Z" if fraction and text else text
            for pos, index in others:
                overrides[index] = _convert(index, values[pos], texts)
            result = tuple(zip(keys, values, strict=True)), overrides, None
            if memo.result_hits or len(memo.results) < _RESULT_PROBE:
                remember(memo.results, payload, result, _RESULT_LIMIT)
            return result
    records = fast_records(payload)
    if records is None:
        raw = parse_records(payload)
        return tuple((_decode(k), _decode(v)) for k, v in raw.items()), None, raw
    fast = fast_overrides(records, texts)
    if fast is None:
        raw = {key.encode(): value.encode() for key, value in records.items()}
        return tuple(records.items()), None, raw
    if shape in memo.seen:
        plan = _make_plan(payload)
        if plan is not None:
            remember(memo.plans, shape, plan, _PLAN_LIMIT)
    else:
        if len(memo.seen) >= _PLAN_LIMIT:
            memo.seen.clear()
        memo.seen.add(shape)
    return tuple(records.items()), fast, None


def _decode(raw: bytes) -> str:
    return raw.decode("utf-8", "surrogateescape")


def _make_plan(payload: bytes) -> Plan | None:
    """The plan for payloads of this one's shape (:func:`fast_records` and
    :func:`fast_overrides` accepted it): None when a key holds a digit (keys must be fixed by
    the shape) or repeats (the dict would differ from the record list)."""
    found = _RECORD.findall(payload.decode("ascii"))
    keys = tuple(key for _, key, _ in found)
    if len(set(keys)) != len(keys) or any(map(_DIGIT.search, keys)):
        return None
    layout = "".join(f"{len(d)}s{len(k) + 2}x{len(v)}s1x" for d, k, v in found)
    expected = tuple(digits.encode() for digits, _, _ in found)
    applied = [
        (pos, _STR_FIELDS[key])
        for pos, (_, key, value) in enumerate(found)
        if value and _STR_FIELDS.get(key, -1) >= 0
    ]
    mtime_at = next((pos for pos, index in applied if index == E.MOD_TIME), -1)
    others = tuple((pos, index) for pos, index in applied if index != E.MOD_TIME)
    return (struct.Struct(layout).unpack, expected, keys, mtime_at, others)


def _convert(index: int, value: str, texts: dict[int, str]) -> Any:
    """An override value of the plain form (as :func:`fast_overrides` checked it)."""
    if index == E.MOD_TIME:
        seconds, _, fraction = value.partition(".")
        return _pax_mod_time(seconds, fraction, texts)
    if index in _NUMERIC:
        return int(value) if index == E.SIZE else int(value) & 0xFFFFFFFF
    return value


_DIGIT = re.compile(r"[0-9]")
_RECORD = re.compile(r"([0-9]+) ([^=\n]+)=([^\n]*)\n")
_PAX_TIME = re.compile(r"([0-9]{1,18})(?:\.([0-9]*))?")
_DECIMAL = re.compile(r"[0-9]{1,18}")
_STR_FIELDS = {key.decode(): index for key, index in FIELDS.items()}
_NUMERIC = frozenset((E.UID, E.GID, E.SIZE))


def fast_records(payload: bytes) -> dict[str, str] | None:
    """:func:`parse_records` of an ASCII payload without NUL or GNU sparse records, as str.

    None for anything else (the caller uses :func:`parse_records`). One regex scan: the
    records it finds are Go's exactly when each one's length field is its length and they
    tile the payload.
    """
    if not payload.isascii() or 0 in payload or GNU_SPARSE in payload:
        return None
    text = payload.decode("ascii")
    records: dict[str, str] = {}
    total = 0
    for digits, key, value in _RECORD.findall(text):
        length = int(digits)
        if length != len(digits) + len(key) + len(value) + 3:
            return None
        total += length
        records[key] = value
    return records if total == len(text) else None


def fast_overrides(records: dict[str, str], texts: dict[int, str]) -> dict[int, Any] | None:
    """:func:`pax_overrides` of :func:`fast_records` output when every value has the plain form
    (unsigned decimals, times without sign); None otherwise (the caller uses the exact one).
    ``texts`` is the scan's ``ScanMemo.minutes``."""
    fields: dict[int, Any] = {}
    for key in _STR_FIELDS.keys() & records.keys():
        value = records[key]
        if not value:
            continue
        index = _STR_FIELDS[key]
        if index == E.MOD_TIME or index < 0:
            match = _PAX_TIME.fullmatch(value)
            if match is None:
                return None
            if index > 0:
                seconds, fraction = match.groups()
                fields[index] = _pax_mod_time(seconds, fraction, texts)
        elif index in _NUMERIC:
            if _DECIMAL.fullmatch(value) is None:
                return None
            fields[index] = int(value) if index == E.SIZE else int(value) & 0xFFFFFFFF
        else:
            fields[index] = value
    return fields


def _pax_mod_time(seconds: str, fraction: str | None, texts: dict[int, str]) -> str:
    """``mod_time`` of a plain PAX time: the whole-second text plus the fraction."""
    text = whole_seconds_text(int(seconds), texts)
    nanos = fraction[:9].rstrip("0") if fraction else ""
    return f"{text[:-1]}.{nanos}Z" if nanos and text else text
