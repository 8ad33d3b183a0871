"""What the CLI reads from flags and writes to stdout, independent of the terminal's locale.

Sizes accept units (``4MiB``, ``10MB``, ``65536``). Output never fails on a name that is not
UTF-8 (tar names are bytes; the model keeps them as surrogate escapes): JSON is written as
UTF-8 with such characters as ``\\udcXX`` escapes, which ``ztoc encode`` reads back byte-exact;
text shows the raw bytes as ``\\xXX``.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from typing import Any

_UNITS = {
    "": 1, "b": 1,
    "k": 1000, "kb": 1000, "m": 1000**2, "mb": 1000**2, "g": 1000**3, "gb": 1000**3,
    "kib": 1 << 10, "mib": 1 << 20, "gib": 1 << 30,
}  # fmt: skip
_SIZE_RE = re.compile(r"\s*([0-9]+)\s*([a-zA-Z]*)\s*")


def parse_size(text: str) -> int:
    """A byte count: an integer with an optional unit (B, kB/MB/GB = 1000^n, KiB/MiB/GiB)."""
    match = _SIZE_RE.fullmatch(text)
    unit = _UNITS.get(match.group(2).lower()) if match else None
    if match is None or unit is None:
        raise argparse.ArgumentTypeError(f"{text!r} is not a size (examples: 65536, 4MiB, 10MB)")
    return int(match.group(1)) * unit


def write_json(obj: Any) -> None:
    """Indented JSON on stdout, as UTF-8 whatever the locale says."""
    text = json.dumps(obj, indent=2, ensure_ascii=False) + "\n"
    _write_bytes(text.encode("utf-8", "backslashreplace"))


def write_text(text: str) -> None:
    """Text on stdout in its encoding; bytes that are not UTF-8 appear as ``\\xXX``."""
    raw = text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    encoding = getattr(sys.stdout, "encoding", None) or "utf-8"
    _write_bytes(raw.encode(encoding, "backslashreplace"))


def _write_bytes(data: bytes) -> None:
    sys.stdout.flush()
    sys.stdout.buffer.write(data)
    sys.stdout.buffer.flush()
