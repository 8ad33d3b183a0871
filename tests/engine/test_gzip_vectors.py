"""GzipCheckpointer on soci's golden vectors (soci-format.md 6.3): placement, blobs, digests."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import pytest

from soci_index_builder.gzip.inflate import (
    inflate_from_checkpoint,
)
from soci_index_builder.gzip.zinfo_blob import decode_zinfo_blob, encode_zinfo_blob
from soci_index_builder.ztoc.codec import decode_ztoc
from soci_index_builder.ztoc.model import WINDOW_SIZE
from soci_index_builder.ztoc.spans import GzipSpans
from tests.golden import GOLDEN_DIR

from .test_gzip_properties import gunzip_all, run_checkpointer

VECTORS = GOLDEN_DIR
EXPECTED: dict[str, dict[str, Any]] = {
    v["id"]: v for v in json.loads((VECTORS / "expected.json").read_text())["vectors"]
}
GZIP_IDS = [i for i, v in EXPECTED.items() if v["compression"] == "gzip"]

# (in, out, bits) of G1, from the table in soci-format.md 6.3.
G1_POINTS = [
    (10, 0, 0), (314, 4096, 0), (703, 8192, 5), (1091, 12288, 1), (1413, 16384, 4),
    (1844, 20480, 7), (2133, 24576, 0), (2528, 28672, 3), (2854, 32768, 7), (3250, 36864, 1),
    (3578, 40960, 0), (3975, 45056, 6), (4299, 49152, 0), (4694, 53248, 5), (5016, 57344, 4),
    (5414, 61440, 2), (5741, 65536, 0), (6140, 69632, 2), (6470, 73728, 7), (6866, 77824, 3),
    (7195, 81920, 5), (7530, 86016, 4), (7549, 90112, 6), (7570, 92160, 1),
]  # fmt: skip


def _points(cps: list[Any]) -> list[tuple[int, int, int]]:
    return [(c.compressed_offset, c.uncompressed_offset, c.bits) for c in cps]


@pytest.mark.parametrize("threaded", [True, False])
@pytest.mark.parametrize("vid", GZIP_IDS)
def test_vector_checkpoints_blob_and_span_digests(vid: str, threaded: bool) -> None:
    v = EXPECTED[vid]
    blob = (VECTORS / v["input"]).read_bytes()
    out, c = run_checkpointer(blob, v["span_size"], threaded=threaded)
    assert out == gunzip_all(blob)
    encoded = encode_zinfo_blob(c.checkpoints, v["span_size"])
    assert len(encoded) == v["checkpoints_len"]
    assert hashlib.sha256(encoded).hexdigest() == v["checkpoints_sha256"]
    assert c.span_digests == v["span_digests"]
    assert len(c.checkpoints) == v["max_span_id"] + 1
    assert c.compressed_size == v["compressed_archive_size"]


def test_g1_table_and_windows() -> None:
    blob = (VECTORS / "layer.tar.gz").read_bytes()
    plain = (VECTORS / "layer.tar").read_bytes()
    out, c = run_checkpointer(blob, 1024)
    assert out == plain
    assert _points(c.checkpoints) == G1_POINTS
    for cp in c.checkpoints:
        want = (bytes(WINDOW_SIZE) + plain[: cp.uncompressed_offset])[-WINDOW_SIZE:]
        assert cp.window == want


def test_m1_second_member_checkpoint_and_window() -> None:
    """Section 4.3: the point after member 2's header, window taken from member 1's output."""
    blob = (VECTORS / "layer-2member.tar.gz").read_bytes()
    plain = (VECTORS / "layer.tar").read_bytes()
    out, c = run_checkpointer(blob, 1024)
    assert out == plain
    assert _points(c.checkpoints) == [(10, 0, 0), (3631, 46080, 0)]
    assert c.checkpoints[1].window == plain[46080 - WINDOW_SIZE : 46080]


def test_p1_fname_header_is_checkpoint_0() -> None:
    blob = (VECTORS / "gnu-fname.tar.gz").read_bytes()
    assert blob[3] & 8  # FNAME
    _, c = run_checkpointer(blob, 65536)
    assert _points(c.checkpoints)[0] == (18, 0, 0)


@pytest.mark.parametrize("vid", GZIP_IDS)
def test_vector_ztoc_checkpoints_decode_to_ours(vid: str) -> None:
    """The blob stored in soci's own zTOC decodes to exactly what we compute."""
    v = EXPECTED[vid]
    ztoc = decode_ztoc((VECTORS / v["ztoc_file"]).read_bytes())
    span, stored = decode_zinfo_blob(ztoc.compression.checkpoints)
    _, c = run_checkpointer((VECTORS / v["input"]).read_bytes(), v["span_size"])
    assert span == v["span_size"]
    assert stored == c.checkpoints


@pytest.mark.parametrize("vid", ["G1", "M1", "P1"])
def test_every_vector_file_extracts_through_its_span(vid: str) -> None:
    """Extract like the snapshotter: fetch the span's bytes only, resume, compare with gunzip."""
    v = EXPECTED[vid]
    blob = (VECTORS / v["input"]).read_bytes()
    plain, c = run_checkpointer(blob, v["span_size"])
    for e in v["entries"]:
        off, size = e["Off"], e["Size"]
        first, last = (
            GzipSpans(c.checkpoints, len(blob), 0).span_of(off),
            GzipSpans(c.checkpoints, len(blob), 0).span_of(off + size),
        )
        start = GzipSpans(c.checkpoints, len(blob), 0).span(first).compressed_start
        end = GzipSpans(c.checkpoints, len(blob), 0).span(last).compressed_end
        cp = c.checkpoints[first]
        got = inflate_from_checkpoint(blob[start:end], cp, off - cp.uncompressed_offset, size)
        assert got == plain[off : off + size], e["Name"]
