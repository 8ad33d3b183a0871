"""Inflate-ahead (threaded GzipCheckpointer): the same reads, errors and shutdown as inline.

The threaded mode inflates into a ring of buffers in a producer thread; these tests shrink the
ring so that every read crosses buffers, and compare read by read with ``threaded=False``.
"""

from __future__ import annotations

import ctypes
import gc
import io
import threading
import time
import zlib
from unittest import mock

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from soci_index_builder.errors import GzipFormatError
from soci_index_builder.gzip import checkpoints
from soci_index_builder.gzip._ahead import InflateAhead
from soci_index_builder.gzip.checkpoints import GzipCheckpointer

from .test_gzip_properties import Member, gzip_member

PLAIN = b"".join(b"entry %d: some tar-like text\n" % i for i in range(12000))
GOOD = gzip_member(Member([(PLAIN[:150000], zlib.Z_FULL_FLUSH), (PLAIN[150000:], 0)]))
GOOD += gzip_member(Member([(PLAIN[:5000], 0)], level=1))


def _transcript(blob: bytes, sizes: list[int], threaded: bool) -> list[object]:
    """Every read's bytes (a negative size: that many bytes skipped, and the count), then the
    error (type, message, offset) or the final facts.

    Reads cycle through ``sizes`` and one large read, so that small reads cannot make it slow.
    """
    sizes = [*sizes, 200_000]
    c = GzipCheckpointer(io.BytesIO(blob), 3000, threaded=threaded, chunk_size=777)
    out: list[object] = []
    try:
        for i in range(1_000_000):
            size = sizes[i % len(sizes)]
            if size < 0:
                n = c.skip(-size)
                out.append(n)
            else:
                buf = bytearray(size)
                n = c.readinto(buf)
                out.append(bytes(buf[:n]))
            if not n:
                return [*out, c.checkpoints, c.span_digests, c.compressed_size]
    except Exception as exc:  # compared below, whatever it is
        return [*out, type(exc), str(exc), getattr(exc, "offset", None)]
    finally:
        c.close()
    raise AssertionError("no end of stream")


_SIZES = [1, 512, 4095, 65536, 65537, 100_000, 1 << 20, -1, -70_000, -(1 << 20)]


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.sampled_from(_SIZES), min_size=1),
    st.one_of(st.none(), st.integers(10, len(GOOD) - 1)),
    st.sampled_from(["flip", "truncate", "garbage"]),
    st.sampled_from([(1, 4096), (2, 5000), (4, 1 << 16)]),
)
def test_reads_and_errors_match_the_inline_inflater(
    sizes: list[int], at: int | None, how: str, ring: tuple[int, int]
) -> None:
    blob = bytearray(GOOD)
    if at is not None and how == "flip":
        blob[at] ^= 0x55
    elif at is not None and how == "truncate":
        del blob[at:]
    elif at is not None:
        blob[at:] = b"\x1f\x8bX" + blob[at:]
    want = _transcript(bytes(blob), sizes, threaded=False)
    with (
        mock.patch.object(checkpoints, "_AHEAD_BUFFERS", ring[0]),
        mock.patch.object(checkpoints, "_AHEAD_SIZE", ring[1]),
    ):
        got = _transcript(bytes(blob), sizes, threaded=True)
    assert got == want


@settings(max_examples=40, deadline=None)
@given(st.lists(st.sampled_from(_SIZES), min_size=1), st.booleans())
def test_reads_and_skips_serve_every_byte_once_in_order(sizes: list[int], threaded: bool) -> None:
    """Whatever the mix of read and skip sizes (a small read leaves bytes buffered), the
    bytes read, with the skipped ones in between, are the stream, once each."""
    plain = PLAIN + PLAIN[:5000]  # GOOD's two members
    position, pieces = 0, _transcript(GOOD, sizes, threaded)
    for piece in pieces:
        if isinstance(piece, int):
            position += piece
        elif isinstance(piece, bytes):
            assert piece == plain[position : position + len(piece)]
            position += len(piece)
        else:
            break
    assert position == len(plain)


class _Blocking(io.BytesIO):
    """Serves one read, then blocks until released (a stalled network stream)."""

    def __init__(self, data: bytes) -> None:
        super().__init__(data)
        self.release = threading.Event()
        self._reads = 0

    def readinto(self, buffer: bytearray | memoryview, /) -> int:  # type: ignore[override]
        self._reads += 1
        if self._reads > 1:
            self.release.wait(10)
        return super().readinto(memoryview(buffer)[:1000])


def _helpers() -> set[threading.Thread]:
    return {t for t in threading.enumerate() if t.name.startswith("gzip-")}


def _wait_gone(threads: set[threading.Thread]) -> set[threading.Thread]:
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and any(t.is_alive() for t in threads):
        time.sleep(0.01)
    return {t for t in threads if t.is_alive()}


def test_close_while_the_producer_waits_for_input() -> None:
    """The inflater stops at once; the reader thread as soon as the source returns."""
    before = _helpers()
    source = _Blocking(GOOD)
    c = GzipCheckpointer(source, 1000, chunk_size=1000)
    time.sleep(0.05)
    started = _helpers() - before
    assert {t.name for t in started} == {"gzip-reader", "gzip-hasher", "gzip-inflater"}
    c.close()
    assert {t.name for t in _wait_gone(started)} == {"gzip-reader"}
    source.release.set()
    assert not _wait_gone(started)


def test_close_while_the_ring_is_full() -> None:
    before = _helpers()
    c = GzipCheckpointer(io.BytesIO(GOOD * 8), 1000)
    assert c.readinto(bytearray(100)) == 100
    time.sleep(0.05)
    c.close()
    assert not _wait_gone(_helpers() - before)


def test_a_raising_fill_still_reaches_the_reader() -> None:
    """Even a bug in ``fill`` surfaces from ``readinto``, and ``on_exit`` still runs."""
    exited = threading.Event()

    def fill(addr: int, size: int) -> tuple[int, BaseException | None, None]:
        raise KeyError("bug")

    ahead = InflateAhead(fill, exited.set, buffers=1, buffer_size=16)
    with pytest.raises(KeyError):
        ahead.readinto(memoryview(bytearray(4)))
    with pytest.raises(KeyError):  # a failed stream stays failed
        ahead.readinto(memoryview(bytearray(4)))
    assert exited.wait(5)


def test_end_of_stream_on_a_buffer_boundary() -> None:
    data = bytes(range(256)) * 32
    pos = [0]

    def fill(addr: int, size: int) -> tuple[int, BaseException | None, None]:
        n = min(size, len(data) - pos[0])
        ctypes.memmove(addr, data[pos[0] : pos[0] + n], n)
        pos[0] += n
        return n, None, None

    ahead = InflateAhead(fill, lambda: None, buffers=2, buffer_size=1024)
    out = bytearray(len(data) + 10)
    assert ahead.readinto(memoryview(out)) == len(data)
    assert bytes(out[: len(data)]) == data
    assert ahead.readinto(memoryview(out)) == 0


@pytest.mark.parametrize("cut", [0.3, 0.5, 0.7])
def test_bytes_before_an_error_are_still_served(cut: float) -> None:
    """A read that ends before the failure point succeeds, like inline; the next one raises."""
    blob = GOOD[: int(len(GOOD) * cut)]
    good = len(zlib.decompressobj(31).decompress(blob))
    assert good >= 1 << 16
    for threaded in (False, True):
        c = GzipCheckpointer(io.BytesIO(blob), 1000, threaded=threaded)
        assert c.readinto(bytearray(good)) == good
        with pytest.raises(GzipFormatError, match="truncated"):
            c.readinto(bytearray(1 << 16))


def test_abandoned_mid_inflate_does_not_free_the_ring_under_the_producer() -> None:
    """The producer owns its buffers: dropping the reader while it inflates must not crash."""
    big = gzip_member(Member([(PLAIN * 20, 0)], level=1))
    before = _helpers()
    for _ in range(20):
        c = GzipCheckpointer(io.BytesIO(big), 1 << 20)
        c.readinto(bytearray(1 << 16))
        del c
        gc.collect()
        junk = [bytearray(1 << 20) for _ in range(8)]  # reuse the freed memory, if any
        del junk
    assert not _wait_gone(_helpers() - before)
