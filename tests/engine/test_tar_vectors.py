"""The tar scanner against soci's golden vectors (soci-format.md §6.3, golden/expected.json)."""

from __future__ import annotations

import gzip
import io
import json
from typing import Any

import pytest

from soci_index_builder.tar.scanner import TarScanner, read_toc
from soci_index_builder.ztoc.model import FileMetadata
from tests.golden import GOLDEN_DIR

VECTORS = GOLDEN_DIR
EXPECTED = json.loads((VECTORS / "expected.json").read_text()) if VECTORS.exists() else {}
pytestmark = pytest.mark.skipif(not VECTORS.exists(), reason="golden vectors not available")


def _vector(vector_id: str) -> dict[str, Any]:
    return next(v for v in EXPECTED["vectors"] if v["id"] == vector_id)


def _tar_bytes(name: str) -> bytes:
    raw = (VECTORS / name).read_bytes()
    return gzip.decompress(raw) if name.endswith(".gz") else raw


def _expected_entry(x: dict[str, Any]) -> tuple[Any, ...]:
    return (
        x["Name"],
        x["Type"],
        x["Off"],
        x["Size"],
        x["Linkname"],
        x["Mode"],
        x["UID"],
        x["GID"],
        x["Uname"],
        x["Gname"],
        x["ModTime"],
        x["Devmajor"],
        x["Devminor"],
        sorted((x["PAX"] or {}).items()),
    )


def _actual_entry(e: FileMetadata) -> tuple[Any, ...]:
    return (*e[:13], sorted(e.pax_records, key=lambda kv: kv[0].encode("utf-8", "surrogateescape")))


class ChunkedReader:
    """A Readable that hands out at most ``chunk`` bytes per call and counts what it gave."""

    def __init__(self, data: bytes, chunk: int) -> None:
        self._data = data
        self._chunk = chunk
        self.consumed = 0

    def readinto(self, buffer: bytearray | memoryview) -> int:
        n = min(len(buffer), self._chunk, len(self._data) - self.consumed)
        buffer[:n] = self._data[self.consumed : self.consumed + n]
        self.consumed += n
        return n


@pytest.mark.parametrize(
    ("vector_id", "tar_file"),
    [
        ("G1", "layer.tar.gz"),
        ("U1", "layer.tar"),
        ("P1", "gnu-fname.tar.gz"),
        ("P2", "pax-xattrs.tar.gz"),
    ],
)
def test_every_toc_entry_matches_soci(vector_id: str, tar_file: str) -> None:
    vector = _vector(vector_id)
    toc = read_toc(io.BytesIO(_tar_bytes(tar_file)))
    assert [_actual_entry(e) for e in toc.entries] == [
        _expected_entry(x) for x in vector["entries"]
    ]
    assert toc.archive_size == vector["uncompressed_archive_size"]


def test_pax_records_keep_tar_order_and_every_key() -> None:
    toc = read_toc(io.BytesIO(_tar_bytes("pax-xattrs.tar.gz")))
    moon = next(e for e in toc.entries if e.name == "./a/moon.txt")
    # GNU tar writes the records in this order; all of them are kept, applied or not.
    assert [k for k, _ in moon.pax_records] == ["uid", "gid", "mtime", "atime", "ctime"]
    assert moon.mod_time == "1969-07-20T20:17:40Z"


@pytest.mark.parametrize("buffer_size", [512, 700, 1024, 4096, 65536])
@pytest.mark.parametrize("chunk", [1, 100, 511, 513, 1 << 20])
def test_buffer_and_read_sizes_do_not_change_the_result(buffer_size: int, chunk: int) -> None:
    data = _tar_bytes("gnu-fname.tar.gz")
    reference = read_toc(io.BytesIO(data))
    reader = ChunkedReader(data, chunk)
    assert read_toc(reader, buffer_size) == reference


@pytest.mark.parametrize("buffer_size", [512, 1000, 8192, 1 << 20])
def test_leftover_is_exactly_what_was_read_past_archive_size(buffer_size: int) -> None:
    data = _tar_bytes("layer.tar") + b"trailing garbage" * 1000
    reader = ChunkedReader(data, 3000)
    scanner = TarScanner(reader, buffer_size)
    entries = list(scanner.entries())
    assert len(entries) == 17
    assert scanner.archive_size == 86528
    leftover = scanner.leftover()
    assert len(leftover) <= buffer_size
    assert scanner.archive_size + len(leftover) == reader.consumed
    assert leftover == data[scanner.archive_size : reader.consumed]


def test_archive_size_needs_a_finished_scan() -> None:
    scanner = TarScanner(io.BytesIO(_tar_bytes("layer.tar")))
    with pytest.raises(RuntimeError):
        _ = scanner.archive_size
    next(scanner.entries())
    with pytest.raises(RuntimeError):
        _ = scanner.archive_size
