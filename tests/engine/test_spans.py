"""Span arithmetic (soci-format.md 4.4, 4.5), checked against every vector's span digests."""

from __future__ import annotations

import hashlib
import struct

import pytest
from hypothesis import given
from hypothesis import strategies as st

from soci_index_builder.ztoc.codec import decode_ztoc
from soci_index_builder.ztoc.model import Checkpoint
from soci_index_builder.ztoc.spans import (
    GzipSpans,
    Span,
    UncompressedSpans,
    uncompressed_max_span_id,
)
from soci_index_builder.ztoc.tar_zinfo import decode_tar_zinfo

from .test_ztoc_codec_golden import EXPECTED, VECTORS

RECORD = 8 + 8 + 1 + 32768


def _gzip_points(blob: bytes) -> list[tuple[int, int, int]]:
    """(in, out, bits) of a zinfo v2 blob (section 4.1), windows skipped."""
    n, _span = struct.unpack_from("<iq", blob, 0)
    assert len(blob) == 12 + n * RECORD
    return [struct.unpack_from("<qqB", blob, 12 + i * RECORD) for i in range(n)]


def _spans(v: dict[str, object], blob: bytes) -> GzipSpans | UncompressedSpans:
    z = decode_ztoc((VECTORS / str(v["ztoc_file"])).read_bytes())
    c, u = z.compressed_archive_size, z.uncompressed_archive_size
    if v["compression"] == "uncompressed":
        span_size, size = decode_tar_zinfo(z.compression.checkpoints)
        assert size == c
        return UncompressedSpans(span_size, c, u)
    return GzipSpans(_gzip_points(z.compression.checkpoints), c, u)


@pytest.mark.parametrize("v", EXPECTED, ids=[v["id"] for v in EXPECTED])
def test_span_digests_match_vectors(v: dict[str, object]) -> None:
    blob = (VECTORS / str(v["input"])).read_bytes()
    spans = _spans(v, blob)
    assert spans.max_span_id == v["max_span_id"]
    assert len(spans) == spans.max_span_id + 1
    digests = []
    for i in range(len(spans)):
        s = spans.span(i)
        digests.append(
            "sha256:" + hashlib.sha256(blob[s.compressed_start : s.compressed_end]).hexdigest()
        )
    assert digests == v["span_digests"]
    assert spans.span(spans.max_span_id).compressed_end == len(blob)


def test_g1_table() -> None:
    """Spot checks of section 6.3's G1 table (bits != 0 moves the start back one byte)."""
    (g1,) = (v for v in EXPECTED if v["id"] == "G1")
    spans = _spans(g1, b"")
    assert spans.span(0) == Span(0, 10, 314, 0, 4096)
    assert spans.span(2) == Span(2, 702, 1091, 8192, 12288)
    assert spans.span(23) == Span(23, 7569, 7580, 92160, 86528)  # beyond usize (4.4 quirk)
    assert spans.span_of(0) == 0
    assert spans.span_of(4095) == 0
    assert spans.span_of(4096) == 1
    assert spans.span_of(86527) == 21
    assert spans.span_of(10**9) == 23


def test_gzip_accepts_checkpoints_and_errors() -> None:
    cps = [Checkpoint(10, 0, 0, b""), Checkpoint(100, 5000, 3, b"")]
    spans = GzipSpans(cps, 200, 6000)
    assert spans.span(1) == Span(1, 99, 200, 5000, 6000)
    with pytest.raises(IndexError):
        spans.span(2)
    with pytest.raises(ValueError):
        spans.span_of(-1)


def test_uncompressed_bounds() -> None:
    spans = UncompressedSpans(4096, 92160, 86528)
    assert spans.max_span_id == 22
    assert spans.span(0) == Span(0, 0, 4096, 0, 4096)
    assert spans.span(22) == Span(22, 90112, 92160, 90112, 86528)
    assert spans.span_of(4095) == 0
    assert spans.span_of(4096) == 1
    assert spans.span_of(10**9) == 22
    with pytest.raises(IndexError):
        spans.span(23)


@pytest.mark.parametrize(
    ("span", "size", "expected"), [(4096, 92160, 22), (4096, 8192, 1), (4096, 8193, 2), (10, 0, -1)]
)
def test_uncompressed_max_span_id(span: int, size: int, expected: int) -> None:
    assert uncompressed_max_span_id(span, size) == expected


def test_uncompressed_zero_span_rejected() -> None:
    with pytest.raises(ValueError, match="positive"):
        uncompressed_max_span_id(0, 10)


@given(st.integers(1, 5000), st.integers(1, 100000), st.data())
def test_uncompressed_spans_tile_the_blob(span: int, size: int, data: st.DataObject) -> None:
    spans = UncompressedSpans(span, size, size)
    assert spans.span(0).compressed_start == 0
    assert spans.span(spans.max_span_id).compressed_end == size
    for i in range(min(len(spans), 50) - 1):
        assert spans.span(i).compressed_end == spans.span(i + 1).compressed_start
    o = data.draw(st.integers(0, size - 1))
    s = spans.span(spans.span_of(o))
    assert s.uncompressed_start <= o < s.uncompressed_end


@given(st.lists(st.integers(1, 1000), min_size=1, max_size=20), st.data())
def test_gzip_span_of_is_largest_start_not_after(gaps: list[int], data: st.DataObject) -> None:
    outs = [0]
    for g in gaps[1:]:
        outs.append(outs[-1] + g)
    spans = GzipSpans([(10 + o, o, 0) for o in outs], 10**6, outs[-1] + 1)
    o = data.draw(st.integers(0, outs[-1] + 10))
    assert spans.span_of(o) == max(i for i, x in enumerate(outs) if x <= o)
