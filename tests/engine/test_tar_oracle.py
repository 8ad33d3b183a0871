"""The tar scanner against Python tarfile as an oracle, on tars made by tarfile and GNU tar."""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import tarfile
from decimal import ROUND_DOWN, ROUND_FLOOR, Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from soci_index_builder.tar.entries import mod_time
from soci_index_builder.tar.scanner import read_toc
from soci_index_builder.ztoc.model import FileMetadata

TYPES = {
    tarfile.REGTYPE: "reg",
    tarfile.DIRTYPE: "dir",
    tarfile.SYMTYPE: "symlink",
    tarfile.LNKTYPE: "hardlink",
    tarfile.FIFOTYPE: "fifo",
    tarfile.CHRTYPE: "char",
    tarfile.BLKTYPE: "block",
}
LINKS = (tarfile.SYMTYPE, tarfile.LNKTYPE)
FORMATS = {"ustar": tarfile.USTAR_FORMAT, "gnu": tarfile.GNU_FORMAT, "pax": tarfile.PAX_FORMAT}

name_part = st.text(
    st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters="/\0"),
    min_size=1,
    max_size=40,
)
names = st.lists(name_part, min_size=1, max_size=8).map("/".join)
ascii_part = st.text(
    st.characters(min_codepoint=0x20, max_codepoint=0x7E, blacklist_characters="/"),
    min_size=1,
    max_size=30,
)
# USTAR: up to 4 x 30 characters of directories (the prefix field) and a leaf of up to 30.
ustar_names = st.tuples(st.lists(ascii_part, max_size=4), ascii_part).map(
    lambda parts: "/".join([*parts[0], parts[1]])
)


@st.composite
def members(draw: st.DrawFn, fmt: str) -> dict[str, Any]:
    kind = draw(st.sampled_from(sorted(TYPES)))
    name = draw(ustar_names if fmt == "ustar" else names)
    big = fmt != "ustar"
    member: dict[str, Any] = {
        "name": name,
        "type": kind,
        "size": draw(st.integers(0, 3000)) if kind == tarfile.REGTYPE else 0,
        "mode": draw(st.integers(0, 0o7777)),
        "uid": draw(st.integers(0, (1 << 40) if big else 0o7777777)),
        "gid": draw(st.integers(0, (1 << 33) if big else 0o7777777)),
        "mtime": draw(st.integers(-(10**10) if big else 0, 10**11 if big else 8**11 - 1)),
        "linkname": draw(ascii_part if fmt == "ustar" else names) if kind in LINKS else "",
        "devmajor": draw(st.integers(0, 4095)) if kind in (tarfile.CHRTYPE, tarfile.BLKTYPE) else 0,
        "devminor": draw(st.integers(0, 4095)) if kind in (tarfile.CHRTYPE, tarfile.BLKTYPE) else 0,
        "uname": draw(st.sampled_from(["", "root", "user"])),
        "pax": {},
    }
    if fmt == "pax" and draw(st.booleans()):
        nanos = draw(st.integers(1, 999_999_999))
        member["pax"]["mtime"] = f"{member['mtime']}.{nanos:09d}".rstrip("0")
        member["pax"]["SCHILY.xattr.user.k"] = draw(st.text(max_size=20))
        member["pax"]["comment"] = ""
    return member


def write_tar(items: list[dict[str, Any]], fmt: str) -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=FORMATS[fmt]) as tf:
        for m in items:
            info = tarfile.TarInfo(m["name"])
            info.type = m["type"]
            for field in ("size", "mode", "uid", "gid", "mtime", "linkname", "uname"):
                setattr(info, field, m[field])
            info.devmajor, info.devminor = m["devmajor"], m["devminor"]
            info.pax_headers = dict(m["pax"])
            tf.addfile(info, io.BytesIO(b"d" * m["size"]) if m["size"] else None)
    return out.getvalue()


def expected_mod_time(member: tarfile.TarInfo) -> str:
    """mod_time from tarfile's view, with nanoseconds from the raw PAX string (Decimal)."""
    raw = member.pax_headers.get("mtime")
    if not raw:
        return mod_time(int(member.mtime))
    exact = Decimal(raw).quantize(Decimal("1e-9"), rounding=ROUND_DOWN)
    seconds = int(exact.to_integral_value(rounding=ROUND_FLOOR))
    return mod_time(seconds, int((exact - seconds) * 10**9))


def assert_matches_tarfile(data: bytes) -> list[FileMetadata]:
    toc = read_toc(io.BytesIO(data))
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:") as tf:
        oracle = tf.getmembers()
        end = tf.offset
    assert len(toc.entries) == len(oracle)
    for ours, theirs in zip(toc.entries, oracle, strict=True):
        name = ours.name.rstrip("/") if theirs.isdir() else ours.name  # tarfile strips dir slashes
        assert name == theirs.name
        assert ours.type == TYPES[theirs.type]
        assert ours.uncompressed_offset == theirs.offset_data
        assert (ours.uncompressed_size, ours.mode) == (theirs.size, theirs.mode)
        assert (ours.uid, ours.gid) == (theirs.uid & 0xFFFFFFFF, theirs.gid & 0xFFFFFFFF)
        assert (ours.uname, ours.gname, ours.linkname) == (
            theirs.uname,
            theirs.gname,
            theirs.linkname,
        )
        assert (ours.devmajor, ours.devminor) == (theirs.devmajor, theirs.devminor)
        assert dict(ours.pax_records) == theirs.pax_headers
        assert ours.mod_time == expected_mod_time(theirs)
    assert toc.archive_size == end + 1024  # tarfile stops at the first zero block
    return list(toc.entries)


@pytest.mark.parametrize("fmt", sorted(FORMATS))
@given(data=st.data())
def test_tarfile_written_tars(fmt: str, data: st.DataObject) -> None:
    items = data.draw(st.lists(members(fmt), min_size=0, max_size=12))
    assert_matches_tarfile(write_tar(items, fmt))


def test_pax_fraction_and_negative_mtimes() -> None:
    items = [
        {"name": n, "type": tarfile.REGTYPE, "size": 1, "mode": 0o644, "uid": 0, "gid": 0,
         "mtime": 0, "linkname": "", "devmajor": 0, "devminor": 0, "uname": "", "pax": {"mtime": t}}
        for n, t in [("a", "-1.5"), ("b", "1700000000.000000001"), ("c", "-14182940"), ("d", "1.")]
    ]  # fmt: skip
    entries = assert_matches_tarfile(write_tar(items, "pax"))
    assert [e.mod_time for e in entries] == [
        "1969-12-31T23:59:58.5Z",
        "2023-11-14T22:13:20.000000001Z",
        "1969-07-20T20:17:40Z",
        "1970-01-01T00:00:01Z",
    ]


def test_gnu_base256_and_long_names() -> None:
    long = "d" * 150 + "/" + "é" * 80
    items = [
        {"name": long, "type": tarfile.SYMTYPE, "size": 0, "mode": 0o777, "uid": 1 << 40,
         "gid": 5, "mtime": -(10**9), "linkname": "t" * 300, "devmajor": 0, "devminor": 0,
         "uname": "u", "pax": {}},
    ]  # fmt: skip
    (entry,) = assert_matches_tarfile(write_tar(items, "gnu"))
    assert (entry.name, entry.linkname, entry.uid) == (long, "t" * 300, 0)  # 2**40 as uint32
    assert entry.mod_time == "1938-04-24T22:13:20Z"


GNU_TAR = shutil.which("tar")
needs_gnu_tar = pytest.mark.skipif(GNU_TAR is None, reason="GNU tar not installed")


def make_tree(root: Path) -> None:
    deep = root / ("n" * 120) / "sub"
    deep.mkdir(parents=True)
    (deep / "file-with-a-long-name.txt").write_bytes(b"x" * 777)
    (root / "données.txt").write_text("é")
    (root / "empty").write_bytes(b"")
    (root / "big").write_bytes(os.urandom(70000))
    os.symlink("../" + "t" * 150, root / "long-link")
    os.symlink("big", root / "short-link")
    os.link(root / "big", root / "hard")
    os.mkfifo(root / "fifo")
    os.utime(root / "empty", ns=(1_000_000_000, -14_182_940_123_456_789))


@needs_gnu_tar
@pytest.mark.parametrize("fmt", ["gnu", "posix", "ustar"])
def test_gnu_tar_written_tars(tmp_path: Path, fmt: str) -> None:
    make_tree(tmp_path / "tree")
    out = tmp_path / "out.tar"
    names = sorted(p.name for p in (tmp_path / "tree").iterdir())
    if fmt == "ustar":
        # no long names, no pre-1970 mtime in plain USTAR
        names = [n for n in names if not n.startswith("n") and n not in ("long-link", "empty")]
    command = [GNU_TAR, f"--format={fmt}", "-cf", str(out), "-C", str(tmp_path / "tree"), *names]
    subprocess.run(command, check=True, capture_output=True)
    entries = assert_matches_tarfile(out.read_bytes())
    types = {e.name.rstrip("/").rsplit("/", 1)[-1]: e.type for e in entries}
    assert types["fifo"] == "fifo"
    assert "données.txt" in types
    assert "hardlink" in types.values() and "symlink" in types.values()
    if fmt == "posix":
        empty = next(e for e in entries if e.name == "empty")
        assert {"atime", "ctime", "mtime"} <= dict(empty.pax_records).keys()
        assert empty.mod_time == "1969-07-20T20:17:39.876543211Z"
