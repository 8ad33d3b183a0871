"""GzipCheckpointer on generated gzip streams: output, placement, resume, digests, blobs.

Placement is checked against ``reference_checkpoints``, a literal transcription of soci's
``generate_zinfo_from_fp`` loop (soci-format.md 4.2/4.3: ``inflate(Z_BLOCK)`` on every call,
16 KiB input chunks, the whole output kept for windows), so the fast path's ``Z_NO_FLUSH``
capping and cross-member history are tested against the plain algorithm.
"""

from __future__ import annotations

import ctypes
import hashlib
import io
import struct
import zlib
from dataclasses import dataclass, field

from hypothesis import given, settings
from hypothesis import strategies as st

from soci_index_builder.gzip import _zlib as z
from soci_index_builder.gzip.backend import InflateBackend, libz_backend, zlib_ng_backend
from soci_index_builder.gzip.checkpoints import GzipCheckpointer
from soci_index_builder.gzip.inflate import (
    inflate_from_checkpoint,
    open_stream,
)
from soci_index_builder.gzip.zinfo_blob import decode_zinfo_blob, encode_zinfo_blob
from soci_index_builder.ztoc.model import WINDOW_SIZE, Checkpoint
from soci_index_builder.ztoc.spans import GzipSpans

#: Both inflate backends, forced: each must place the same checkpoints as soci's loop on libz.
BACKENDS = (libz_backend(), zlib_ng_backend())
LIBZ = BACKENDS[0]
FLUSHES = (zlib.Z_NO_FLUSH, zlib.Z_SYNC_FLUSH, zlib.Z_FULL_FLUSH, zlib.Z_BLOCK)
STRATEGIES = (
    zlib.Z_DEFAULT_STRATEGY,
    zlib.Z_FILTERED,
    zlib.Z_HUFFMAN_ONLY,
    zlib.Z_RLE,
    zlib.Z_FIXED,
)


@dataclass
class Member:
    """How to write one gzip member (header fields written by hand, RFC 1952)."""

    pieces: list[tuple[bytes, int]]  # (data, flush mode after it)
    level: int = 6
    strategy: int = zlib.Z_DEFAULT_STRATEGY
    fname: bytes | None = None
    fcomment: bytes | None = None
    fextra: bytes | None = None
    fhcrc: bool = False
    data: bytes = field(init=False)

    def __post_init__(self) -> None:
        self.data = b"".join(p for p, _ in self.pieces)


def gzip_header(m: Member) -> bytes:
    flags = (
        (2 if m.fhcrc else 0)
        | (4 if m.fextra is not None else 0)
        | (8 if m.fname is not None else 0)
        | (16 if m.fcomment is not None else 0)
    )
    head = bytearray(b"\x1f\x8b\x08" + bytes([flags]) + struct.pack("<I", 1700000000) + b"\x00\xff")
    if m.fextra is not None:
        head += struct.pack("<H", len(m.fextra)) + m.fextra
    if m.fname is not None:
        head += m.fname + b"\x00"
    if m.fcomment is not None:
        head += m.fcomment + b"\x00"
    if m.fhcrc:
        head += struct.pack("<H", zlib.crc32(head) & 0xFFFF)
    return bytes(head)


def gzip_member(m: Member) -> bytes:
    comp = zlib.compressobj(m.level, zlib.DEFLATED, -15, 8, m.strategy)
    body = b"".join(comp.compress(p) + (comp.flush(f) if f else b"") for p, f in m.pieces)
    body += comp.flush()
    trailer = struct.pack("<II", zlib.crc32(m.data), len(m.data) & 0xFFFFFFFF)
    return gzip_header(m) + body + trailer


def gunzip_all(blob: bytes) -> bytes:
    out = []
    while blob:
        d = zlib.decompressobj(31)
        out.append(d.decompress(blob))
        assert d.eof
        blob = d.unused_data
    return b"".join(out)


def run_checkpointer(
    blob: bytes, span: int, *, read_size: int = 1 << 20, **kw: object
) -> tuple[bytes, GzipCheckpointer]:
    c = GzipCheckpointer(io.BytesIO(blob), span, **kw)  # type: ignore[arg-type]
    buf = bytearray(read_size)
    out = bytearray()
    while n := c.readinto(buf):
        out += buf[:n]
    return bytes(out), c


def reference_checkpoints(blob: bytes, span: int) -> list[Checkpoint]:
    """soci's loop, verbatim in spirit: Z_BLOCK always, 16 KiB chunks, full output kept."""
    strm = open_stream(z.WBITS_GZIP, LIBZ)
    ref = ctypes.byref(strm)
    src = ctypes.create_string_buffer(blob, len(blob))
    out = ctypes.create_string_buffer(len(gunzip_all(blob)) + 1)
    totin = totout = last = 0
    points: list[Checkpoint] = []
    try:
        while totin < len(blob):
            strm.next_in = ctypes.addressof(src) + totin
            strm.avail_in = min(1 << 14, len(blob) - totin)
            rc = z.Z_OK
            while strm.avail_in:
                strm.next_out = ctypes.addressof(out) + totout
                strm.avail_out = len(out) - totout
                before_in, before_out = strm.avail_in, strm.avail_out
                rc = z.libz.inflate(ref, z.Z_BLOCK)
                totin += before_in - strm.avail_in
                totout += before_out - strm.avail_out
                assert rc in (z.Z_OK, z.Z_STREAM_END, z.Z_BUF_ERROR), rc
                if rc == z.Z_STREAM_END:
                    z.libz.inflateReset(ref)  # v0.14: more input means another member
                    continue
                dt = strm.data_type
                if (dt & 128) and not (dt & 64) and (totout == 0 or totout - last > span):
                    window = (bytes(WINDOW_SIZE) + out.raw[:totout])[-WINDOW_SIZE:]
                    points.append(Checkpoint(totin, totout, dt & 7, window))
                    last = totout
    finally:
        z.libz.inflateEnd(ref)
    return points


# -- strategies -------------------------------------------------------------------------

_text = st.binary(max_size=3000) | st.text(max_size=3000).map(str.encode)
_piece = st.tuples(
    st.one_of(_text, st.integers(0, 70000).map(lambda n: bytes(range(256)) * (n // 256))),
    st.sampled_from(FLUSHES),
)
_opt_bytes = st.none() | st.binary(max_size=40).map(lambda b: b.replace(b"\x00", b"a"))
members = st.builds(
    Member,
    pieces=st.lists(_piece, min_size=0, max_size=6),
    level=st.integers(0, 9),
    strategy=st.sampled_from(STRATEGIES),
    fname=_opt_bytes,
    fcomment=_opt_bytes,
    fextra=st.none() | st.binary(max_size=60),
    fhcrc=st.booleans(),
)
spans = st.sampled_from([0, 1, 100, 1000, 4096, 20000, 1 << 22])


@st.composite
def gzip_blobs(draw: st.DrawFn) -> tuple[bytes, bytes, int]:
    """(blob, its decompressed bytes, length of the first member's header)."""
    ms = draw(st.lists(members, min_size=1, max_size=4))
    blob = b"".join(gzip_member(m) for m in ms)
    return blob, b"".join(m.data for m in ms), len(gzip_header(ms[0]))


# -- properties -------------------------------------------------------------------------


@settings(max_examples=80)
@given(
    gzip_blobs(),
    spans,
    st.booleans(),
    st.sampled_from([1, 7, 4096, 1 << 19]),
    st.sampled_from(BACKENDS),
)
def test_output_and_placement_match_soci(
    case: tuple[bytes, bytes, int], span: int, threaded: bool, chunk: int, backend: InflateBackend
) -> None:
    blob, plain, header_len = case
    out, c = run_checkpointer(blob, span, threaded=threaded, chunk_size=chunk, backend=backend)
    assert out == plain
    assert c.compressed_size == len(blob)
    assert c.uncompressed_size == len(plain)
    assert c.checkpoints == reference_checkpoints(blob, span)
    assert c.checkpoints[0] == Checkpoint(header_len, 0, 0, bytes(WINDOW_SIZE))


@settings(max_examples=60)
@given(gzip_blobs(), spans, st.data(), st.sampled_from(BACKENDS))
def test_every_checkpoint_resumes_and_spans_hash_right(
    case: tuple[bytes, bytes, int], span: int, data: st.DataObject, backend: InflateBackend
) -> None:
    blob, plain, _ = case
    chunk = data.draw(st.sampled_from([3, 1 << 19]))
    _, c = run_checkpointer(blob, span, chunk_size=chunk, backend=backend)
    assert len(c.span_digests) == len(c.checkpoints)
    for i, cp in enumerate(c.checkpoints):
        start, end = GzipSpans(c.checkpoints, len(blob), 0).span(i)[1:3]
        assert c.span_digests[i] == "sha256:" + hashlib.sha256(blob[start:end]).hexdigest()
        assert cp.window == (bytes(WINDOW_SIZE) + plain[: cp.uncompressed_offset])[-WINDOW_SIZE:]
        rest = len(plain) - cp.uncompressed_offset
        skip = data.draw(st.integers(0, max(0, rest)), label="skip")
        length = data.draw(st.integers(0, rest - skip), label="length") if rest > skip else 0
        got = inflate_from_checkpoint(blob[start:], cp, skip, length, backend)
        want = plain[cp.uncompressed_offset + skip : cp.uncompressed_offset + skip + length]
        assert got == want


@settings(max_examples=30)
@given(gzip_blobs(), spans)
def test_blob_round_trip(case: tuple[bytes, bytes, int], span: int) -> None:
    _, c = run_checkpointer(case[0], span)
    encoded = encode_zinfo_blob(c.checkpoints, span)
    assert len(encoded) == 12 + len(c.checkpoints) * 32785
    assert decode_zinfo_blob(encoded) == (span, c.checkpoints)


@settings(max_examples=30)
@given(gzip_blobs(), st.sampled_from([1, 511, 512, 65535, 65536, 200000]))
def test_read_sizes_do_not_change_anything(case: tuple[bytes, bytes, int], read_size: int) -> None:
    blob, plain, _ = case
    out, c = run_checkpointer(blob, 1000, read_size=read_size)
    _, c2 = run_checkpointer(blob, 1000, threaded=False)
    assert out == plain
    assert c.checkpoints == c2.checkpoints
    assert c.span_digests == c2.span_digests


def test_large_stream_with_many_blocks() -> None:
    """Several MiB through the threaded pipeline: more chunks than pooled buffers."""
    plain = b"".join(hashlib.sha256(i.to_bytes(4, "little")).digest() * 40 for i in range(4000))
    m1 = Member([(plain[:3_000_000], zlib.Z_FULL_FLUSH), (plain[3_000_000:], 0)], level=1)
    blob = gzip_member(m1) + gzip_member(Member([(plain[:70000], 0)]))
    out, c = run_checkpointer(blob, 100_000, chunk_size=1 << 16)
    assert out == plain + plain[:70000]
    assert c.checkpoints == reference_checkpoints(blob, 100_000)
    last = len(c.checkpoints) - 1
    start, end = GzipSpans(c.checkpoints, len(blob), 0).span(last)[1:3]
    assert c.span_digests[-1] == "sha256:" + hashlib.sha256(blob[start:end]).hexdigest()
