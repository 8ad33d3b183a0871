"""The tar scanner over sources that lend their bytes in place (streams.Lending).

A lent view is valid only until the source's next call, so the test lender scribbles over each
piece it lent as soon as it is called again: a view the scanner kept (in a memo table, a PAX
result, a payload) would then read garbage and the TOC would differ from the one read through
a plain ``readinto`` source. The gzip checkpointer lends its ring (threaded) or its small-read
buffer (inline): same TOC, same errors as through ``readinto``, and a build of a layer with
large files copies almost nothing out of the ring.
"""

from __future__ import annotations

import io
import random
import struct
import tarfile
import zlib
from unittest import mock

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from soci_index_builder.gzip import checkpoints
from soci_index_builder.gzip._ahead import InflateAhead
from soci_index_builder.gzip.checkpoints import GzipCheckpointer
from soci_index_builder.streams import Lending, Readable, read_exactly
from soci_index_builder.tar.scanner import read_toc
from soci_index_builder.ztoc.builder import build_ztoc
from soci_index_builder.ztoc.model import CompressionAlgorithm

from .test_gzip_properties import Member, gzip_member
from .test_tar_oracle import FORMATS, members, write_tar

#: Piece sizes: single bytes, pieces that cut a header or a PAX payload, several blocks.
_PIECES = (1, 2, 100, 511, 512, 513, 1000, 1536, 4096, 9000)


class ScribblingLender:
    """Lends ``data`` in random pieces (and reads it in random short pieces); every call
    first overwrites the piece lent before, as the inflater's producer would."""

    def __init__(self, data: bytes, seed: int) -> None:
        self._data = data
        self._pos = 0
        self._rnd = random.Random(seed)
        self._lent = bytearray()
        self.lent_bytes = 0

    def lend(self) -> memoryview:
        self._scribble()
        n = self._size()
        self._lent = bytearray(self._data[self._pos : self._pos + n])
        self._pos += len(self._lent)
        self.lent_bytes += len(self._lent)
        return memoryview(self._lent).toreadonly()

    def readinto(self, buffer: bytearray | memoryview, /) -> int:
        self._scribble()
        piece = self._data[self._pos : self._pos + min(len(buffer), self._size())]
        buffer[: len(piece)] = piece
        self._pos += len(piece)
        return len(piece)

    def skip(self, size: int, /) -> int:
        self._scribble()
        n = min(size, len(self._data) - self._pos)
        self._pos += n
        return n

    def _size(self) -> int:
        return self._rnd.choice(_PIECES) + self._rnd.randrange(3)

    def _scribble(self) -> None:
        self._lent[:] = bytes([self._rnd.randrange(256)]) * len(self._lent)


class ReadOnly:
    """Only ``readinto`` and ``skip`` of a source: the scanner copies, as before lending."""

    def __init__(self, source: GzipCheckpointer) -> None:
        self._source = source

    def readinto(self, buffer: bytearray | memoryview, /) -> int:
        return self._source.readinto(buffer)

    def skip(self, size: int, /) -> int:
        return self._source.skip(size)


def _outcome(source: Readable, buffer_size: int = 1 << 20) -> tuple[object, ...]:
    """The TOC, or the error (type, message, offset); the stream is then read to its end (the
    build's drain), so an error after the tar's end counts too."""
    try:
        toc = read_toc(source, buffer_size)
        while source.readinto(bytearray(1 << 16)):
            pass
    except Exception as exc:  # compared by the callers, whatever it is
        return type(exc), str(exc), getattr(exc, "offset", None)
    return list(toc.entries), toc.archive_size


def _tar(data: st.DataObject) -> bytes:
    fmt = data.draw(st.sampled_from(sorted(FORMATS)))
    return write_tar(data.draw(st.lists(members(fmt), max_size=12)), fmt)


def test_the_sources_lend() -> None:
    assert isinstance(ScribblingLender(b"", 0), Lending)
    with GzipCheckpointer(io.BytesIO(GOOD), 0) as checkpointer:
        assert isinstance(checkpointer, Lending)
        assert not isinstance(ReadOnly(checkpointer), Lending)


@settings(max_examples=150, deadline=None)
@given(st.data(), st.integers(0, 2**32), st.sampled_from([512, 1536, 1 << 20]))
def test_lent_pieces_give_the_toc_of_a_plain_reader(
    data: st.DataObject, seed: int, buffer_size: int
) -> None:
    tar = _tar(data)
    cut = data.draw(st.one_of(st.none(), st.integers(0, len(tar))))
    if cut is not None:  # truncated: the same error, or the same TOC (cut in the end blocks)
        tar = tar[:cut]
    lender = ScribblingLender(tar, seed)
    assert _outcome(lender, buffer_size) == _outcome(io.BytesIO(tar), buffer_size)
    assert lender.lent_bytes or not tar


def _big_tar(sizes: list[int], pax: bool = True) -> bytes:
    """Files of ``sizes`` bytes of text, with PAX headers of random lengths (when ``pax``)."""
    out = io.BytesIO()
    rnd = random.Random(len(sizes))
    fmt = tarfile.PAX_FORMAT if pax else tarfile.GNU_FORMAT
    with tarfile.open(fileobj=out, mode="w", format=fmt) as tf:
        for i, size in enumerate(sizes):
            info = tarfile.TarInfo(f"dir/file-{i}")
            info.size = size
            if pax:
                info.pax_headers = {"comment": "x" * rnd.randrange(3000)}
            tf.addfile(info, io.BytesIO(b"%d\n" % i * (size // 2 + 1)))
    return out.getvalue()


TAR = _big_tar(random.Random(7).choices([0, 1, 700, 5000, 70_000], k=120))
GOOD = gzip_member(Member([(TAR[: len(TAR) // 2], zlib.Z_FULL_FLUSH), (TAR[len(TAR) // 2 :], 0)]))


def _gzip_outcome(blob: bytes, threaded: bool, *, lend: bool) -> tuple[object, ...]:
    checkpointer = GzipCheckpointer(io.BytesIO(blob), 4096, threaded=threaded, chunk_size=777)
    with checkpointer:
        return _outcome(checkpointer if lend else ReadOnly(checkpointer))


@pytest.mark.parametrize("threaded", [True, False])
@pytest.mark.parametrize("ring", [(2, 5000), (4, 1 << 16), (4, 1 << 22)])
@pytest.mark.parametrize(
    "damage", ["none", "truncate-early", "truncate-late", "truncate-trailer", "bad-crc"]
)
def test_the_checkpointer_lends_the_same_toc_and_errors(
    threaded: bool, ring: tuple[int, int], damage: str
) -> None:
    blob = {
        "none": GOOD,
        "truncate-early": GOOD[: len(GOOD) // 3],
        "truncate-late": GOOD[: len(GOOD) - 100],
        "truncate-trailer": GOOD[:-3],
        "bad-crc": GOOD[:-8] + struct.pack("<I", zlib.crc32(TAR) ^ 1) + GOOD[-4:],
    }[damage]
    with (
        mock.patch.object(checkpoints, "_AHEAD_BUFFERS", ring[0]),
        mock.patch.object(checkpoints, "_AHEAD_SIZE", ring[1]),
    ):
        got = _gzip_outcome(blob, threaded, lend=True)
        want = _gzip_outcome(blob, threaded, lend=False)
    assert got == want
    if damage == "none":
        assert got == _outcome(io.BytesIO(TAR))
    else:
        assert ("incorrect data check" if damage == "bad-crc" else "truncated") in str(got[1])


@settings(max_examples=30, deadline=None)
@given(st.lists(st.sampled_from([0, 0, 1, 512, 70_000, -1, -70_000]), min_size=1), st.booleans())
def test_lends_reads_and_skips_serve_every_byte_once_in_order(
    ops: list[int], threaded: bool
) -> None:
    """Lends (0), reads (a size) and skips (minus a size) in any mix, over a ring whose buffers
    are no multiple of 512: every byte once, in order, and the end of stream is known."""
    ops = [*ops, 1 << 20]  # so that small steps cannot make it slow
    with (
        mock.patch.object(checkpoints, "_AHEAD_BUFFERS", 2),
        mock.patch.object(checkpoints, "_AHEAD_SIZE", 5000),
        GzipCheckpointer(io.BytesIO(GOOD), 4096, threaded=threaded, chunk_size=777) as source,
    ):
        position, step = 0, 0
        while True:
            op = ops[step % len(ops)]
            step += 1
            if op < 0:
                n = source.skip(-op)
            else:
                piece = bytes(source.lend()) if op == 0 else read_exactly(source, op)
                assert piece == TAR[position : position + len(piece)]
                n = len(piece)
            if not n:
                break
            position += n
        assert position == len(TAR)
        assert source.span_digests


def test_a_threaded_build_of_large_files_copies_little_out_of_the_ring() -> None:
    """Headers are parsed in the ring and file data skipped there: of a 12 MiB layer, the
    bytes copied out of the ring (``readinto``) are a small fraction."""
    tar = _big_tar([3 << 19] * 8)
    blob = gzip_member(Member([(tar, 0)], level=1))
    copied = 0
    readinto = InflateAhead.readinto

    def counting(self: InflateAhead[object], view: memoryview, /) -> int:
        nonlocal copied
        n = readinto(self, view)
        copied += n
        return n

    with mock.patch.object(InflateAhead, "readinto", counting):
        built = build_ztoc(io.BytesIO(blob), compression=CompressionAlgorithm.GZIP)
    assert len(built.ztoc.entries) == 8
    assert copied < len(tar) // 10
