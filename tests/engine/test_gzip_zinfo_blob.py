"""zinfo blob v2/v1 (soci-format.md 4.1), mirroring soci's TestNewGzipZinfo, plus resume
helpers (span ranges, span lookup, member crossing)."""

from __future__ import annotations

import hashlib
import struct

import pytest
from hypothesis import given
from hypothesis import strategies as st

from soci_index_builder.errors import GzipFormatError
from soci_index_builder.gzip._feed import SpanHasher
from soci_index_builder.gzip.inflate import (
    inflate_from_checkpoint,
)
from soci_index_builder.gzip.zinfo_blob import (
    RECORD_SIZE,
    decode_zinfo_blob,
    encode_zinfo_blob,
    zinfo_blob_size,
)
from soci_index_builder.ztoc.model import WINDOW_SIZE, Checkpoint
from soci_index_builder.ztoc.spans import GzipSpans

from .test_gzip_properties import Member, gzip_member, run_checkpointer

ZERO = bytes(WINDOW_SIZE)


@pytest.mark.parametrize(
    "blob",
    [b"", b"\x00", b"\xff\x00\x00\x00" + bytes(8), b"\xff\xff\xff\xff" + bytes(8)],
    ids=["empty", "short", "255-without-records", "negative-count"],
)
def test_rejected_blobs(blob: bytes) -> None:
    with pytest.raises(GzipFormatError):
        decode_zinfo_blob(blob)


def test_zero_checkpoints_v2() -> None:
    assert decode_zinfo_blob(bytes(12)) == (0, [])


def test_v1_with_only_the_implied_checkpoint() -> None:
    assert decode_zinfo_blob(b"\x01\x00\x00\x00" + bytes(8)) == (0, [Checkpoint(10, 0, 0, ZERO)])


def test_v1_with_records_prepends_checkpoint_0() -> None:
    cps = [Checkpoint(10, 0, 0, ZERO), Checkpoint(500, 9000, 3, b"\x07" * WINDOW_SIZE)]
    v2 = encode_zinfo_blob(cps, 1234)
    v1 = v2[:12] + v2[12 + RECORD_SIZE :]  # soci v1: record 0 omitted, n unchanged
    assert decode_zinfo_blob(v1) == (1234, cps)


def test_layout_is_little_endian_in_then_out() -> None:
    blob = encode_zinfo_blob([Checkpoint(0x0102, 0x0304, 5, b"w" * WINDOW_SIZE)], 4194304)
    assert blob[:12] == struct.pack("<iq", 1, 4194304)
    assert blob[12:29] == struct.pack("<qqB", 0x0102, 0x0304, 5)
    assert blob[29:] == b"w" * WINDOW_SIZE
    assert len(blob) == zinfo_blob_size(1) == 12 + 32785


def test_window_size_is_enforced() -> None:
    with pytest.raises(ValueError):
        encode_zinfo_blob([Checkpoint(10, 0, 0, b"short")], 1)


@given(
    st.lists(
        st.builds(
            Checkpoint,
            st.integers(0, 2**62),
            st.integers(0, 2**62),
            st.integers(0, 7),
            st.binary(min_size=1, max_size=1).map(lambda b: b * WINDOW_SIZE),
        ),
        max_size=4,
    ),
    st.integers(0, 2**62),
)
def test_round_trip(cps: list[Checkpoint], span: int) -> None:
    assert decode_zinfo_blob(encode_zinfo_blob(cps, span)) == (span, cps)


def _cp(cin: int, out: int, bits: int) -> Checkpoint:
    return Checkpoint(cin, out, bits, ZERO)


def test_span_ranges_share_the_partial_byte() -> None:
    cps = [_cp(10, 0, 0), _cp(314, 4096, 0), _cp(703, 8192, 5)]
    spans = GzipSpans(cps, 7580, 9000)
    assert [spans.span(i)[1:3] for i in range(3)] == [(10, 314), (314, 703), (702, 7580)]
    with pytest.raises(IndexError):
        spans.span(3)


def test_span_for_offset_matches_soci_linear_scan() -> None:
    cps = [_cp(10, 0, 0), _cp(20, 0, 0), _cp(30, 100, 0), _cp(40, 250, 1)]
    spans = GzipSpans(cps, 50, 300)
    assert [spans.span_of(o) for o in (0, 99, 100, 249, 250, 10**9)] == [1, 1, 2, 2, 3, 3]


def test_resume_crosses_several_members() -> None:
    parts = [bytes([i]) * (20000 + i * 3000) for i in range(5)]
    blob = b"".join(gzip_member(Member([(p, 0)], fname=b"m%d" % i)) for i, p in enumerate(parts))
    plain = b"".join(parts)
    _, c = run_checkpointer(blob, 1 << 30)
    assert len(c.checkpoints) == 1
    cp = c.checkpoints[0]
    assert inflate_from_checkpoint(blob[cp.compressed_offset :], cp, 0, len(plain)) == plain
    assert (
        inflate_from_checkpoint(blob[cp.compressed_offset :], cp, 90000, 30000)
        == plain[90000:120000]
    )


def test_span_hasher_shares_the_last_byte_of_the_previous_chunk() -> None:
    """A mid-byte checkpoint at a chunk's very start: its span begins in the previous chunk."""
    blob = bytes(range(40))
    h = SpanHasher()
    h.feed(memoryview(blob[:10]), 10, [(0, 0)])  # checkpoint 0 at in=0
    h.feed(memoryview(blob[10:25]), 15, [(0, 1)])  # checkpoint at in=10, bits != 0
    h.feed(memoryview(blob[25:]), 15, [(5, 1)])  # checkpoint at in=30, bits != 0
    digests = h.finish()
    want = [blob[0:10], blob[9:30], blob[29:40]]
    assert digests == ["sha256:" + hashlib.sha256(w).hexdigest() for w in want]
