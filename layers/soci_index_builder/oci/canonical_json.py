"""Go ``encoding/json`` compatible encoding: the bytes soci and the snapshotter produce.

The snapshotter re-encodes every fetched SOCI index and stores it under the original digest,
so our bytes must equal Go's ``json.Marshal`` output (soci-format.md section 5.3). Go writes
struct fields in declaration order and map keys sorted; here a ``dict`` is written in insertion
order, so callers build struct-ordered dicts and pass Go maps (annotations) through
:func:`go_map`, which sorts them.

Escaping follows Go >= 1.22: ``"`` ``\\`` and the short forms ``\\b \\f \\n \\r \\t``, other
control characters as ``\\u00xx``; HTML-sensitive ``< > &`` and U+2028/U+2029 as ``\\uXXXX``;
invalid UTF-8 (lone surrogates here) as ``\\ufffd``; every other character raw UTF-8.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

# Characters json.dumps(ensure_ascii=False) leaves raw but Go escapes. They only occur inside
# strings in the dumped text (structural JSON is ASCII punctuation, digits and letters).
_GO_EXTRA_ESCAPES = re.compile("[<>&\u2028\u2029\ud800-\udfff]")
_GO_ESCAPE = {
    "<": "\\u003c",
    ">": "\\u003e",
    "&": "\\u0026",
    "\u2028": "\\u2028",
    "\u2029": "\\u2029",
}


def _escape_extra(match: re.Match[str]) -> str:
    # A lone surrogate is an invalid byte Go would have held; it writes U+FFFD as an escape.
    return _GO_ESCAPE.get(match.group(), "\\ufffd")


def encode_string(value: str) -> str:
    """One JSON string literal exactly as Go writes it (quotes included)."""
    dumped = json.dumps(value, ensure_ascii=False)
    return _GO_EXTRA_ESCAPES.sub(_escape_extra, dumped)


def go_map(mapping: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of ``mapping`` with keys in Go's order for maps: ascending UTF-8 bytes."""
    return {key: mapping[key] for key in sorted(mapping, key=_utf8_key)}


def _utf8_key(key: str) -> bytes:
    return key.encode("utf-8", "surrogatepass")


def encode_canonical(obj: Any) -> bytes:
    """Encode ``obj`` (dicts in insertion order, lists, str, int, bool, None) like Go.

    Floats are refused: no OCI or SOCI structure has them, and Go formats them differently.
    """
    parts: list[str] = []
    _encode(obj, parts)
    return "".join(parts).encode("utf-8")


def _encode(obj: Any, out: list[str]) -> None:
    if isinstance(obj, str):
        out.append(encode_string(obj))
    elif obj is None or isinstance(obj, bool):
        out.append("null" if obj is None else ("true" if obj else "false"))
    elif isinstance(obj, int):
        out.append(str(int(obj)))
    elif isinstance(obj, Mapping):
        _encode_object(obj, out)
    elif isinstance(obj, list | tuple):
        out.append("[")
        for i, item in enumerate(obj):
            if i:
                out.append(",")
            _encode(item, out)
        out.append("]")
    else:
        raise TypeError(f"cannot encode {type(obj).__name__} as canonical JSON")


def _encode_object(obj: Mapping[Any, Any], out: list[str]) -> None:
    out.append("{")
    for i, (key, value) in enumerate(obj.items()):
        if not isinstance(key, str):
            raise TypeError(f"JSON object keys must be str, not {type(key).__name__}")
        if i:
            out.append(",")
        out.append(encode_string(key))
        out.append(":")
        _encode(value, out)
    out.append("}")
