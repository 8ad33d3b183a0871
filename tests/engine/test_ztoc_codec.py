"""zTOC codec: the specialised encoder equals the stock FlatBuffers Builder (soci-format.md 2.3)."""

from __future__ import annotations

import contextlib
import hashlib
import struct

import flatbuffers
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from soci_index_builder.errors import SociError
from soci_index_builder.ztoc.codec import ZtocFormatError, decode_ztoc, encode_ztoc
from soci_index_builder.ztoc.model import (
    CompressionAlgorithm,
    CompressionInfo,
    FileMetadata,
    Ztoc,
)
from soci_index_builder.ztoc.tar_zinfo import decode_tar_zinfo, encode_tar_zinfo
from tests.fbs.zinfo.TarZinfo import TarZinfo as FbTarZinfo
from tests.fbs.ztoc.Ztoc import Ztoc as FbZtoc

ALGORITHM_VALUES = {CompressionAlgorithm.GZIP: 1, CompressionAlgorithm.UNCOMPRESSED: 2}


def _b(s: str) -> bytes:
    return s.encode("utf-8", "surrogateescape")


def _s(b: bytes | None) -> str:
    return (b or b"").decode("utf-8", "surrogateescape")


def _reference_entry(b: flatbuffers.Builder, e: FileMetadata) -> int:
    name, typ, link, uname, gname, mt = (
        b.CreateString(_b(x)) for x in (e.name, e.type, e.linkname, e.uname, e.gname, e.mod_time)
    )
    xattrs = []
    for key, value in sorted(((_b(k), _b(v)) for k, v in e.pax_records), key=lambda kv: kv[0]):
        k, v = b.CreateString(key), b.CreateString(value)
        b.StartObject(2)
        b.PrependUOffsetTRelativeSlot(0, k, 0)
        b.PrependUOffsetTRelativeSlot(1, v, 0)
        xattrs.append(b.EndObject())
    b.StartVector(4, len(xattrs), 4)
    for x in reversed(xattrs):
        b.PrependUOffsetTRelative(x)
    xv = b.EndVector()
    b.StartObject(14)
    b.PrependUOffsetTRelativeSlot(0, name, 0)
    b.PrependUOffsetTRelativeSlot(1, typ, 0)
    b.PrependInt64Slot(2, e.uncompressed_offset, 0)
    b.PrependInt64Slot(3, e.uncompressed_size, 0)
    b.PrependUOffsetTRelativeSlot(4, link, 0)
    b.PrependInt64Slot(5, e.mode, 0)
    b.PrependUint32Slot(6, e.uid, 0)
    b.PrependUint32Slot(7, e.gid, 0)
    b.PrependUOffsetTRelativeSlot(8, uname, 0)
    b.PrependUOffsetTRelativeSlot(9, gname, 0)
    b.PrependUOffsetTRelativeSlot(10, mt, 0)
    b.PrependInt64Slot(11, e.devmajor, 0)
    b.PrependInt64Slot(12, e.devminor, 0)
    b.PrependUOffsetTRelativeSlot(13, xv, 0)
    return int(b.EndObject())


def encode_ztoc_reference(z: Ztoc) -> bytes:
    """soci's ``ztoc.Marshal`` call sequence (section 2.3) on the stock Python Builder."""
    b = flatbuffers.Builder(0)
    version, tool = b.CreateString(_b(z.version)), b.CreateString(_b(z.build_tool_identifier))
    entries = [_reference_entry(b, e) for e in reversed(z.entries)]
    b.StartVector(4, len(entries), 4)
    for off in entries:
        b.PrependUOffsetTRelative(off)
    metadata = b.EndVector()
    b.StartObject(1)
    b.PrependUOffsetTRelativeSlot(0, metadata, 0)
    toc = b.EndObject()
    info = z.compression
    checkpoints = b.CreateByteVector(info.checkpoints)
    digests = [b.CreateString(_b(d)) for d in info.span_digests]
    b.StartVector(4, len(digests), 4)
    for off in reversed(digests):
        b.PrependUOffsetTRelative(off)
    dv = b.EndVector()
    b.StartObject(4)
    b.PrependInt32Slot(1, info.max_span_id, 0)
    b.PrependUOffsetTRelativeSlot(2, dv, 0)
    b.PrependUOffsetTRelativeSlot(3, checkpoints, 0)
    if info.algorithm is not None:
        b.PrependInt8Slot(0, ALGORITHM_VALUES[info.algorithm], 1)
    ci = b.EndObject()
    b.StartObject(6)
    b.PrependUOffsetTRelativeSlot(0, version, 0)
    b.PrependUOffsetTRelativeSlot(1, tool, 0)
    b.PrependUOffsetTRelativeSlot(4, toc, 0)
    b.PrependInt64Slot(2, z.compressed_archive_size, 0)
    b.PrependInt64Slot(3, z.uncompressed_archive_size, 0)
    b.PrependUOffsetTRelativeSlot(5, ci, 0)
    b.Finish(b.EndObject())
    return bytes(b.Output())


def decode_ztoc_generated(raw: bytes) -> Ztoc:
    """Independent reader: flatc-generated code (absent algorithm = schema default Gzip)."""
    z = FbZtoc.GetRootAs(raw)
    toc, ci = z.Toc(), z.CompressionInfo()
    entries = []
    for i in range(toc.MetadataLength()):
        m = toc.Metadata(i)
        pax = tuple(
            (_s(m.Xattrs(j).Key()), _s(m.Xattrs(j).Value())) for j in range(m.XattrsLength())
        )
        entries.append(
            FileMetadata(
                _s(m.Name()),
                _s(m.Type()),
                m.UncompressedOffset(),
                m.UncompressedSize(),
                _s(m.Linkname()),
                m.Mode(),
                m.Uid(),
                m.Gid(),
                _s(m.Uname()),
                _s(m.Gname()),
                _s(m.ModTime()),
                m.Devmajor(),
                m.Devminor(),
                pax,
            )
        )
    algorithm = {1: CompressionAlgorithm.GZIP, 2: CompressionAlgorithm.UNCOMPRESSED}
    info = CompressionInfo(
        algorithm[ci.CompressionAlgorithm()],
        ci.MaxSpanId(),
        tuple(_s(ci.SpanDigests(i)) for i in range(ci.SpanDigestsLength())),
        _checkpoints(ci),
    )
    return Ztoc(
        _s(z.Version()), _s(z.BuildToolIdentifier()), z.CompressedArchiveSize(),
        z.UncompressedArchiveSize(), tuple(entries), info,
    )  # fmt: skip


def _checkpoints(ci: object) -> bytes:
    tab = ci._tab  # type: ignore[attr-defined]
    if not tab.Offset(10):
        return b""
    start = tab.Vector(tab.Offset(10))
    return bytes(tab.Bytes[start : start + ci.CheckpointsLength()])  # type: ignore[attr-defined]


def normalized(z: Ztoc) -> Ztoc:
    """What decode(encode(z)) must give: PAX records key-sorted, absent algorithm = GZIP."""
    entries = tuple(
        e._replace(pax_records=tuple(sorted(e.pax_records, key=lambda kv: _b(kv[0]))))
        for e in z.entries
    )
    info = z.compression
    if info.algorithm is None:
        info = CompressionInfo(CompressionAlgorithm.GZIP, *_info_rest(info))
    return Ztoc(z.version, z.build_tool_identifier, z.compressed_archive_size,
                z.uncompressed_archive_size, entries, info)  # fmt: skip


def _info_rest(info: CompressionInfo) -> tuple[int, tuple[str, ...], bytes]:
    return info.max_span_id, info.span_digests, info.checkpoints


# --- strategies -------------------------------------------------------------------------------

# Canonical strings: raw bytes via surrogateescape, or text without surrogates.
strings = st.one_of(
    st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=12),
    st.binary(max_size=12).map(_s),
    st.sampled_from(["", "root", "reg", "dir", "2023-11-14T22:13:20Z", "opt/données.txt"]),
)
int64 = st.one_of(st.just(0), st.integers(0, 1 << 20), st.integers(-(1 << 63), (1 << 63) - 1))
uint32 = st.one_of(st.just(0), st.integers(0, (1 << 32) - 1))
entries = st.builds(
    FileMetadata,
    strings, strings, int64, int64, strings, int64, uint32, uint32, strings, strings, strings,
    int64, int64,
    st.dictionaries(strings, strings, max_size=4).map(lambda d: tuple(d.items())),
)  # fmt: skip
ztocs = st.builds(
    Ztoc,
    strings,
    strings,
    int64,
    int64,
    st.lists(entries, max_size=8).map(tuple),
    st.builds(
        CompressionInfo,
        st.sampled_from([None, CompressionAlgorithm.GZIP, CompressionAlgorithm.UNCOMPRESSED]),
        st.one_of(st.just(0), st.integers(-(1 << 31), (1 << 31) - 1)),
        st.lists(strings, max_size=5).map(tuple),
        st.binary(max_size=70),
    ),
)


@given(ztocs)
def test_encoder_matches_stock_builder(z: Ztoc) -> None:
    assert encode_ztoc(z) == encode_ztoc_reference(z)


@given(ztocs)
def test_round_trip(z: Ztoc) -> None:
    raw = encode_ztoc(z)
    assert decode_ztoc(raw) == normalized(z)
    assert decode_ztoc_generated(raw) == normalized(z)
    assert encode_ztoc(decode_ztoc(raw)) == raw


def test_vtable_sharing_across_alignments() -> None:
    """Many entries with every presence pattern, each at both start alignments."""
    base = FileMetadata("n", "reg", 0, 0, "", 0, 0, 0, "root", "root", "t", 0, 0)
    many = []
    for mask in range(128):
        values = [1 if mask >> bit & 1 else 0 for bit in range(7)]
        for name in ("a", "ab"):
            fields = dict(zip(("uncompressed_offset", "uncompressed_size", "mode", "uid", "gid",
                               "devmajor", "devminor"), values, strict=True))  # fmt: skip
            many.append(base._replace(name=name, **fields))
    many[5] = many[5]._replace(pax_records=(("b", "2"), ("a", "1")))
    z = Ztoc("0.9", "t", 1, 2, tuple(many), CompressionInfo(None, 0, ("d",), b"xyz"))
    assert encode_ztoc(z) == encode_ztoc_reference(z)
    assert decode_ztoc(encode_ztoc(z)) == normalized(z)


def test_write_ztoc_golden() -> None:
    """soci's TestWriteZtoc (section 6.1)."""
    e = FileMetadata("", "", 0, 0, "", 0, 0, 0, "", "", "0001-01-01T00:00:00Z", 0, 0)
    z = Ztoc("0.9", "AWS SOCI CLI", 2000000, 2500000, (e, e),
             CompressionInfo(None, 3, (), bytes(65536)))  # fmt: skip
    raw = encode_ztoc(z)
    assert len(raw) == 65928
    digest = "eba28fdf50b1b57543f57dd051b2468c1d4f57b64d2006c75aa4de1d03e6c7ec"
    assert hashlib.sha256(raw).hexdigest() == digest
    assert raw == encode_ztoc_reference(z)
    assert decode_ztoc(raw) == normalized(z)


def test_raw_byte_names_survive() -> None:
    name = b"dir/\xff\xfe-latin1-\xe9.txt".decode("utf-8", "surrogateescape")
    e = FileMetadata(name, "reg", 512, 1, "", 0o644, 0, 0, "", "", "t", 0, 0, (("k\xff", "v"),))
    z = Ztoc("0.9", "t", 1, 1, (e,), CompressionInfo(CompressionAlgorithm.GZIP, 0, (), b""))
    raw = encode_ztoc(z)
    assert b"dir/\xff\xfe-latin1-\xe9.txt\x00" in raw
    assert decode_ztoc(raw).entries[0].name == name


def test_out_of_range_value_is_value_error() -> None:
    e = FileMetadata("a", "reg", 0, 0, "", 0, 1 << 32, 0, "", "", "t", 0, 0)
    z = Ztoc("0.9", "t", 1, 1, (e,), CompressionInfo(None, 0, (), b""))
    with pytest.raises(ValueError, match="out of range"):
        encode_ztoc(z)


# --- bad input --------------------------------------------------------------------------------


def _sample() -> bytes:
    e = FileMetadata("a/b", "reg", 512, 3, "", 0o644, 1, 2, "u", "g", "t", 0, 0, (("k", "v"),))
    info = CompressionInfo(CompressionAlgorithm.UNCOMPRESSED, 1, ("d0", "d1"), b"cp")
    return encode_ztoc(Ztoc("0.9", "tool", 10, 20, (e, e), info))


@pytest.mark.parametrize(
    "raw", [b"", b"\x00", b"\x00" * 3, b"\xff" * 4, b"\x00" * 16, b"garbage!" * 9]
)
def test_garbage_is_rejected(raw: bytes) -> None:
    with pytest.raises(ZtocFormatError):
        decode_ztoc(raw)


def test_every_truncation_is_rejected() -> None:
    raw = _sample()
    for n in range(len(raw)):
        with pytest.raises(ZtocFormatError):
            decode_ztoc(raw[:n])


def test_huge_vector_length_is_rejected_quickly() -> None:
    raw = bytearray(_sample())
    z = FbZtoc.GetRootAs(bytes(raw))
    toc_vector = z.Toc()._tab.Vector(4)  # position of the metadata elements
    struct.pack_into("<I", raw, toc_vector - 4, 0xFFFFFFF0)
    with pytest.raises(ZtocFormatError, match="metadata"):
        decode_ztoc(bytes(raw))


def test_unknown_algorithm_is_rejected() -> None:
    raw = bytearray(_sample())
    ci = FbZtoc.GetRootAs(bytes(raw)).CompressionInfo()._tab
    raw[ci.Pos + ci.Offset(4)] = 7
    with pytest.raises(ZtocFormatError, match="algorithm"):
        decode_ztoc(bytes(raw))


def test_aliased_data_is_rejected() -> None:
    """Offsets that reuse one large string many times (a decoding bomb) fail fast."""
    b = flatbuffers.Builder(0)
    big = b.CreateSharedString("x" * 20000)
    empty = b.CreateByteVector(b"")
    b.StartVector(4, 0, 4)
    xv = b.EndVector()
    entries = []
    for _ in range(2000):
        b.StartObject(14)
        b.PrependUOffsetTRelativeSlot(0, big, 0)
        b.PrependUOffsetTRelativeSlot(13, xv, 0)
        entries.append(b.EndObject())
    b.StartVector(4, len(entries), 4)
    for off in entries:
        b.PrependUOffsetTRelative(off)
    metadata = b.EndVector()
    b.StartObject(1)
    b.PrependUOffsetTRelativeSlot(0, metadata, 0)
    toc = b.EndObject()
    b.StartObject(4)
    b.PrependUOffsetTRelativeSlot(3, empty, 0)
    ci = b.EndObject()
    b.StartObject(6)
    b.PrependUOffsetTRelativeSlot(4, toc, 0)
    b.PrependUOffsetTRelativeSlot(5, ci, 0)
    b.Finish(b.EndObject())
    with pytest.raises(ZtocFormatError, match="too many times"):
        decode_ztoc(bytes(b.Output()))


@given(st.binary(max_size=300))
def test_random_bytes_never_crash(raw: bytes) -> None:
    try:
        decode_ztoc(raw)
    except ZtocFormatError as exc:
        assert isinstance(exc, SociError)


@given(st.data())
def test_corrupted_ztoc_never_crashes(data: st.DataObject) -> None:
    raw = bytearray(_sample())
    for _ in range(data.draw(st.integers(1, 4))):
        raw[data.draw(st.integers(0, len(raw) - 1))] = data.draw(st.integers(0, 255))
    with contextlib.suppress(ZtocFormatError):
        decode_ztoc(bytes(raw))


# --- TarZinfo (sections 2.2, 4.5) ------------------------------------------------------------

TAR_ZINFO_HEX = (
    "14000000 00000000 00000a00 1c001800 0c000400 0a000000"
    " 00680100 00000000 00100000 00000000 00000000 02000000"
).replace(" ", "")


def test_tar_zinfo_golden() -> None:
    raw = encode_tar_zinfo(4096, 92160)
    assert raw == bytes.fromhex(TAR_ZINFO_HEX)
    assert decode_tar_zinfo(raw) == (4096, 92160)
    fb = FbTarZinfo.GetRootAs(raw)
    assert (fb.Version(), fb.SpanSize(), fb.Size()) == (2, 4096, 92160)


def _tar_zinfo_reference(span_size: int, size: int) -> bytes:
    b = flatbuffers.Builder(0)
    b.StartObject(3)
    b.PrependInt32Slot(0, 2, 0)
    b.PrependInt64Slot(1, span_size, 0)
    b.PrependInt64Slot(2, size, 0)
    b.Finish(b.EndObject())
    return bytes(b.Output())


@given(int64, int64)
def test_tar_zinfo_matches_stock_builder(span_size: int, size: int) -> None:
    raw = encode_tar_zinfo(span_size, size)
    assert raw == _tar_zinfo_reference(span_size, size)
    assert decode_tar_zinfo(raw) == (span_size, size)


@pytest.mark.parametrize("raw", [b"", b"\x04\x00\x00\x00", b"\x00" * 12, bytes(range(48))])
def test_tar_zinfo_garbage(raw: bytes) -> None:
    with pytest.raises(ZtocFormatError):
        decode_tar_zinfo(raw)


def test_tar_zinfo_wrong_version() -> None:
    b = flatbuffers.Builder(0)
    b.StartObject(3)
    b.PrependInt32Slot(0, 1, 0)
    b.Finish(b.EndObject())
    with pytest.raises(ZtocFormatError, match="version"):
        decode_tar_zinfo(bytes(b.Output()))


@pytest.mark.parametrize("cache", [4096, 1])
def test_repeated_single_xattrs_match_stock_builder(
    cache: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One-record PAX sets that repeat (encoded from a per-encode cache once the Xattr vtable
    exists), among multi-record and empty ones, at both start alignments."""
    from soci_index_builder.ztoc import encode

    monkeypatch.setattr(encode, "_MEMO_LIMIT", cache)
    base = FileMetadata("n", "reg", 0, 0, "", 0o644, 0, 0, "root", "root", "t", 0, 0)
    pax_sets: list[tuple[tuple[str, str], ...]] = [
        (("mtime", "1700000000.25"),),
        (("mtime", "1700000000.5"),),
        (("path", "données/x"),),
        (("b", "2"), ("a", "1")),
        (),
        (("", ""),),
    ]
    many = tuple(
        base._replace(name="f" * (i % 7 + 1), uncompressed_size=i, pax_records=pax_sets[i % 6])
        for i in range(60)
    )
    z = Ztoc("0.9", "t", 1, 2, many, CompressionInfo(None, 0, ("d",), b"xyz"))
    assert encode_ztoc(z) == encode_ztoc_reference(z)
    assert decode_ztoc(encode_ztoc(z)) == normalized(z)


# Entries from small pools, so that shapes (kind, PAX key set, mod_time and value lengths)
# repeat and most entries take the encoder's per-shape path: offset and size 0 or not, both
# start alignments, before and after the Xattr vtable exists, among multi-record entries.
_POOLED_KINDS = [
    ("reg", "", 0o644, 0, 0, "root", "root", 0, 0),
    ("dir", "", 0o755, 1000, 1000, "", "", 0, 0),
    ("symlink", "../t", 0o777, 0, 0, "root", "wheel", 0, 0),
    ("char", "", 0o600, 0, 0, "root", "root", 8, 1),
    ("reg", "", 0, 0, 0, "", "", 0, 0),
]
_POOLED_PAX = [
    (),
    (("mtime", "1700000000.5"),),
    (("mtime", "1700000000.123456789"),),
    (("path", "données/x"),),
    (("b", "2"), ("a", "1")),
]
pooled_entries = st.builds(
    lambda kind, offset, size, mtime, pax: FileMetadata(
        "", kind[0], offset, size, kind[1], *kind[2:7], mtime, *kind[7:], pax
    ),
    st.sampled_from(_POOLED_KINDS),
    st.sampled_from([0, 1 << 40]),
    st.sampled_from([0, 7]),
    st.sampled_from(["2023-11-14T22:13:20Z", "2023-11-14T22:13:20.5Z", "2023-11-14T22:13:2.25Z"]),
    st.sampled_from(_POOLED_PAX),
)


@st.composite
def pooled_tocs(draw: st.DrawFn) -> tuple[FileMetadata, ...]:
    """Up to 120 entries made of a few drawn ones, each under names of random lengths."""
    pool = draw(st.lists(pooled_entries, min_size=1, max_size=6))
    names = st.text("ab/é", max_size=9)
    picks = draw(st.lists(st.tuples(st.sampled_from(pool), names), max_size=120))
    return tuple(entry._replace(name=name) for entry, name in picks)


# Every pooled kind in turn, 60 entries each, of many shapes.
_EVERY_POOLED = tuple(
    FileMetadata("n" * (i % 5), kind[0], i % 2, i % 3, kind[1], *kind[2:7], "t" * (i % 4 + 1),
                 *kind[7:], _POOLED_PAX[i % 5])
    for i, kind in enumerate(k for k in _POOLED_KINDS for _ in range(60))
)  # fmt: skip


@given(pooled_tocs(), st.sampled_from([4096, 2]))
@example(_EVERY_POOLED, 2)  # every table cleared when full
@example(_EVERY_POOLED, 4096)
def test_entries_of_repeated_shapes_match_stock_builder(
    entries: tuple[FileMetadata, ...], memo_limit: int
) -> None:
    from unittest import mock

    from soci_index_builder.ztoc import encode

    z = Ztoc("0.9", "t", 1, 2, entries, CompressionInfo(None, 0, ("d",), b"xyz"))
    with mock.patch.object(encode, "_MEMO_LIMIT", memo_limit):
        assert encode_ztoc(z) == encode_ztoc_reference(z)
