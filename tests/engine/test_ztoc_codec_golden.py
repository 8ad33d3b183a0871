"""zTOC golden vectors G1 G2 U1 M1 P1 P2 (soci-format.md section 6.3, tests/golden/)."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import pytest

from soci_index_builder.ztoc.codec import decode_ztoc, encode_ztoc
from soci_index_builder.ztoc.model import (
    CompressionAlgorithm,
    CompressionInfo,
    FileMetadata,
    Ztoc,
)
from soci_index_builder.ztoc.tar_zinfo import decode_tar_zinfo, encode_tar_zinfo
from tests.golden import GOLDEN_DIR

from .test_ztoc_codec import decode_ztoc_generated, encode_ztoc_reference

VECTORS = GOLDEN_DIR
EXPECTED: list[dict[str, Any]] = json.loads((VECTORS / "expected.json").read_text())["vectors"]
IDS = [v["id"] for v in EXPECTED]


def _sha256(b: bytes) -> str:
    return "sha256:" + hashlib.sha256(b).hexdigest()


def _entry(e: dict[str, Any]) -> FileMetadata:
    """expected.json entry -> model (PAX in stored = key-sorted order)."""
    pax = tuple(sorted((e["PAX"] or {}).items(), key=lambda kv: kv[0].encode()))
    return FileMetadata(
        e["Name"], e["Type"], e["Off"], e["Size"], e["Linkname"], e["Mode"], e["UID"], e["GID"],
        e["Uname"], e["Gname"], e["ModTime"], e["Devmajor"], e["Devminor"], pax,
    )  # fmt: skip


def _expected_ztoc(v: dict[str, Any], checkpoints: bytes) -> Ztoc:
    info = CompressionInfo(
        CompressionAlgorithm(v["compression"]), v["max_span_id"], tuple(v["span_digests"]),
        checkpoints,
    )  # fmt: skip
    return Ztoc(
        v["version"], v["build_tool_identifier"], v["compressed_archive_size"],
        v["uncompressed_archive_size"], tuple(_entry(e) for e in v["entries"]), info,
    )  # fmt: skip


@pytest.fixture(params=EXPECTED, ids=IDS)
def vector(request: pytest.FixtureRequest) -> tuple[dict[str, Any], bytes]:
    v: dict[str, Any] = request.param
    raw = (VECTORS / v["ztoc_file"]).read_bytes()
    assert len(raw) == v["ztoc_size"]
    assert _sha256(raw) == v["ztoc_digest"]
    return v, raw


def test_decode_every_field(vector: tuple[dict[str, Any], bytes]) -> None:
    v, raw = vector
    z = decode_ztoc(raw)
    assert z.version == v["version"] == "0.9"
    assert z.build_tool_identifier == v["build_tool_identifier"]
    assert z.compressed_archive_size == v["compressed_archive_size"]
    assert z.uncompressed_archive_size == v["uncompressed_archive_size"]
    assert z.compression.algorithm is CompressionAlgorithm(v["compression"])
    assert z.compression.max_span_id == v["max_span_id"]
    assert list(z.compression.span_digests) == v["span_digests"]
    assert len(z.compression.checkpoints) == v["checkpoints_len"]
    assert hashlib.sha256(z.compression.checkpoints).hexdigest() == v["checkpoints_sha256"]
    assert list(z.entries) == [_entry(e) for e in v["entries"]]
    assert z == _expected_ztoc(v, z.compression.checkpoints)
    assert decode_ztoc_generated(raw) == z


def test_reencode_is_identical(vector: tuple[dict[str, Any], bytes]) -> None:
    v, raw = vector
    out = encode_ztoc(decode_ztoc(raw))
    assert out == raw
    assert _sha256(out) == v["ztoc_digest"]


def test_encode_from_expected_json(vector: tuple[dict[str, Any], bytes]) -> None:
    """Build the Ztoc from expected.json alone (+ the checkpoints blob) and get the file."""
    v, raw = vector
    if v["compression"] == "uncompressed":
        checkpoints = encode_tar_zinfo(v["span_size"], v["compressed_archive_size"])
        assert hashlib.sha256(checkpoints).hexdigest() == v["checkpoints_sha256"]
    else:
        checkpoints = decode_ztoc(raw).compression.checkpoints
    z = _expected_ztoc(v, checkpoints)
    assert encode_ztoc(z) == raw
    assert encode_ztoc_reference(z) == raw


def test_u1_checkpoints_are_tar_zinfo() -> None:
    (u1,) = (v for v in EXPECTED if v["id"] == "U1")
    z = decode_ztoc((VECTORS / u1["ztoc_file"]).read_bytes())
    assert z.compression.checkpoints == encode_tar_zinfo(4096, 92160)
    assert decode_tar_zinfo(z.compression.checkpoints) == (4096, 92160)
    assert len(z.compression.checkpoints) == 48
