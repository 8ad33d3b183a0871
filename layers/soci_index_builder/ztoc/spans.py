"""Span arithmetic (soci-format.md sections 4.4 and 4.5): pure integers, no I/O.

A span is the unit of lazy fetching. ``max_span_id`` = number of spans - 1. Compressed bounds
are byte ranges of the layer blob (what is fetched and digested); uncompressed bounds are
offsets in the tar stream.
"""

from __future__ import annotations

from bisect import bisect_right
from typing import TYPE_CHECKING, NamedTuple

if TYPE_CHECKING:
    from collections.abc import Iterable

__all__ = ["GzipSpans", "Span", "UncompressedSpans", "uncompressed_max_span_id"]


class Span(NamedTuple):
    """Span ``id``: blob bytes ``[compressed_start, compressed_end)`` hold tar bytes from
    ``uncompressed_start`` (end: next span's start, or ``uncompressed_archive_size``)."""

    id: int
    compressed_start: int
    compressed_end: int
    uncompressed_start: int
    uncompressed_end: int


class GzipSpans:
    """Spans from gzip checkpoints ``(in, out, bits)`` in checkpoint order (section 4.4).

    ``checkpoints`` may be :class:`~soci_index_builder.ztoc.model.Checkpoint` values (the
    window is ignored) or plain ``(in, out, bits)`` tuples.
    """

    __slots__ = ("_bits", "_ins", "_outs", "compressed_size", "uncompressed_size")

    def __init__(
        self,
        checkpoints: Iterable[tuple[int, int, int] | tuple[int, int, int, bytes]],
        compressed_size: int,
        uncompressed_size: int,
    ) -> None:
        points = [(c[0], c[1], c[2]) for c in checkpoints]
        self._ins = [p[0] for p in points]
        self._outs = [p[1] for p in points]
        self._bits = [p[2] for p in points]
        self.compressed_size = compressed_size
        self.uncompressed_size = uncompressed_size

    def __len__(self) -> int:
        return len(self._ins)

    @property
    def max_span_id(self) -> int:
        """Number of checkpoints - 1 (the value soci stores, int32)."""
        return len(self._ins) - 1

    def compressed_start(self, i: int) -> int:
        """``in_i - 1`` when checkpoint i starts mid-byte (bits != 0), else ``in_i``."""
        return self._ins[i] - 1 if self._bits[i] else self._ins[i]

    def span(self, i: int) -> Span:
        """Bounds of span ``i``; the last one ends at the blob / archive size."""
        if not 0 <= i < len(self._ins):
            raise IndexError(f"span {i} out of range 0..{self.max_span_id}")
        last = i == len(self._ins) - 1
        return Span(
            i,
            self.compressed_start(i),
            self.compressed_size if last else self._ins[i + 1],
            self._outs[i],
            self.uncompressed_size if last else self._outs[i + 1],
        )

    def span_of(self, uncompressed_offset: int) -> int:
        """Largest ``i`` with ``out_i <= offset`` (soci's ``pt_index_from_ucmp_offset``)."""
        i = bisect_right(self._outs, uncompressed_offset) - 1
        if i < 0:
            raise ValueError(f"offset {uncompressed_offset} precedes the first checkpoint")
        return i


def uncompressed_max_span_id(span_size: int, size: int) -> int:
    """``size div span_size``, minus 1 when it divides exactly (section 4.5)."""
    if span_size <= 0:
        raise ValueError(f"span size must be positive, got {span_size}")
    return size // span_size - (1 if size % span_size == 0 else 0)


class UncompressedSpans:
    """Fixed-size spans of an uncompressed tar blob of ``compressed_size`` bytes (section 4.5)."""

    __slots__ = ("compressed_size", "max_span_id", "span_size", "uncompressed_size")

    def __init__(self, span_size: int, compressed_size: int, uncompressed_size: int) -> None:
        self.max_span_id = uncompressed_max_span_id(span_size, compressed_size)
        self.span_size = span_size
        self.compressed_size = compressed_size
        self.uncompressed_size = uncompressed_size

    def __len__(self) -> int:
        return self.max_span_id + 1

    def span(self, i: int) -> Span:
        """``[i*S, min((i+1)*S, C))``; the last span's uncompressed end is the archive size."""
        if not 0 <= i <= self.max_span_id:
            raise IndexError(f"span {i} out of range 0..{self.max_span_id}")
        start = i * self.span_size
        end = min(start + self.span_size, self.compressed_size)
        last = i == self.max_span_id
        return Span(i, start, end, start, self.uncompressed_size if last else end)

    def span_of(self, uncompressed_offset: int) -> int:
        """Largest ``i`` with ``i*S <= offset`` (clamped to ``max_span_id``)."""
        if uncompressed_offset < 0 or self.max_span_id < 0:
            raise ValueError(f"offset {uncompressed_offset} is in no span")
        return min(uncompressed_offset // self.span_size, self.max_span_id)
