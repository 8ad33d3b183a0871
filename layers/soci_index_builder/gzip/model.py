"""Gzip resume points: the values the inflater produces and the zTOC stores (soci-format.md
section 4.1). Defined here, below ``ztoc``, so the engine's packages form no import cycle."""

from __future__ import annotations

from typing import NamedTuple

#: Uncompressed bytes of history each gzip checkpoint carries (section 4.1).
WINDOW_SIZE = 32768


class Checkpoint(NamedTuple):
    """A gzip resume point at a deflate block boundary (section 4.1)."""

    compressed_offset: int  # "in": compressed bytes consumed, counting a partial byte
    uncompressed_offset: int  # "out"
    bits: int  # bits of byte ``compressed_offset - 1`` that belong to the next block
    window: bytes  # the WINDOW_SIZE bytes of output before ``uncompressed_offset``
