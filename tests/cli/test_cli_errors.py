"""Every subcommand on bad input: one line on stderr, the documented exit code, no traceback."""

from __future__ import annotations

import gzip
import io
import json
import os
import re
import subprocess
import sys
import tarfile
from collections.abc import Callable
from pathlib import Path

import pytest

from soci_index_builder.cli.main import build_parser, main
from soci_index_builder.cli.output import parse_size
from soci_index_builder.digest import DigestingReader
from soci_index_builder.errors import SizeMismatchError

GOLDEN = Path(__file__).resolve().parents[1] / "golden"
LAYER = GOLDEN / "layer.tar.gz"
ROOT = Path(__file__).resolve().parents[2]


def _ztoc(tmp: Path) -> Path:
    assert main(["ztoc", "build", str(LAYER), "-o", str(tmp / "l.ztoc")]) == 0
    return tmp / "l.ztoc"


def _spec(tmp: Path, change: Callable[[dict], object]) -> Path:
    """``ztoc info --json --raw-checkpoints`` of the golden layer, edited by ``change``."""
    out = subprocess.run(
        [sys.executable, "-m", "soci_index_builder.cli.main", "ztoc", "info", "--json",
         "--raw-checkpoints", str(_ztoc(tmp))],
        capture_output=True, check=True,
    ).stdout  # fmt: skip
    spec = json.loads(out)
    spec = change(spec) or spec
    (tmp / "spec.json").write_text(json.dumps(spec))
    return tmp / "spec.json"


def _set(path: str, value: object) -> Callable[[dict], None]:
    def change(spec: dict) -> None:
        *parents, last = path.split(".")
        target = spec
        for key in parents:
            target = target[int(key)] if key.isdigit() else target[key]
        target[last] = value

    return change


def _truncated(tmp: Path) -> Path:
    (tmp / "t.tar.gz").write_bytes(LAYER.read_bytes()[:1000])
    return tmp / "t.tar.gz"


CASES: dict[str, tuple[Callable[[Path], list[str]], int, str]] = {
    "build: no such layer": (lambda t: ["ztoc", "build", str(t / "nope"), "-o", str(t / "o")],
                             1, "No such file or directory"),
    "build: truncated gzip": (lambda t: ["ztoc", "build", str(_truncated(t)), "-o", str(t / "o")],
                              1, "truncated gzip stream"),
    "build: wrong digest": (lambda t: ["ztoc", "build", str(LAYER), "-o", str(t / "o"),
                                       "--layer-digest", "sha256:" + "0" * 64],
                            1, "digest mismatch"),
    "build: output directory missing": (
        lambda t: ["ztoc", "build", str(LAYER), "-o", str(t / "no" / "o")], 1, f"{os.sep}no"),
    "info: truncated zTOC": (
        lambda t: ["ztoc", "info", str(_cut(_ztoc(t), 100))], 1, "outside the 100-byte buffer"),
    "info: a directory": (lambda t: ["ztoc", "info", str(t)], 1, "Is a directory"),
    "encode: field out of range": (
        lambda t: ["ztoc", "encode", str(_spec(t, _set("max_span_id", 2**40))), "-o", str(t / "o")],
        1, "out of range"),
    "encode: size beyond int64": (
        lambda t: ["ztoc", "encode", str(_spec(t, _set("entries.0.uncompressed_size", 2**70))),
                   "-o", str(t / "o")], 1, "out of range"),
    "encode: wrong type": (
        lambda t: ["ztoc", "encode", str(_spec(t, _set("entries.0.name", 5))), "-o", str(t / "o")],
        2, "entries[0].name has the wrong type"),
    "encode: missing field": (
        lambda t: ["ztoc", "encode", str(_spec(t, lambda s: s.pop("version") and None)),
                   "-o", str(t / "o")], 2, "version is missing"),
    "encode: not an object": (
        lambda t: ["ztoc", "encode", str(_spec(t, lambda s: [s])), "-o", str(t / "o")],
        2, "must be a JSON object"),
    "encode: a binary file": (
        lambda t: ["ztoc", "encode", str(_ztoc(t)), "-o", str(t / "o")], 2, "not a JSON file"),
    "extract: no such entry": (
        lambda t: ["ztoc", "extract", str(_ztoc(t)), str(LAYER), "nope"], 1, "no file 'nope'"),
    "index: bad reference": (lambda t: ["index", "not a ref"], 2, "usage error"),
    "index: span below the minimum": (
        lambda t: ["index", f"oci:{t}:v1", "--span-size", "1KiB"], 2, "--span-size must be >="),
    "index: tag suffix with a space": (
        lambda t: ["index", f"oci:{t}:v1", "--tag-suffix", " soci"], 2, "--tag-suffix must be"),
    "index: no such layout": (lambda t: ["index", f"oci:{t / 'nope'}:v1"], 1, "error:"),
}  # fmt: skip


def _cut(path: Path, size: int) -> Path:
    path.write_bytes(path.read_bytes()[:size])
    return path


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_input_is_one_line_and_an_exit_code(
    case: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv, code, message = CASES[case]
    args = argv(tmp_path)
    capsys.readouterr()
    assert main(args) == code
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and message in err, err
    assert err.startswith(("error: ", "usage error: "))


def test_a_truncated_blob_says_so() -> None:
    reader = DigestingReader(io.BytesIO(b"12345"), expected_size=10, what="layer blob")
    with pytest.raises(SizeMismatchError, match="layer blob truncated: 5 bytes read, 10 expected"):
        reader.read(100) and reader.read(100)


def _latin1_layer(tmp: Path) -> Path:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.GNU_FORMAT) as tar:
        info = tarfile.TarInfo("caf\udce9.txt")  # the raw byte 0xE9: not UTF-8
        info.size = 3
        tar.addfile(info, io.BytesIO(b"abc"))
    (tmp / "l.tar.gz").write_bytes(gzip.compress(buffer.getvalue(), mtime=0))
    return tmp / "l.tar.gz"


def _cli(*args: str, encoding: str) -> subprocess.CompletedProcess[bytes]:
    env = {**os.environ, "PYTHONIOENCODING": encoding}
    command = [sys.executable, "-m", "soci_index_builder.cli.main", *args]
    return subprocess.run(command, capture_output=True, env=env, cwd=ROOT)


@pytest.mark.parametrize("encoding", ["utf-8:strict", "ascii:strict"])
def test_info_prints_a_non_utf8_name_on_a_strict_stdout(tmp_path: Path, encoding: str) -> None:
    ztoc = tmp_path / "l.ztoc"
    assert main(["ztoc", "build", str(_latin1_layer(tmp_path)), "-o", str(ztoc)]) == 0
    text = _cli("ztoc", "info", str(ztoc), encoding=encoding)
    assert text.returncode == 0, text.stderr
    assert b"caf\\xe9.txt" in text.stdout
    raw = _cli("ztoc", "info", "--json", "--raw-checkpoints", str(ztoc), encoding=encoding)
    assert raw.returncode == 0, raw.stderr
    (tmp_path / "z.json").write_bytes(raw.stdout)
    again = tmp_path / "again.ztoc"
    assert main(["ztoc", "encode", str(tmp_path / "z.json"), "-o", str(again)]) == 0
    assert again.read_bytes() == ztoc.read_bytes()  # the JSON kept the raw byte


@pytest.mark.parametrize(
    ("text", "size"),
    [("65536", 65536), ("4MiB", 4 << 20), ("10MB", 10_000_000), ("1 GiB", 1 << 30), ("0", 0)],
)
def test_sizes_accept_units(text: str, size: int) -> None:
    assert parse_size(text) == size


@pytest.mark.parametrize("text", ["-1", "4 MiBs", "1.5MiB", "", "MiB"])
def test_malformed_sizes_are_refused(text: str) -> None:
    with pytest.raises(Exception, match="is not a size"):
        parse_size(text)


def test_help_shows_defaults_and_no_internal_section_numbers() -> None:
    parser = build_parser()
    texts = [parser.format_help()]
    actions = [a for a in parser._actions if a.choices and isinstance(a.choices, dict)]
    for action in actions:
        for sub in action.choices.values():
            texts.append(sub.format_help())
            texts += [
                s.format_help()
                for a in sub._actions
                if isinstance(a.choices, dict)
                for s in a.choices.values()
            ]
    joined = "\n".join(texts)
    assert not re.search(r"\(\d+(\.\d+)+\)|section \d", joined)
    index_help = next(t for t in texts if "--min-layer-size" in t)
    assert "(default: 4.0 MiB" in index_help and "(default: 10.0 MiB)" in index_help
