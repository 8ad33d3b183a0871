"""The scanner's fast paths equal the one exact parser, over random headers (docs/performance.md).

The exact parser is ``header.parse_header`` (and ``pax.parse_records`` + ``pax_overrides``).
The fast paths are ``fast_octal``, the checksum test inlined in the scanner (adler32 of the
first 148 bytes and the memoized sum of the tail against ``checksum_text``), the per-scan memo
tables, ``time_text`` and ``read_pax`` (plans and memoized results).
Every random header is scanned twice in one stream, so the second copy is decoded from the memo.
"""

from __future__ import annotations

import io
from zlib import adler32

from hypothesis import assume, event, given, settings
from hypothesis import strategies as st

from soci_index_builder.errors import TarFormatError
from soci_index_builder.tar import entries as E
from soci_index_builder.tar.entries import (
    TYPE_NAMES,
    fold_typeflag,
    minute_prefix,
    mod_time,
    time_text,
)
from soci_index_builder.tar.header import (
    BLOCK_SIZE,
    HeaderError,
    checksum_matches,
    decode,
    fast_octal,
    parse_header,
    parse_numeric,
)
from soci_index_builder.tar.memo import Memo, ScanMemo, checksum_text
from soci_index_builder.tar.pax import parse_records, pax_overrides
from soci_index_builder.tar.pax_fast import overrides_of, pairs_of, read_pax
from soci_index_builder.tar.scanner import read_toc
from soci_index_builder.ztoc.model import FileMetadata


def _octal(width: int, *, clean: bool = False) -> st.SearchStrategy[bytes]:
    """Numeric fields as writers produce them, and (unless ``clean``) as they should not."""
    digits = st.integers(0, 8 ** (width - 1) - 1).map(lambda v: b"%0*o" % (width - 1, v))
    plain = digits.map(lambda d: d + b"\0")
    spaced = st.tuples(st.integers(0, 3), digits).map(
        lambda t: (b" " * t[0] + t[1].lstrip(b"0"))[: width - 1].ljust(width, b" ")
    )

    def b256(v: int) -> bytes:
        raw = bytearray(v.to_bytes(width, "big", signed=True))
        raw[0] |= 0x80
        return bytes(raw)

    base256 = st.integers(-(1 << 40), 1 << 40).map(b256)
    if clean:
        return st.one_of(plain, spaced, st.integers(0, 4096).map(b256))
    junk = st.binary(min_size=width, max_size=width)
    odd = st.sampled_from([b"0_1", b"8", b"9", b" 1 2", b"1\x002", b"+1", b"-1", b"", b"0o7"])
    return st.one_of(plain, plain, spaced, base256, junk, odd.map(lambda b: b.ljust(width, b"\0")))


_FORMATS = st.sampled_from(
    [
        (b"ustar\x00", b"00", b""),
        (b"ustar ", b" \x00", b""),
        (b"\x00" * 6, b"\x00\x00", b""),
        (b"ustar\x00", b"00", b"tar\x00"),
    ]
)


@st.composite
def header_blocks(draw: st.DrawFn) -> bytes:
    raw = bytearray(BLOCK_SIZE)
    raw[0:100] = draw(st.binary(max_size=100) | st.just(b"dir/")).ljust(100, b"\0")
    clean = draw(st.integers(0, 3)) > 0  # mostly headers Go accepts
    for start, width in ((100, 8), (108, 8), (116, 8), (124, 12), (136, 12), (329, 8), (337, 8)):
        raw[start : start + width] = draw(_octal(width, clean=clean))
    raw[156] = draw(st.sampled_from(b"0123456\x00"))
    raw[157:257] = draw(st.binary(max_size=100)).ljust(100, b"\0")
    magic, version, trailer = draw(_FORMATS)
    raw[257:263], raw[263:265] = magic, version
    raw[265:297] = draw(st.sampled_from([b"root", b"", b"caf\xe9"])).ljust(32, b"\0")
    raw[297:329] = draw(st.sampled_from([b"root", b"staff"])).ljust(32, b"\0")
    raw[345:500] = draw(st.binary(max_size=155) | st.just(b"usr/lib")).ljust(155, b"\0")
    raw[508:512] = trailer or raw[508:512]
    unsigned = sum(raw) + 256  # the checksum field counted as spaces
    signed = unsigned - 256 * sum(1 for b in raw if b >= 0x80)
    good = [b"%06o\0 " % unsigned, b"%06o\0 " % signed, b"%07o\0" % unsigned, b" %06o " % unsigned]
    raw[148:156] = draw(st.sampled_from(good) if clean else st.binary(min_size=8, max_size=8))
    return bytes(raw)


def _expected(header_block: bytes, offset: int) -> FileMetadata:
    h = parse_header(header_block)
    name = decode(h.name)
    type_name = TYPE_NAMES[fold_typeflag(h.typeflag, name)]
    fields = (name, type_name, offset, h.size, decode(h.linkname), h.mode, h.uid, h.gid)
    return FileMetadata(*fields, h.uname, h.gname, mod_time(h.mtime), h.devmajor, h.devminor)


@settings(max_examples=300)
@given(header_blocks())
def test_scanner_fast_path_equals_exact_parser(header_block: bytes) -> None:
    try:
        first = _expected(header_block, BLOCK_SIZE)
    except HeaderError:
        event("refused by the exact parser")
        try:
            read_toc(io.BytesIO(header_block + bytes(1024)))
        except TarFormatError:
            return
        raise AssertionError("the scanner accepted a header the exact parser refuses") from None
    assume(0 <= first.uncompressed_size <= 4096)
    event(f"accepted: {first.type}")
    data = bytes(-first.uncompressed_size % BLOCK_SIZE + first.uncompressed_size)
    data = data if first.type == "reg" else b""
    stream = (header_block + data) * 2 + bytes(1024)
    toc = read_toc(io.BytesIO(stream))
    second = first._replace(uncompressed_offset=2 * BLOCK_SIZE + len(data))
    assert toc.entries == (first, second)


@settings(max_examples=300)
@given(
    header_blocks(),
    st.binary(max_size=100),
    st.sampled_from([b"root", b"", b"caf\xe9", b"\xff\xfe"]),
    st.sampled_from([b"%06o\0 ", b"%07o\0", b"%06o\0\0"]),
    st.none() | _octal(8),
    st.integers(0, 4).map(lambda k: int(k == 0)),
)
def test_a_header_new_only_in_its_tail_equals_the_exact_parser(
    header_block: bytes,
    linkname: bytes,
    uname: bytes,
    checksum_form: bytes,
    devmajor: bytes | None,
    checksum_error: int,
) -> None:
    """The second header has the first's ids, size and mtime (memoized by then) and a new
    tail: the scanner decodes it with the tail parser alone when the checksum has the common
    form, else exactly; either way as the exact parser does, refusals included."""
    try:
        first = _expected(header_block, BLOCK_SIZE)
    except HeaderError:
        return  # refusals of a first header: test_scanner_fast_path_equals_exact_parser
    assume(0 <= first.uncompressed_size <= 4096)
    raw = bytearray(header_block)
    raw[157:257] = linkname.ljust(100, b"\0")
    raw[265:297] = uname.ljust(32, b"\0")
    raw[329:337] = devmajor or raw[329:337]  # maybe a field the tail parser refuses
    raw[148:156] = b" " * 8
    raw[148:156] = checksum_form % (sum(raw) + checksum_error)
    second_block = bytes(raw)
    data = bytes(-first.uncompressed_size % BLOCK_SIZE + first.uncompressed_size)
    data = data if first.type == "reg" else b""
    stream = header_block + data + second_block + data + bytes(1024)
    try:
        second = _expected(second_block, 2 * BLOCK_SIZE + len(data))
    except HeaderError:
        event("second refused by the exact parser")
        try:
            read_toc(io.BytesIO(stream))
        except TarFormatError:
            return
        raise AssertionError("the scanner accepted a header the exact parser refuses") from None
    event(f"second accepted, checksum {checksum_form!r}")
    assert read_toc(io.BytesIO(stream)).entries == (first, second)


@given(st.sampled_from([8, 12]).flatmap(_octal))
def test_fast_octal_is_parse_numeric_or_defers(field: bytes) -> None:
    value = fast_octal(field)
    if value >= 0:
        assert parse_numeric(field) == value


@given(header_blocks())
def test_inline_checksum_test_implies_go_s(header_block: bytes) -> None:
    """The scanner's test: checksum_text(adler32 of bytes 0-148 + tail sum + 255) == field."""
    field, rest = header_block[148:156], header_block[156:]
    total = (adler32(header_block[:148]) & 0xFFFF) + sum(rest) + 255
    assert total == sum(header_block[:148]) + sum(rest) + 256  # Go's unsigned sum
    if checksum_text(total) == field:
        assert checksum_matches(memoryview(header_block), field)


@given(st.integers(-62167219200 - 200, 253402300799 + 200), st.integers(0, 999_999_999))
def test_time_text_is_mod_time(seconds: int, nanos: int) -> None:
    minutes = Memo(minute_prefix)
    fraction = b"%09d" % nanos
    assert time_text(seconds, minutes).decode() == mod_time(seconds)
    assert time_text(seconds, minutes).decode() == mod_time(seconds)  # from the memo
    text = time_text(seconds, minutes, fraction.rstrip(b"0"))
    assert text.decode() == mod_time(seconds, nanos)


_KEYS = st.sampled_from(
    [
        *(b"mtime", b"atime", b"ctime", b"path", b"linkpath", b"uid", b"gid", b"size"),
        *(b"uname", b"SCHILY.xattr.user.k", b"GNU.sparse.size", b"comment", b"k1"),
    ]
)
_VALUES = st.one_of(
    st.integers(0, 10**12).map(lambda v: b"%d" % v),
    st.tuples(st.integers(0, 10**10), st.integers(0, 10**12)).map(lambda t: b"%d.%d" % t),
    st.sampled_from([b"", b"-1.5", b"+3", b"1e3", b"0x10", b"1.", b".5", b"caf\xc3\xa9"]),
    st.binary(max_size=12).filter(lambda b: b"\n" not in b),
)


def _record(key: bytes, value: bytes) -> bytes:
    body = b" %s=%s\n" % (key, value)
    n = len(body) + 1
    while len(b"%d" % n) + len(body) != n:
        n += 1
    return b"%d%s" % (n, body)


@settings(max_examples=300)
@given(st.lists(st.tuples(_KEYS, _VALUES), max_size=4))
def test_read_pax_equals_exact_records_and_overrides(records: list[tuple[bytes, bytes]]) -> None:
    payload = b"".join(_record(k, v) for k, v in records)
    same_shape = b"".join(  # the same shape (digits differ): read through a plan
        _record(k, v.translate(bytes.maketrans(b"123456789", b"987654321"))) for k, v in records
    )
    memo = ScanMemo()
    for data in (payload, payload, same_shape, same_shape, payload):
        try:
            exact = parse_records(data)
            exact_overrides = pax_overrides(exact)
        except HeaderError:
            exact = None
        try:
            header = read_pax(data, memo)
        except HeaderError:
            assert exact is None
            continue
        if header[6] is not None:  # deferred: the caller applies the exact rules to ``raw``
            assert header[6] == parse_records(data)
            continue
        assert exact is not None, "the fast path accepted what the exact parser refuses"
        assert list(pairs_of(header)) == [(decode(k), decode(v)) for k, v in exact.items()]
        assert overrides_of(header) == exact_overrides
        if header[2]:  # simple: only mtime and path, given directly
            assert exact_overrides.keys() <= {E.MOD_TIME, E.NAME}
            assert header[3] == _encoded(exact_overrides.get(E.MOD_TIME))
            assert header[4] == _encoded(exact_overrides.get(E.NAME))


def _encoded(text: str | None) -> bytes | None:
    return None if text is None else text.encode()
