"""Bad input: every failure is a GzipFormatError with the compressed offset (or the source's
own exception), never a hang, a silent short read, or a crash in zlib."""

from __future__ import annotations

import gc
import io
import struct
import threading
import time
import zlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from soci_index_builder.digest import DigestingReader
from soci_index_builder.errors import DigestMismatchError, GzipFormatError
from soci_index_builder.gzip.checkpoints import GzipCheckpointer
from soci_index_builder.gzip.inflate import inflate_from_checkpoint
from soci_index_builder.ztoc.spans import GzipSpans

from .test_gzip_properties import BACKENDS, Member, gzip_member, run_checkpointer

PLAIN = b"".join(b"line %d of some text\n" % i for i in range(20000))
GOOD = gzip_member(Member([(PLAIN[:200000], zlib.Z_FULL_FLUSH), (PLAIN[200000:], 0)]))


def _fails(blob: bytes, match: str, **kw: object) -> GzipFormatError:
    with pytest.raises(GzipFormatError, match=match) as info:
        run_checkpointer(blob, 1000, **kw)  # type: ignore[arg-type]
    return info.value


@pytest.mark.parametrize("threaded", [True, False])
def test_empty_input(threaded: bool) -> None:
    assert _fails(b"", "empty", threaded=threaded).offset == 0


@pytest.mark.parametrize("threaded", [True, False])
@pytest.mark.parametrize(
    "cut", [1, 2, 9, 10, 11, 500, len(GOOD) // 2, len(GOOD) - 8, len(GOOD) - 1]
)
def test_truncated(cut: int, threaded: bool) -> None:
    err = _fails(GOOD[:cut], "truncated", threaded=threaded)
    assert err.offset == cut


@pytest.mark.parametrize(
    "blob",
    [
        b"hello world, not gzip at all",
        b"\x78\x9c" + zlib.compress(PLAIN)[2:],
        b"\x1f\x8b\x07" + bytes(20),
    ],
    ids=["text", "zlib-stream", "bad-method"],
)
def test_not_gzip(blob: bytes) -> None:
    assert _fails(blob, "not a gzip stream").offset is not None


@pytest.mark.parametrize(
    "tail", [b"\x00" * 16, b"garbage after the member", b"\x1f\x8b\x08\x00" + bytes(6) + b"\xff"]
)
def test_trailing_garbage(tail: bytes) -> None:
    """soci v0.14 reads further bytes as another member, so garbage fails the build (4.3)."""
    with pytest.raises(GzipFormatError) as info:
        run_checkpointer(GOOD + tail, 1000)
    assert info.value.offset is not None and info.value.offset >= len(GOOD)


def test_garbage_names_the_member() -> None:
    _fails(GOOD + GOOD + b"PK\x03\x04", "after gzip member 2 is not a gzip member")


def test_corrupt_crc_and_length() -> None:
    bad_crc = GOOD[:-8] + struct.pack("<I", zlib.crc32(PLAIN) ^ 1) + GOOD[-4:]
    _fails(bad_crc, "incorrect data check")
    _fails(GOOD[:-4] + struct.pack("<I", len(PLAIN) + 1), "incorrect length check")


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.binary(max_size=3000), min_size=1, max_size=4),
    st.data(),
    st.sampled_from(["crc", "length", "both", "header crc", "none"]),
    st.sampled_from([1, 3, 7, 8, 9, 64, 1 << 16]),
    st.booleans(),
    st.sampled_from(BACKENDS),
)
def test_member_checks_are_the_librarys(
    datas: list[bytes], data: st.DataObject, fault: str, chunk: int, threaded: bool, backend: object
) -> None:
    """The data's CRC-32 is checked off the inflate thread and the length by the checkpointer
    (checkpoints.py): for a fault in any member, across any input chunking, the message and
    offset are those of zlib's own check (after the CRC field, after the length field)."""
    members = [gzip_member(Member([(d, 0)], fhcrc=fault == "header crc")) for d in datas]
    bad = data.draw(st.integers(0, len(members) - 1))
    m = bytearray(members[bad])
    start = sum(map(len, members[:bad]))
    if fault in ("crc", "both"):
        m[-8] ^= 1
    if fault in ("length", "both"):
        m[-1] ^= 0x80
    if fault == "header crc":
        m[10] ^= 1
    blob = b"".join(members[:bad]) + bytes(m) + b"".join(members[bad + 1 :])
    kw = {"threaded": threaded, "chunk_size": chunk, "backend": backend}
    if fault == "none":
        assert run_checkpointer(blob, 1000, **kw)[0] == b"".join(datas)
        return
    with pytest.raises(GzipFormatError) as info:
        run_checkpointer(blob, 1000, **kw)
    message, offset = {
        "crc": ("incorrect data check", start + len(m) - 4),
        "both": ("incorrect data check", start + len(m) - 4),
        "length": ("incorrect length check", start + len(m)),
        "header crc": ("header crc mismatch", start + 12),
    }[fault]
    assert message in str(info.value)
    assert info.value.offset == offset


def test_corrupt_deflate() -> None:
    """A stored block whose LEN/NLEN disagree: Z_DATA_ERROR at its offset."""
    header = GOOD[:10]
    blob = header + b"\x00\x05\x00\x00\x00hello" + bytes(8)
    err = _fails(blob, "corrupt deflate data: invalid stored block lengths")
    assert err.offset is not None and 10 <= err.offset <= 15


def test_bad_header_crc() -> None:
    head = b"\x1f\x8b\x08\x02" + bytes(6) + b"\x00\x00"  # FHCRC with a wrong CRC
    _fails(head + GOOD[10:], "header crc mismatch")


@settings(max_examples=40)
@given(st.integers(10, len(GOOD) - 9), st.integers(1, 255))
def test_random_corruption_never_passes_silently(pos: int, xor: int) -> None:
    blob = bytearray(GOOD)
    blob[pos] ^= xor
    try:
        out, _ = run_checkpointer(bytes(blob), 1000)
    except GzipFormatError:
        return
    assert out == PLAIN  # only possible if the flip hit ignored bits


class _Exploding:
    def __init__(self, data: bytes, after: int) -> None:
        self._f = io.BytesIO(data)
        self._after = after

    def readinto(self, buffer: bytearray | memoryview) -> int:
        if self._f.tell() >= self._after:
            raise OSError("connection reset")
        return self._f.readinto(memoryview(buffer)[:1000])


@pytest.mark.parametrize("threaded", [True, False])
def test_source_errors_propagate(threaded: bool) -> None:
    c = GzipCheckpointer(_Exploding(GOOD, 5000), 1000, threaded=threaded)
    buf = bytearray(1 << 16)
    with pytest.raises(OSError, match="connection reset"):
        while c.readinto(buf):
            pass
    with pytest.raises(OSError):  # a failed stream stays failed
        c.readinto(buf)


def test_digest_mismatch_from_reader_thread_reaches_the_consumer() -> None:
    layer = DigestingReader(io.BytesIO(GOOD), "sha256:" + "0" * 64)
    c = GzipCheckpointer(layer, 1000)
    buf = bytearray(1 << 16)
    with pytest.raises(DigestMismatchError):
        while c.readinto(buf):
            pass


def test_span_digests_need_eof_and_bad_span_is_rejected() -> None:
    c = GzipCheckpointer(io.BytesIO(GOOD), 1000)
    with pytest.raises(RuntimeError):
        _ = c.span_digests
    c.close()
    with pytest.raises(ValueError):
        GzipCheckpointer(io.BytesIO(GOOD), -1)


def test_resume_with_too_little_data() -> None:
    _, c = run_checkpointer(GOOD, 1000)
    cp = c.checkpoints[1]
    start, end = GzipSpans(c.checkpoints, len(GOOD), 0).span(1)[1:3]
    with pytest.raises(GzipFormatError, match="ran out"):
        inflate_from_checkpoint(GOOD[start:end], cp, 0, len(PLAIN))
    with pytest.raises(GzipFormatError, match="ran out"):
        inflate_from_checkpoint(GOOD[start:-3], cp, 0, len(PLAIN))
    with pytest.raises(GzipFormatError, match="corrupt"):
        inflate_from_checkpoint(b"\xff" * 100, cp._replace(bits=0), 0, 10)
    with pytest.raises(ValueError):
        inflate_from_checkpoint(GOOD[start:], cp, -1, 1)
    assert inflate_from_checkpoint(b"", cp, 0, 0) == b""


def test_abandoned_checkpointer_stops_its_threads() -> None:
    """A consumer that fails half-way (bad tar) must not leak the helper threads."""
    before = {t for t in threading.enumerate() if t.name.startswith("gzip-")}
    c = GzipCheckpointer(io.BytesIO(GOOD), 1000, chunk_size=4096)
    c.readinto(bytearray(1 << 16))
    del c
    gc.collect()
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        alive = {t for t in threading.enumerate() if t.name.startswith("gzip-")} - before
        if not alive:
            break
        time.sleep(0.01)
    assert not alive
