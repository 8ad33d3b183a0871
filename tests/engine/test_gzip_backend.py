"""The inflate backends: zlib-ng checked at load, libz fallback, the same zTOC with either one."""

from __future__ import annotations

import ctypes
import io
import logging
import random
import tarfile
import zlib

import pytest

from soci_index_builder.gzip import _zng
from soci_index_builder.gzip.backend import (
    DEFAULT_BACKEND,
    libz_backend,
    load_backend,
    zlib_ng_backend,
)
from soci_index_builder.gzip.inflate import inflate_from_checkpoint
from soci_index_builder.gzip.zinfo_blob import decode_zinfo_blob
from soci_index_builder.ztoc.builder import build_ztoc
from soci_index_builder.ztoc.model import CompressionAlgorithm
from soci_index_builder.ztoc.spans import GzipSpans

LOGGER = "soci_index_builder.gzip.backend"


class _BiggerStream(_zng.ZngStream):
    """A struct one field longer than zlib-ng's: its ``inflateInit2_`` must refuse it."""

    _fields_ = (("extra", ctypes.c_void_p),)


class _SwappedStream(ctypes.Structure):
    """The right size, but ``data_type`` and ``adler`` swapped: only the self-test sees it."""

    _fields_ = tuple(
        {"data_type": ("adler", ctypes.c_uint32), "adler": ("data_type", ctypes.c_int)}.get(
            name, (name, kind)
        )
        for name, kind in _zng.ZngStream._fields_
    )


def test_the_pinned_wheel_gives_zlib_ng() -> None:
    assert DEFAULT_BACKEND.name.startswith("zlib-ng 2.")
    assert libz_backend().name.startswith("zlib 1.")


def test_a_library_without_the_symbols_falls_back_with_one_debug_line(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.DEBUG, logger=LOGGER):
        backend = load_backend(path="libz.so.1")  # a real library, without zng_* symbols
    assert backend.name == libz_backend().name
    assert [r.levelno for r in caplog.records if r.name == LOGGER] == [logging.DEBUG]
    assert "zng_inflateInit2_" in caplog.records[0].getMessage()


@pytest.mark.parametrize("stream", [_BiggerStream, _SwappedStream])
def test_a_wrong_struct_falls_back_never_crashes(
    stream: type[ctypes.Structure], caplog: pytest.LogCaptureFixture
) -> None:
    with pytest.raises(RuntimeError):
        zlib_ng_backend(stream=stream)
    with caplog.at_level(logging.DEBUG, logger=LOGGER):
        assert load_backend(stream=stream).name == libz_backend().name
    assert len([r for r in caplog.records if r.name == LOGGER]) == 1


def test_a_missing_package_falls_back(monkeypatch: pytest.MonkeyPatch) -> None:
    def absent() -> str:
        raise ImportError("No module named 'zlib_ng'")

    monkeypatch.setattr(_zng, "extension_path", absent)
    assert load_backend().name == libz_backend().name


def _layer(members: int) -> bytes:
    """A multi-member gzip layer of a few MiB with many small and some large files."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for i in range(600):
            text = (b"%d " % i) * (i * 13 % 3000)
            data = text + random.Random(i).randbytes(i * 7 % 3000)  # some incompressible
            info = tarfile.TarInfo(f"d{i % 9}/f{i}.txt")
            info.size, info.mtime = len(data), 1_700_000_000 + i + 0.125 * (i % 8)
            tar.addfile(info, io.BytesIO(data))
    tar_bytes = raw.getvalue()
    cut = len(tar_bytes) // members
    parts = [
        tar_bytes[i * cut : (i + 1) * cut if i < members - 1 else None] for i in range(members)
    ]
    return b"".join(zlib.compress(p, 6, wbits=31) for p in parts)


@pytest.mark.parametrize("members", [1, 3])
def test_either_backend_builds_the_same_ztoc_and_extracts_the_same_bytes(members: int) -> None:
    layer = _layer(members)
    built = [
        build_ztoc(
            io.BytesIO(layer), compression=CompressionAlgorithm.GZIP, span_size=1 << 14, backend=b
        )
        for b in (libz_backend(), zlib_ng_backend())
    ]
    assert built[0].raw == built[1].raw
    assert len(built[0].ztoc.compression.span_digests) > 4
    span_size, checkpoints = decode_zinfo_blob(built[0].ztoc.compression.checkpoints)
    spans = GzipSpans(checkpoints, len(layer), 0)
    plain = zlib.decompress(layer, wbits=47) if members == 1 else None
    for i, cp in enumerate(checkpoints):
        start = spans.span(i)[1]
        got = [
            inflate_from_checkpoint(layer[start:], cp, 100, 5000, b)
            for b in (libz_backend(), zlib_ng_backend())
        ]
        assert got[0] == got[1]
        if plain is not None and cp.uncompressed_offset + 5100 <= len(plain):
            assert got[0] == plain[cp.uncompressed_offset + 100 : cp.uncompressed_offset + 5100]
    assert span_size == 1 << 14
