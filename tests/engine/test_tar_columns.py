"""The columnar TOC (tar/columns.py) is a faithful sequence of the entries it was given.

Strings are made the way the tar scanner makes them (raw bytes decoded with surrogate
escapes), so every field must come back equal, in every access form the readers use.
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from soci_index_builder.tar.columns import EntryColumns
from soci_index_builder.ztoc.codec import decode_ztoc, encode_ztoc
from soci_index_builder.ztoc.model import (
    CompressionAlgorithm,
    CompressionInfo,
    FileMetadata,
    Ztoc,
)

texts = st.binary(max_size=40).map(lambda b: b.decode("utf-8", "surrogateescape"))
small = st.sampled_from(["", "root", "reg", "dir", "1000"])
ints = st.integers(min_value=0, max_value=2**40)
u32 = st.integers(min_value=0, max_value=2**32 - 1)
entries = st.builds(
    FileMetadata,
    name=texts,
    type=small,
    uncompressed_offset=ints,
    uncompressed_size=ints,
    linkname=st.one_of(small, texts),
    mode=u32,
    uid=u32,
    gid=u32,
    uname=small,
    gname=small,
    mod_time=st.one_of(st.just(""), texts),
    devmajor=ints,
    devminor=ints,
    pax_records=st.dictionaries(texts, texts, max_size=3).map(lambda d: tuple(d.items())),
)


@given(st.lists(entries, max_size=12))
def test_columns_read_back_every_entry(items: list[FileMetadata]) -> None:
    expected = tuple(items)
    columns = EntryColumns.of(expected)
    assert len(columns) == len(expected)
    assert tuple(columns) == expected
    assert columns == expected and expected == columns
    assert columns[1:3] == expected[1:3]
    for i, entry in enumerate(expected):
        assert columns[i] == entry
        assert columns[i - len(expected)] == entry
        assert columns.name(i) == entry.name
    with pytest.raises(IndexError):
        columns[len(expected)]


def _key(record: tuple[str, str]) -> bytes:
    return record[0].encode("utf-8", "surrogateescape")


@given(st.lists(entries, max_size=12))
def test_columns_encode_to_a_ztoc_that_decodes_to_the_entries(items: list[FileMetadata]) -> None:
    info = CompressionInfo(CompressionAlgorithm.GZIP, 0, ("sha256:" + "0" * 64,), b"\0" * 9)
    raw = encode_ztoc(Ztoc("0.9", "tool", 10, 20, EntryColumns.of(items), info))
    assert encode_ztoc(Ztoc("0.9", "tool", 10, 20, tuple(items), info)) == raw
    expected = [e._replace(pax_records=tuple(sorted(e.pax_records, key=_key))) for e in items]
    assert list(decode_ztoc(raw).entries) == expected


@pytest.mark.parametrize("field", ["uncompressed_offset", "uncompressed_size", "uid"])
def test_a_field_out_of_range_is_a_value_error(field: str) -> None:
    entry = FileMetadata("a", "reg", 0, 0, "", 0, 0, 0, "", "", "", 0, 0)._replace(**{field: 2**64})
    info = CompressionInfo(CompressionAlgorithm.GZIP, 0, (), b"")
    with pytest.raises(ValueError, match="out of range"):
        encode_ztoc(Ztoc("0.9", "tool", 1, 1, (entry,), info))
