"""Field codecs of the tar scanner: numbers, strings, checksum, formats, PAX records, mod_time."""

from __future__ import annotations

import datetime as dt
from decimal import ROUND_DOWN, Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from soci_index_builder.tar.entries import fold_typeflag, mod_time
from soci_index_builder.tar.header import (
    BLOCK_SIZE,
    HeaderError,
    UnsupportedError,
    parse_base256,
    parse_header,
    parse_numeric,
    parse_octal,
)
from soci_index_builder.tar.pax import (
    parse_decimal,
    parse_pax_time,
    parse_records,
    pax_overrides,
)
from soci_index_builder.ztoc.model import FileMetadata

INT64 = st.integers(-(1 << 63), (1 << 63) - 1)


def block(
    name: bytes = b"file",
    *,
    mode: bytes = b"0000644\0",
    uid: bytes = b"0001750\0",
    size: bytes = b"00000000012\0",
    mtime: bytes = b"14000000000\0",
    typeflag: bytes = b"0",
    magic: bytes = b"ustar\0",
    version: bytes = b"00",
    uname: bytes = b"user",
    prefix: bytes = b"",
    tail: bytes = b"",
    checksum: bytes | None = None,
) -> memoryview:
    """A header block with the given raw fields and (unless given) a correct checksum."""
    raw = bytearray(BLOCK_SIZE)
    raw[0:100] = name.ljust(100, b"\0")
    raw[100:108] = mode
    raw[108:116] = uid
    raw[116:124] = uid
    raw[124:136] = size
    raw[136:148] = mtime
    raw[156:157] = typeflag
    raw[257:263] = magic
    raw[263:265] = version
    raw[265:297] = uname.ljust(32, b"\0")
    raw[297:329] = b"group".ljust(32, b"\0")
    raw[329:345] = b"0000000\x000000000\0"
    raw[345 : 345 + len(prefix)] = prefix
    raw[512 - len(tail) :] = tail
    raw[148:156] = checksum if checksum is not None else b"%06o\0 " % (sum(raw) + 256)
    return memoryview(bytes(raw))


# -- numbers and strings -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "value"),
    [
        (b"0000644\0", 0o644),
        (b"  644   ", 0o644),
        (b"\0\0 644 \0", 0o644),
        (b"644\x00777", 0o644),  # trim, then cut at the first NUL
        (b"\0\0\0\0\0\0\0\0", 0),
        (b"        ", 0),
        (b"77777777777\0", 0o77777777777),
    ],
)
def test_octal_like_go(field: bytes, value: int) -> None:
    assert parse_numeric(field) == value


@pytest.mark.parametrize(
    "field", [b"0000648\0", b"12 34\0\0\0", b"+644\0\0\0\0", b"0o644\0\0\0", b"1_2\0"]
)
def test_bad_octal_is_an_error(field: bytes) -> None:
    with pytest.raises(HeaderError):
        parse_octal(field)


@given(INT64, st.sampled_from([8, 12]))
def test_base256_two_complement_roundtrip(value: int, width: int) -> None:
    if not -(1 << (8 * width - 2)) <= value < 1 << (8 * width - 2):
        return
    raw = bytearray(value.to_bytes(width, "big", signed=True))
    raw[0] |= 0x80  # the marker bit; bit 6 keeps the sign
    assert parse_base256(bytes(raw)) == value


def test_base256_overflow_like_go() -> None:
    assert parse_base256(b"\x80" + b"\x7f" + b"\xff" * 7) == (1 << 63) - 1
    with pytest.raises(HeaderError):
        parse_base256(b"\x80" + b"\x80" + b"\x00" * 7)  # 2**63 does not fit int64
    with pytest.raises(HeaderError):
        parse_base256(b"\x80\x01" + b"\x00" * 10)  # more than 8 significant bytes
    assert parse_base256(b"\xff" * 8) == -1


# -- header block ----------------------------------------------------------------------------------


def test_ustar_header_fields() -> None:
    h = parse_header(block(prefix=b"usr/lib"))
    assert (h.name, h.mode, h.uid, h.gid, h.size, h.mtime) == (
        b"usr/lib/file",
        0o644,
        1000,
        1000,
        10,
        0o14000000000,
    )
    assert (h.uname, h.gname, h.devmajor, h.devminor, h.typeflag) == ("user", "group", 0, 0, 48)


def test_checksum_signed_sum_is_accepted() -> None:
    good = block(name=b"caf\xe9")
    unsigned = int(bytes(good[148:154]), 8)
    signed = unsigned - 256  # one byte >= 0x80
    assert parse_header(block(name=b"caf\xe9", checksum=b"%06o\0 " % signed)).name == b"caf\xe9"


@pytest.mark.parametrize("checksum", [b"0000000\0", b"\x80\0\0\0\0\0\0\0", b"garbage!"])
def test_bad_checksum(checksum: bytes) -> None:
    with pytest.raises(HeaderError, match="checksum"):
        parse_header(block(checksum=checksum))


def test_v7_header_ignores_ustar_fields_and_prefix() -> None:
    h = parse_header(block(magic=b"\0" * 6, version=b"\0\0", prefix=b"ignored", uname=b"x"))
    assert (h.name, h.uname, h.gname) == (b"file", "", "")


def test_gnu_magic_with_wrong_version_is_v7() -> None:
    h = parse_header(block(magic=b"ustar ", version=b"00", uname=b"x"))
    assert h.uname == ""


def test_gnu_header_has_no_prefix_unless_times_do_not_parse() -> None:
    gnu = {"magic": b"ustar ", "version": b" \0"}
    assert parse_header(block(prefix=b"00000000001\0", **gnu)).name == b"file"
    # A pre-Go 1.8 writer put a USTAR prefix there: unparsable atime => the prefix is used.
    assert parse_header(block(prefix=b"old/prefix", **gnu)).name == b"old/prefix/file"
    assert parse_header(block(prefix=b"caf\xe9/x", **gnu)).name == b"file"  # non-ASCII: dropped


def test_star_header_prefix_and_times() -> None:
    star = block(prefix=b"pre", tail=b"tar\0")
    assert parse_header(star).name == b"pre/file"
    bad_atime = b"pre".ljust(131, b"\0") + b"notoctal!!!\0"
    with pytest.raises(HeaderError):
        parse_header(block(prefix=bad_atime, tail=b"tar\0"))


def test_bad_numeric_field_fails_the_header() -> None:
    with pytest.raises(HeaderError):
        parse_header(block(mode=b"0000999\0"))


def test_fold_typeflag() -> None:
    assert fold_typeflag(0, "dir/") == ord("5")
    assert fold_typeflag(0, "file") == ord("0")
    assert fold_typeflag(ord("7"), "x/") == ord("7")


# -- PAX records -----------------------------------------------------------------------------------


def record(key: bytes, value: bytes) -> bytes:
    body = b" " + key + b"=" + value + b"\n"
    size = len(body) + 1
    size += len(str(size + len(str(size)))) - 1
    return str(size).encode() + body


def test_records_raw_in_order_with_empty_values_and_last_duplicate() -> None:
    data = (
        record(b"path", b"a")
        + record(b"uname", b"")
        + record(b"path", b"b")
        + record(b"x", b"\0\xff")
    )
    assert list(parse_records(data).items()) == [
        (b"path", b"b"),
        (b"uname", b""),
        (b"x", b"\0\xff"),
    ]


def test_record_length_is_parsed_like_parseint() -> None:
    assert parse_records(b"+11 path=a\n") == {b"path": b"a"}
    assert parse_records(b"011 path=a\n") == {b"path": b"a"}


@pytest.mark.parametrize(
    "data",
    [
        b"12 path=a\n",  # length overruns the data
        b"11 path=ab\n\0",  # trailing NUL is not a record
        b"10 path=ab",  # no newline
        b"4 a=\n",  # length < 5
        b"6 =ab\n",  # empty key
        b"7 pathx\n",  # no '='
        b"12 path=a\0b\n",  # NUL in a path value
        b"12 k\0y=ab\n",  # NUL in a key
        b"x path=a\n",
        b"path=a\n",
        b"25 GNU.sparse.numbytes=1\n",  # numbytes before offset
    ],
)
def test_malformed_records(data: bytes) -> None:
    with pytest.raises(HeaderError):
        parse_records(data)


def test_nul_allowed_in_other_values() -> None:
    assert parse_records(b"8 k=a\0b\n") == {b"k": b"a\0b"}


def test_gnu_sparse_00_pairs_are_folded() -> None:
    data = b"".join(
        record(k, v)
        for k, v in [
            (b"GNU.sparse.offset", b"0"),
            (b"GNU.sparse.numbytes", b"5"),
            (b"GNU.sparse.offset", b"10"),
            (b"GNU.sparse.numbytes", b"2"),
        ]
    )
    assert parse_records(data) == {b"GNU.sparse.map": b"0,5,10,2"}


@pytest.mark.parametrize(
    ("text", "value"),
    [
        (b"1700000000", (1700000000, 0)),
        (b"1700000000.25", (1700000000, 250_000_000)),
        (b"1.", (1, 0)),
        (b"1.1234567899", (1, 123_456_789)),
        (b"-1.5", (-2, 500_000_000)),
        (b"-0.5", (-1, 500_000_000)),
        (b"+3.000000001", (3, 1)),
    ],
)
def test_pax_time_like_go(text: bytes, value: tuple[int, int]) -> None:
    assert parse_pax_time(text) == value


@pytest.mark.parametrize("text", [b".5", b"1.5x", b"1.2.3", b"1e3", b"", b" 1", b"1_000"])
def test_bad_pax_time(text: bytes) -> None:
    with pytest.raises(HeaderError):
        parse_pax_time(text)


def test_parse_decimal_range() -> None:
    assert parse_decimal(b"-9223372036854775808") == -(1 << 63)
    with pytest.raises(HeaderError):
        parse_decimal(b"9223372036854775808")


def test_pax_overrides_apply_only_non_empty_values() -> None:
    records = {b"path": b"", b"uid": b"3000000", b"mtime": b"5.5", b"comment": b"", b"size": b"7"}
    assert pax_overrides(records) == {
        FileMetadata._fields.index("uid"): 3000000,
        FileMetadata._fields.index("mod_time"): "1970-01-01T00:00:05.5Z",
        FileMetadata._fields.index("uncompressed_size"): 7,
    }


def test_pax_overrides_cast_ids_to_uint32() -> None:
    assert pax_overrides({b"gid": b"-1"}) == {FileMetadata._fields.index("gid"): 0xFFFFFFFF}


@pytest.mark.parametrize("key", [b"atime", b"ctime", b"mtime", b"uid", b"size"])
def test_pax_overrides_reject_bad_numbers_even_unused(key: bytes) -> None:
    with pytest.raises(HeaderError):
        pax_overrides({key: b"12x"})


def test_pax_overrides_refuse_gnu_sparse() -> None:
    with pytest.raises(UnsupportedError):
        pax_overrides({b"GNU.sparse.major": b"1", b"GNU.sparse.minor": b"0"})


# -- mod_time --------------------------------------------------------------------------------------

EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
MIN_DATETIME_SECONDS = int((dt.datetime(1, 1, 1, tzinfo=dt.UTC) - EPOCH).total_seconds())


def reference_mod_time(seconds: int, nanos: int) -> str:
    """Independent RFC3339Nano from datetime (years 1..9999)."""
    when = EPOCH + dt.timedelta(seconds=seconds)
    text = when.strftime("%Y-%m-%dT%H:%M:%S").rjust(19, "0")
    if when.year < 1000:
        text = f"{when.year:04d}" + text[text.index("-") :]
    if nanos:
        text += "." + f"{nanos:09d}".rstrip("0")
    return text + "Z"


@given(st.integers(MIN_DATETIME_SECONDS, 253402300799), st.integers(0, 999_999_999))
def test_mod_time_matches_datetime(seconds: int, nanos: int) -> None:
    assert mod_time(seconds, nanos) == reference_mod_time(seconds, nanos)


@given(st.integers(-(10**12), 10**12), st.integers(1, 999_999_999))
def test_pax_mtime_string_to_mod_time(seconds: int, nanos: int) -> None:
    text = f"{seconds}.{nanos:09d}".encode()
    exact = Decimal(text.decode()).quantize(Decimal("1e-9"), rounding=ROUND_DOWN)
    whole = int(exact.to_integral_value(rounding="ROUND_FLOOR"))
    frac = int((exact - whole) * 10**9)
    assert parse_pax_time(text) == (whole, frac)


def test_mod_time_edges() -> None:
    assert mod_time(1700000000) == "2023-11-14T22:13:20Z"
    assert mod_time(1700000000, 250_000_000) == "2023-11-14T22:13:20.25Z"
    assert mod_time(-14182940) == "1969-07-20T20:17:40Z"
    assert mod_time(-62167219200) == "0000-01-01T00:00:00Z"  # year 0 is still formatted
    assert mod_time(-62167219201) == ""  # year -1: MarshalText fails, soci stores ""
    assert mod_time(253402300799, 999_999_999) == "9999-12-31T23:59:59.999999999Z"
    assert mod_time(253402300800) == ""
    assert mod_time(-(1 << 63)) == ""
    assert mod_time(0) == "1970-01-01T00:00:00Z"
