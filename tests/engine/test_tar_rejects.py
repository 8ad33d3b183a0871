"""What the scanner refuses (typed errors naming entry and offset) and Go's end-of-archive rules."""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import tarfile
from pathlib import Path

import pytest

from soci_index_builder.errors import TarFormatError, UnsupportedTarEntryError
from soci_index_builder.tar.scanner import TarScanner, read_toc


def make_tar(
    *members: tuple[str, bytes], fmt: int = tarfile.GNU_FORMAT, **tar_args: object
) -> bytes:
    """Members (name, data) as regular files, or with a typeflag prefix ``"<flag>:name"``."""
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=fmt, **tar_args) as tf:  # type: ignore[call-overload]
        for spec, data in members:
            flag, _, name = spec.rpartition(":")
            info = tarfile.TarInfo(name)
            info.type = flag.encode() or tarfile.REGTYPE
            info.size = len(data)
            info.mtime = 1700000000
            tf.addfile(info, io.BytesIO(data))
    return out.getvalue()


def patch_header(tar: bytes, offset: int, field: slice, value: bytes) -> bytes:
    """Overwrite a header field and recompute the header checksum."""
    raw = bytearray(tar)
    block = raw[offset : offset + 512]
    block[field] = value.ljust(field.stop - field.start, b"\0")
    block[148:156] = b" " * 8
    block[148:156] = b"%06o\0 " % sum(block)
    raw[offset : offset + 512] = block
    return bytes(raw)


TYPEFLAG = slice(156, 157)
SIZE = slice(124, 136)


def scan(data: bytes) -> list[tuple[str, str, int, int]]:
    return [
        (e.name, e.type, e.uncompressed_offset, e.uncompressed_size)
        for e in read_toc(io.BytesIO(data)).entries
    ]


# -- refused entries -------------------------------------------------------------------------------


def test_pax_global_header_is_refused() -> None:
    data = make_tar(("a", b"x"), fmt=tarfile.PAX_FORMAT, pax_headers={"comment": "global"})
    with pytest.raises(UnsupportedTarEntryError, match="'g'") as info:
        read_toc(io.BytesIO(data))
    assert info.value.offset == 0
    assert info.value.entry == "././@PaxHeader"  # the name Python's tarfile gives 'g' headers


@pytest.mark.parametrize("flag", ["7", "V", "M", "N", "D", "A", "S"])
def test_unknown_and_sparse_typeflags_are_refused(flag: str) -> None:
    data = make_tar(("ok", b"1"), (f"{flag}:odd", b""))
    with pytest.raises(UnsupportedTarEntryError, match=f"'{flag}'") as info:
        read_toc(io.BytesIO(data))
    assert (info.value.offset, info.value.entry) == (1024, "odd")
    assert "odd" in str(info.value) and "1024" in str(info.value)


def test_pax_gnu_sparse_records_are_refused() -> None:
    data = make_tar(("ok", b"1"), fmt=tarfile.PAX_FORMAT)
    with tarfile.open(fileobj=io.BytesIO(), mode="w", format=tarfile.PAX_FORMAT) as tf:
        info = tarfile.TarInfo("sparse")
        info.pax_headers = {
            "GNU.sparse.major": "1",
            "GNU.sparse.minor": "0",
            "GNU.sparse.name": "s",
        }
        data = info.tobuf(tarfile.PAX_FORMAT, tf.encoding, tf.errors) + bytes(1024)
    with pytest.raises(UnsupportedTarEntryError, match="sparse") as info_:
        read_toc(io.BytesIO(data))
    assert info_.value.offset == 1024  # the entry's own header, after the 'x' header and payload
    assert info_.value.entry == "sparse"


GNU_TAR = shutil.which("tar")


@pytest.mark.skipif(GNU_TAR is None, reason="GNU tar not installed")
@pytest.mark.parametrize("fmt", ["gnu", "posix"])
def test_gnu_tar_sparse_files_are_refused(tmp_path: Path, fmt: str) -> None:
    sparse = tmp_path / "sparse"
    with open(sparse, "wb") as f:
        f.truncate(1 << 22)
        f.seek(1 << 21)
        f.write(b"data")
    out = tmp_path / "out.tar"
    cmd = [GNU_TAR, f"--format={fmt}", "--sparse", "-cf", str(out), "-C", str(tmp_path), "sparse"]
    subprocess.run(cmd, check=True, capture_output=True)
    with pytest.raises(UnsupportedTarEntryError, match="sparse"):
        read_toc(io.BytesIO(out.read_bytes()))


# -- corrupt tars ----------------------------------------------------------------------------------


def test_bad_checksum_names_entry_and_offset() -> None:
    data = bytearray(make_tar(("a", b"1"), ("second", b"22")))
    data[1024 + 100] ^= 1  # the mode field of the second header
    with pytest.raises(TarFormatError, match="checksum") as info:
        read_toc(io.BytesIO(bytes(data)))
    assert not isinstance(info.value, UnsupportedTarEntryError)
    assert (info.value.offset, info.value.entry) == (1024, "second")


def test_bad_numeric_field_is_corrupt() -> None:
    data = patch_header(make_tar(("a", b"1")), 0, slice(100, 108), b"0000x44")
    with pytest.raises(TarFormatError, match="octal") as info:
        read_toc(io.BytesIO(data))
    assert info.value.offset == 0


@pytest.mark.parametrize("cut", [1, 100, 511])
def test_truncated_header(cut: int) -> None:
    data = make_tar(("a", b"1"))[: 1024 + cut]
    with pytest.raises(TarFormatError, match="truncated tar header") as info:
        read_toc(io.BytesIO(data))
    assert info.value.offset == 1024


@pytest.mark.parametrize("cut", [0, 1, 2999])
def test_truncated_data(cut: int) -> None:
    data = make_tar(("big", b"z" * 3000))[: 512 + cut]
    with pytest.raises(TarFormatError, match="truncated entry data") as info:
        read_toc(io.BytesIO(data))
    assert (info.value.offset, info.value.entry) == (512, "big")


def test_truncated_meta_payload() -> None:
    data = make_tar(("n" * 300, b""))[:700]  # inside the GNU 'L' payload
    with pytest.raises(TarFormatError, match="truncated meta") as info:
        read_toc(io.BytesIO(data))
    assert info.value.offset == 0


def test_negative_size_is_corrupt() -> None:
    data = patch_header(make_tar(("a", b"")), 0, SIZE, b"\xff" * 12)
    with pytest.raises(TarFormatError, match="negative size") as info:
        read_toc(io.BytesIO(data))
    assert not isinstance(info.value, UnsupportedTarEntryError)


def test_oversized_meta_payload() -> None:
    data = patch_header(make_tar(("n" * 300, b"")), 0, SIZE, b"%011o" % ((1 << 20) + 1))
    with pytest.raises(TarFormatError, match="too large"):
        read_toc(io.BytesIO(data))


# -- end of archive (§3.2, §3.7) -------------------------------------------------------------------

BODY = make_tar(("a", b"1"))[:1024]  # header + padded data, no end blocks


@pytest.mark.parametrize(
    ("tail", "size"),
    [
        (b"", 1024),  # EOF exactly at a header boundary
        (bytes(512), 1536),  # zero block then EOF
        (bytes(1024), 2048),  # two zero blocks
        (bytes(10240), 2048),  # record padding beyond them is not counted
        (bytes(1024) + b"garbage", 2048),
    ],
)
def test_end_of_archive(tail: bytes, size: int) -> None:
    toc = read_toc(io.BytesIO(BODY + tail))
    assert [e.name for e in toc.entries] == ["a"]
    assert toc.archive_size == size


def test_zero_block_then_non_zero_block() -> None:
    with pytest.raises(TarFormatError, match="non-zero") as info:
        read_toc(io.BytesIO(BODY + bytes(512) + BODY))
    assert info.value.offset == 1536


def test_zero_block_then_partial_block() -> None:
    with pytest.raises(TarFormatError, match="truncated"):
        read_toc(io.BytesIO(BODY + bytes(512) + bytes(100)))


@pytest.mark.parametrize("cut", [513, 600, 1023])
def test_eof_inside_padding_ends_the_archive(cut: int) -> None:
    # Go's tryReadFull turns a short padding read into io.EOF: a clean end, not an error.
    toc = read_toc(io.BytesIO(BODY[:cut]))
    assert [e.name for e in toc.entries] == ["a"]
    assert toc.archive_size == cut


def test_pax_header_then_eof_is_a_clean_end() -> None:
    data = make_tar(("é", b"1"), fmt=tarfile.PAX_FORMAT)
    assert read_toc(io.BytesIO(data[:1024])).entries == ()  # the 'x' header and its payload only


# -- Go quirks that shape offsets ------------------------------------------------------------------


def test_header_only_type_with_size_has_no_data() -> None:
    data = make_tar(("5:dir/", b""), ("after", b"abc"))
    data = patch_header(data, 0, SIZE, b"%011o" % 5000)
    assert scan(data) == [("dir/", "dir", 512, 5000), ("after", "reg", 1024, 3)]


def test_typeflag_nul_folds_by_trailing_slash() -> None:
    reg = patch_header(make_tar(("old", b"xy"), ("next", b"")), 0, TYPEFLAG, b"\0")
    assert scan(reg) == [("old", "reg", 512, 2), ("next", "reg", 1536, 0)]
    folded = patch_header(make_tar(("old/", b""), ("next", b"")), 0, TYPEFLAG, b"\0")
    folded = patch_header(folded, 0, SIZE, b"%011o" % 2)  # a directory is header-only
    assert scan(folded) == [("old/", "dir", 512, 2), ("next", "reg", 1024, 0)]


def test_folded_directory_data_is_read_as_the_next_header() -> None:
    # Go gives a '\0' entry ending in '/' no data section, so its data bytes are parsed as a
    # header: mirrored, not "fixed".
    data = patch_header(make_tar(("old/", b"xy"), ("next", b"")), 0, TYPEFLAG, b"\0")
    with pytest.raises(TarFormatError, match="checksum") as info:
        read_toc(io.BytesIO(data))
    assert info.value.offset == 512  # the data block where the next header was expected


def test_later_pax_header_replaces_earlier_and_long_name_wins() -> None:
    x1 = make_tar(("p" * 120, b""), fmt=tarfile.PAX_FORMAT)[:1024]  # 'x' with path=ppp...
    x2 = make_tar(("q" * 130, b"12"), fmt=tarfile.PAX_FORMAT)[:-1024]
    entries = read_toc(io.BytesIO(x1 + x2 + bytes(1024))).entries
    assert [e.name for e in entries] == ["q" * 130]
    assert dict(entries[0].pax_records) == {"path": "q" * 130}
    gnu = make_tar(("L" * 200, b"1"))[:-1024]  # GNU 'L' long name
    mixed = x1 + gnu + bytes(1024)
    (entry,) = read_toc(io.BytesIO(mixed)).entries
    assert entry.name == "L" * 200  # L overrides PAX path; the records stay
    assert dict(entry.pax_records) == {"path": "p" * 120}


def test_non_utf8_names_round_trip() -> None:
    raw_name = b"caf\xe9-\xff.txt"
    data = patch_header(make_tar(("x", b"1")), 0, slice(0, 100), raw_name)
    (entry,) = read_toc(io.BytesIO(data)).entries
    assert entry.name.encode("utf-8", "surrogateescape") == raw_name


def test_scanner_reads_from_real_file(tmp_path: Path) -> None:
    path = tmp_path / "t.tar"
    path.write_bytes(make_tar(("a", b"1" * 70000), ("b", b"")))
    with open(path, "rb") as f:
        scanner = TarScanner(f, buffer_size=4096)
        assert [e.name for e in scanner.entries()] == ["a", "b"]
        assert scanner.archive_size == 512 + 70144 + 512 + 1024
        assert scanner.archive_size + len(scanner.leftover()) == f.tell()
    assert os.path.getsize(path) >= scanner.archive_size


# -- PAX fast paths ------------------------------------------------------------------------------

T0 = "2023-11-14T22:13:20"  # mod_time of 1700000000


def pax_tar(*members: tuple[str, bytes, float]) -> bytes:
    """(name, typeflag, mtime) members with no data; a sub-second mtime needs a PAX header."""
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as tf:
        for name, flag, mtime in members:
            info = tarfile.TarInfo(name)
            info.type, info.mtime = flag, mtime
            tf.addfile(info)
    return out.getvalue()


def test_repeated_sub_second_mtime_headers_match_tarfile() -> None:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as tf:
        for i in range(40):
            info = tarfile.TarInfo(f"s{i}/" if i % 5 == 0 else f"s{i}")
            info.type = tarfile.DIRTYPE if i % 5 == 0 else tarfile.REGTYPE
            info.size = 0 if i % 5 == 0 else i
            info.mtime = 1700000000.25 if i % 3 else 1700000000 + i + 0.125
            tf.addfile(info, io.BytesIO(b"z" * info.size))
    entries = read_toc(io.BytesIO(out.getvalue())).entries
    with tarfile.open(fileobj=io.BytesIO(out.getvalue())) as tf:
        oracle = tf.getmembers()
    assert len(entries) == len(oracle) == 40
    for entry, member in zip(entries, oracle, strict=True):
        assert entry.name == member.name + "/" * member.isdir()
        assert entry.type == ("dir" if member.isdir() else "reg")
        assert entry.pax_records == tuple(member.pax_headers.items())
        assert entry.mod_time.endswith(str(member.mtime).partition(".")[2] + "Z")
        assert entry.uncompressed_size == member.size


def test_pax_mtime_with_nul_typeflag_long_name_and_second_header() -> None:
    x_and_dir = pax_tar(("d/", tarfile.DIRTYPE, 1700000000.5))[:-1024]
    # typeflag '\0' with a trailing slash folds to a directory (Go), after the PAX header.
    folded = patch_header(x_and_dir, 1024, TYPEFLAG, b"\0")
    (entry,) = read_toc(io.BytesIO(folded + bytes(1024))).entries
    assert (entry.name, entry.type, entry.mod_time) == ("d/", "dir", f"{T0}.5Z")
    assert entry.pax_records == (("mtime", "1700000000.5"),)
    # A PAX header, then a GNU long name: the name comes from 'L', the mtime from 'x'.
    gnu = make_tar(("L" * 200, b"1"))[:-1024]
    (entry,) = read_toc(io.BytesIO(x_and_dir[:1024] + gnu + bytes(1024))).entries
    assert (entry.name, entry.mod_time) == ("L" * 200, f"{T0}.5Z")
    assert entry.pax_records == (("mtime", "1700000000.5"),)
    # Two PAX headers in a row: the later one replaces the earlier.
    later = pax_tar(("f", tarfile.REGTYPE, 1700000000.75))
    (entry,) = read_toc(io.BytesIO(x_and_dir[:1024] + later)).entries
    assert (entry.name, entry.mod_time) == ("f", f"{T0}.75Z")
    assert entry.pax_records == (("mtime", "1700000000.75"),)
