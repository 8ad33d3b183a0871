"""`soci-index-builder ztoc ...` end to end: soci's golden vectors byte for byte, bad input."""

from __future__ import annotations

import base64
import gzip
import hashlib
import io
import json
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from soci_index_builder.cli.main import main

GOLDEN = Path(__file__).resolve().parents[1] / "golden"
EXPECTED = {v["id"]: v for v in json.loads((GOLDEN / "expected.json").read_text())["vectors"]}
TOOL = "AWS SOCI CLI v0.2"


def _build(tmp_path: Path, layer: Path, *extra: str) -> tuple[int, Path]:
    out = tmp_path / "out.ztoc"
    code = main(
        ["ztoc", "build", str(layer), "-o", str(out), "--build-tool-identifier", TOOL, *extra]
    )
    return code, out


@pytest.mark.parametrize("vector_id", sorted(EXPECTED))
def test_vectors_are_reproduced_byte_for_byte(vector_id, tmp_path, capsys):
    vector = EXPECTED[vector_id]
    code, out = _build(tmp_path, GOLDEN / vector["input"], "--span-size", str(vector["span_size"]))
    assert code == 0
    assert out.read_bytes() == (GOLDEN / vector["ztoc_file"]).read_bytes()
    assert capsys.readouterr().out.split() == [vector["ztoc_digest"], str(vector["ztoc_size"])]


def test_layer_digest_is_verified(tmp_path, capsys):
    layer = GOLDEN / "layer.tar.gz"
    good = "sha256:" + hashlib.sha256(layer.read_bytes()).hexdigest()
    assert _build(tmp_path, layer, "--layer-digest", good)[0] == 0
    (tmp_path / "out.ztoc").unlink()
    code, out = _build(tmp_path, layer, "--layer-digest", "sha256:" + "0" * 64)
    assert code == 1
    assert not out.exists()
    assert "digest mismatch" in capsys.readouterr().err


def test_info_json_lists_every_field(tmp_path, capsys):
    assert main(["ztoc", "info", str(GOLDEN / "G1.ztoc"), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    vector = EXPECTED["G1"]
    assert info["span_digests"] == vector["span_digests"]
    assert info["max_span_id"] == vector["max_span_id"]
    assert info["uncompressed_archive_size"] == vector["uncompressed_archive_size"]
    assert [e["name"] for e in info["entries"]] == [e["Name"] for e in vector["entries"]]
    assert info["checkpoints"]["points"][2] == {"in": 703, "out": 8192, "bits": 5}
    assert main(["ztoc", "info", str(GOLDEN / "U1.ztoc")]) == 0
    assert "uncompressed" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("ztoc", "layer"),
    [
        ("G1", "layer.tar.gz"),
        ("M1", "layer-2member.tar.gz"),
        ("U1", "layer.tar"),
        ("P1", "gnu-fname.tar.gz"),
    ],
)
def test_extract_every_file_through_the_checkpoints(ztoc, layer, tmp_path):
    raw = (GOLDEN / layer).read_bytes()
    tar_bytes = gzip.decompress(raw) if layer.endswith(".gz") else raw
    with tarfile.open(fileobj=io.BytesIO(tar_bytes)) as tar:
        files = [(m.name, tar.extractfile(m).read()) for m in tar if m.isreg()]
    assert files
    for name, content in files:
        out = tmp_path / "file"
        code = main(
            [
                "ztoc",
                "extract",
                str(GOLDEN / f"{ztoc}.ztoc"),
                str(GOLDEN / layer),
                name,
                "-o",
                str(out),
            ]
        )
        assert code == 0, name
        assert out.read_bytes() == content, name


def test_verify_passes_and_catches_a_tampered_layer(tmp_path, capsys):
    assert main(["ztoc", "verify", str(GOLDEN / "G1.ztoc"), str(GOLDEN / "layer.tar.gz")]) == 0
    assert "ok: 24 spans" in capsys.readouterr().out
    tampered = bytearray((GOLDEN / "layer.tar.gz").read_bytes())
    tampered[3000] ^= 0xFF
    bad = tmp_path / "bad.tar.gz"
    bad.write_bytes(bytes(tampered))
    assert main(["ztoc", "verify", str(GOLDEN / "G1.ztoc"), str(bad)]) == 1


def _global_header_tar() -> bytes:
    buf = io.BytesIO()
    with tarfile.open(
        fileobj=buf, mode="w", format=tarfile.PAX_FORMAT, pax_headers={"comment": "x"}
    ) as tar:
        info = tarfile.TarInfo("a.txt")
        info.size = 1
        tar.addfile(info, io.BytesIO(b"a"))
    return gzip.compress(buf.getvalue(), mtime=0)


def _bad_inputs() -> dict[str, bytes]:
    good = (GOLDEN / "layer.tar.gz").read_bytes()
    corrupt = bytearray(good)
    corrupt[200:260] = b"\xff" * 60
    return {
        "truncated gzip": good[: len(good) // 2],
        "corrupt deflate": bytes(corrupt),
        "garbage": b"\x1f\x8b" + bytes(range(256)) * 4,
        "global header": _global_header_tar(),
        "zstd": b"\x28\xb5\x2f\xfd" + b"\0" * 64,
        "empty": b"",
    }


@pytest.mark.parametrize("case", sorted(_bad_inputs()))
def test_bad_input_fails_cleanly(case, tmp_path, capsys):
    layer = tmp_path / "layer.bin"
    layer.write_bytes(_bad_inputs()[case])
    extra = ["--compression", "gzip"] if case == "empty" else []
    code, out = _build(tmp_path, layer, *extra)
    err = capsys.readouterr().err
    assert code == 1, case
    assert err.startswith("error: ") and err.count("\n") == 1, err
    assert not out.exists()
    assert [p.name for p in tmp_path.iterdir()] == ["layer.bin"]


def test_console_script_help():
    script = Path(sys.executable).with_name("soci-index-builder")
    for args in (
        ["--help"],
        ["ztoc", "build", "--help"],
        ["ztoc", "verify", "--help"],
        ["index", "--help"],
    ):
        result = subprocess.run([str(script), *args], capture_output=True, text=True, check=False)
        assert result.returncode == 0, result.stderr
        assert "usage: soci-index-builder" in result.stdout


def test_soci_test_write_ztoc_golden_value_through_the_cli(tmp_path, capsys):
    """soci's TestWriteZtoc (ztoc/ztoc_test.go): a hand-made zTOC with a known digest."""
    blank = {
        "name": "", "type": "", "uncompressed_offset": 0, "uncompressed_size": 0, "linkname": "",
        "mode": 0, "uid": 0, "gid": 0, "uname": "", "gname": "",
        "mod_time": "0001-01-01T00:00:00Z", "devmajor": 0, "devminor": 0, "pax_records": {},
    }  # fmt: skip
    spec = {
        "version": "0.9",
        "build_tool_identifier": "AWS SOCI CLI",
        "compressed_archive_size": 2000000,
        "uncompressed_archive_size": 2500000,
        "compression_algorithm": None,
        "max_span_id": 3,
        "span_digests": [],
        "checkpoints_base64": base64.b64encode(bytes(65536)).decode(),
        "entries": [blank, blank],
    }
    (tmp_path / "spec.json").write_text(json.dumps(spec))
    out = tmp_path / "golden.ztoc"
    assert main(["ztoc", "encode", str(tmp_path / "spec.json"), "-o", str(out)]) == 0
    digest = "sha256:eba28fdf50b1b57543f57dd051b2468c1d4f57b64d2006c75aa4de1d03e6c7ec"
    assert capsys.readouterr().out.split() == [digest, "65928"]
    assert hashlib.sha256(out.read_bytes()).hexdigest() == digest.removeprefix("sha256:")
    assert main(["ztoc", "info", str(out)]) == 0  # undecodable checkpoints are reported, not fatal
    assert "checkpoints blob:          65536 bytes" in capsys.readouterr().out


@pytest.mark.parametrize("vector_id", ["G1", "U1", "P2"])
def test_info_json_and_encode_round_trip_byte_for_byte(vector_id, tmp_path, capsys):
    golden = GOLDEN / EXPECTED[vector_id]["ztoc_file"]
    assert main(["ztoc", "info", str(golden), "--json", "--raw-checkpoints"]) == 0
    (tmp_path / "spec.json").write_text(capsys.readouterr().out)
    out = tmp_path / "again.ztoc"
    assert main(["ztoc", "encode", str(tmp_path / "spec.json"), "-o", str(out)]) == 0
    assert out.read_bytes() == golden.read_bytes()


def test_encode_rejects_an_incomplete_description(tmp_path, capsys):
    (tmp_path / "spec.json").write_text(json.dumps({"version": "0.9"}))
    assert main(["ztoc", "encode", str(tmp_path / "spec.json"), "-o", str(tmp_path / "x")]) == 2
    assert "not a complete zTOC description" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()
