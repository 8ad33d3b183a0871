"""End-to-end properties of build_ztoc on generated layers: tar -> gzip -> zTOC -> extract/verify.

Layers are tars written by Python tarfile (USTAR, GNU, PAX) and by GNU tar (gnu, posix) over
random trees, stored uncompressed or as 1-3 hand-made gzip members (levels 0-9, zlib
strategies, random flush points, FNAME/FCOMMENT/FEXTRA/FHCRC headers), indexed with small spans
so files straddle many checkpoints. For every layer:

* the zTOC survives ``encode_ztoc``/``decode_ztoc`` and its entries are tarfile's view of the tar;
* every regular file (and hard link) read through the checkpoints equals its content, and any
  range of the tar stream read through the zTOC equals the tar bytes;
* building is deterministic, whatever the source's read sizes;
* ``verify_ztoc`` passes and checks every span and regular file;
* one flipped byte inside a span is caught: verify reports it, reading any file that needs that
  span raises DigestMismatchError, and files elsewhere still read correctly.

The component-level properties (checkpoint placement, tar scanner fields) live in
test_gzip_properties.py and test_tar_oracle.py, whose writers and oracles are reused here.
"""

from __future__ import annotations

import io
import itertools
import os
import random
import subprocess
import tarfile
import tempfile
import zlib
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import NamedTuple

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from soci_index_builder.digest import sha256_digest
from soci_index_builder.errors import DigestMismatchError
from soci_index_builder.gzip.zinfo_blob import decode_zinfo_blob
from soci_index_builder.streams import BytesRangeReader
from soci_index_builder.ztoc.builder import BuiltZtoc, build_ztoc, detect_compression
from soci_index_builder.ztoc.codec import decode_ztoc, encode_ztoc
from soci_index_builder.ztoc.extract import (
    EntryNotFoundError,
    ZtocReader,
    clean_name,
    extract_file,
)
from soci_index_builder.ztoc.model import CompressionAlgorithm, FileMetadata, Ztoc
from soci_index_builder.ztoc.spans import uncompressed_max_span_id
from soci_index_builder.ztoc.tar_zinfo import decode_tar_zinfo
from soci_index_builder.ztoc.verify import verify_ztoc
from tests.engine.test_gzip_properties import (
    FLUSHES,
    STRATEGIES,
    Member,
    gunzip_all,
    gzip_member,
)
from tests.engine.test_tar_oracle import FORMATS, GNU_TAR, assert_matches_tarfile, name_part

GZIP = CompressionAlgorithm.GZIP
UNCOMPRESSED = CompressionAlgorithm.UNCOMPRESSED
GZIP_SPANS = (0, 1, 512, 4096, 65536)
UNCOMPRESSED_SPANS = (512, 4096, 65536, 1)
#: Uncompressed spans of one byte only for layers this small (one digest per byte otherwise).
ONE_BYTE_SPAN_LIMIT = 12 << 10
#: Upper bound on the file bytes of one generated tree (keeps the module fast).
BUDGET = 640 << 10

# -- file contents ---------------------------------------------------------------------------

CONTENT_KINDS = ("zeros", "text", "random", "mixed")
_WORDS = [b"layer", b"span", b"checkpoint", b"zTOC", b"\xc3\xa9t\xc3\xa9", b"\n", b"  ", b"tar"]


def make_content(kind: str, size: int, seed: int) -> bytes:
    """Deterministic content: compressible (zeros, text), incompressible, or both in turns."""
    rnd = random.Random(seed)
    if kind == "zeros":
        return bytes(size)
    if kind == "random":
        return rnd.randbytes(size)
    text = b" ".join(rnd.choice(_WORDS) for _ in range(64))
    if kind == "text":
        return (text * (size // len(text) + 1))[:size]
    parts: list[bytes] = []
    total = 0
    while total < size:  # mixed: alternating random and text runs, so blocks vary in kind
        n = rnd.randint(1, 20000)
        parts.append(rnd.randbytes(n) if len(parts) % 2 else (text * (n // len(text) + 1))[:n])
        total += n
    return b"".join(parts)[:size]


sizes = st.one_of(
    st.integers(0, 2048),
    st.sampled_from([0, 511, 512, 513, 32768, 65536, 65537]),
    st.integers(16_000, 200_000),
)

# -- trees written by tarfile ----------------------------------------------------------------

KINDS = ("file", "file", "file", "dir", "symlink", "hardlink")
TAR_TYPES = {
    "file": tarfile.REGTYPE,
    "dir": tarfile.DIRTYPE,
    "symlink": tarfile.SYMTYPE,
    "hardlink": tarfile.LNKTYPE,
}
MAX_DEPTH = 4
ascii_leaf = st.text(
    st.characters(min_codepoint=0x20, max_codepoint=0x7E, blacklist_characters="/"),
    min_size=1,
    max_size=30,
)
long_leaf = st.builds(lambda c, n: c * n, st.sampled_from("aé€😀"), st.integers(90, 200))


@dataclass
class Item:
    name: str
    kind: str
    data: bytes = b""
    linkname: str = ""
    mode: int = 0o644
    uid: int = 0
    gid: int = 0
    mtime: int = 0
    uname: str = ""
    pax: dict[str, str] = field(default_factory=dict)

    def __repr__(self) -> str:  # falsifying examples print this: not whole file contents
        data = f"{len(self.data)} bytes {sha256_digest(self.data)[7:19]}"
        return (
            f"Item({self.name!r}, {self.kind}, {data}, linkname={self.linkname!r}, pax={self.pax})"
        )


@dataclass
class Tree:
    """Entries in tar order and the content every regular file or hard link must read as."""

    items: list[Item]
    contents: dict[str, bytes] = field(repr=False)


def leaves(fmt: str) -> st.SearchStrategy[str]:
    if fmt == "ustar":
        return ascii_leaf.filter(lambda s: s not in (".", ".."))
    return st.one_of(name_part, ascii_leaf, long_leaf).filter(lambda s: s not in (".", ".."))


@st.composite
def trees(draw: st.DrawFn, fmt: str, budget: int = BUDGET, max_items: int = 16) -> Tree:
    dirs: list[str] = [""]
    targets: list[str] = []  # regular files and hard links, for new hard links
    items: list[Item] = []
    contents: dict[str, bytes] = {}
    used: set[str] = set()
    for _ in range(draw(st.integers(0, max_items), label="items")):
        kind = draw(st.sampled_from(KINDS))
        parent = draw(st.sampled_from(dirs))
        name = f"{parent}/{draw(leaves(fmt))}" if parent else draw(leaves(fmt))
        if name in used or clean_name(name) != name:
            continue
        item = Item(
            name,
            kind,
            mode=draw(st.sampled_from([0o644, 0o755, 0o600, 0o4755, 0o1777])),
            uid=draw(st.integers(0, 70000)),
            gid=draw(st.integers(0, 70000)),
            mtime=draw(st.integers(0, 8**11 - 1)),
            uname=draw(st.sampled_from(["", "root", "üser"] if fmt != "ustar" else ["", "root"])),
        )
        if kind == "file":
            size = min(draw(sizes), max(0, budget))
            budget -= size
            item.data = make_content(
                draw(st.sampled_from(CONTENT_KINDS)), size, draw(st.integers(0, 2**32))
            )
            contents[name] = item.data
            targets.append(name)
        elif kind == "hardlink":
            usable = [t for t in targets if fmt != "ustar" or len(t) <= 100]
            if not usable:
                continue
            item.linkname = draw(st.sampled_from(usable))
            contents[name] = contents[item.linkname]
            targets.append(name)
        elif kind == "symlink":
            pick = draw(st.sampled_from([*targets, *dirs[1:], "../nowhere", "/etc/passwd"]))
            item.linkname = pick if fmt != "ustar" or len(pick) <= 100 else "short"
        elif name.count("/") < MAX_DEPTH:
            dirs.append(name)
        if fmt == "pax" and draw(st.booleans(), label="pax records"):
            item.pax["comment"] = draw(st.text(max_size=20))
            item.pax["SCHILY.xattr.user.k"] = draw(st.text(max_size=20))
            item.pax["mtime"] = f"{item.mtime}.{draw(st.integers(1, 999_999_999)):09d}".rstrip("0")
        used.add(name)
        items.append(item)
    return Tree(items, contents)


def write_tarfile(tree: Tree, fmt: str) -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=FORMATS[fmt]) as tf:
        for it in tree.items:
            info = tarfile.TarInfo(it.name)
            info.type = TAR_TYPES[it.kind]
            info.size = len(it.data)
            info.linkname = it.linkname
            info.mode, info.uid, info.gid, info.mtime = it.mode, it.uid, it.gid, it.mtime
            info.uname = it.uname
            info.pax_headers = dict(it.pax)
            tf.addfile(info, io.BytesIO(it.data) if it.data else None)
    return out.getvalue()


# -- layers: the tar stored uncompressed or as gzip members ----------------------------------


class Layer(NamedTuple):
    blob: bytes
    compression: CompressionAlgorithm
    span_size: int

    def __repr__(self) -> str:  # falsifying examples print this: not the whole blob
        blob = f"{len(self.blob)} bytes {sha256_digest(self.blob)[7:19]}"
        return f"Layer({self.compression}, span_size={self.span_size}, {blob})"


_header_bytes = st.none() | st.binary(max_size=40).map(lambda b: b.replace(b"\x00", b"z"))


@st.composite
def gzip_blobs(draw: st.DrawFn, tar: bytes) -> bytes:
    """``tar`` cut at random points, a flush after each piece, the pieces in 1-3 members."""
    cuts = sorted(draw(st.lists(st.integers(0, len(tar)), max_size=16), label="cuts"))
    bounds = [0, *cuts, len(tar)]
    pieces = [(tar[a:b], draw(st.sampled_from(FLUSHES))) for a, b in itertools.pairwise(bounds)]
    breaks = draw(st.sets(st.integers(1, len(pieces) - 1), max_size=2)) if len(pieces) > 1 else ()
    edges = [0, *sorted(breaks), len(pieces)]
    members = [
        draw(
            st.builds(
                Member,
                pieces=st.just(pieces[a:b]),
                level=st.integers(0, 9),
                strategy=st.sampled_from(STRATEGIES),
                fname=_header_bytes,
                fcomment=_header_bytes,
                fextra=st.none() | st.binary(max_size=60),
                fhcrc=st.booleans(),
            )
        )
        for a, b in itertools.pairwise(edges)
    ]
    blob = b"".join(gzip_member(m) for m in members)
    assert gunzip_all(blob) == tar
    return blob


@st.composite
def layers(draw: st.DrawFn, tar: bytes) -> Layer:
    if draw(st.booleans(), label="gzip"):
        return Layer(draw(gzip_blobs(tar)), GZIP, draw(st.sampled_from(GZIP_SPANS)))
    spans = UNCOMPRESSED_SPANS if len(tar) <= ONE_BYTE_SPAN_LIMIT else UNCOMPRESSED_SPANS[:-1]
    return Layer(tar, UNCOMPRESSED, draw(st.sampled_from(spans)))


# -- the checks ------------------------------------------------------------------------------


class ChunkedSource:
    """A Readable that returns at most ``chunk`` bytes per readinto."""

    def __init__(self, data: bytes, chunk: int) -> None:
        self._data = memoryview(data)
        self._chunk = chunk
        self._pos = 0

    def readinto(self, buffer: bytearray | memoryview) -> int:
        n = min(len(buffer), self._chunk, len(self._data) - self._pos)
        memoryview(buffer).cast("B")[:n] = self._data[self._pos : self._pos + n]
        self._pos += n
        return n


def build(layer: Layer, chunk: int | None = None) -> BuiltZtoc:
    source = io.BytesIO(layer.blob) if chunk is None else ChunkedSource(layer.blob, chunk)
    return build_ztoc(source, compression=layer.compression, span_size=layer.span_size)


def tar_end(tar: bytes) -> int:
    """Where tarfile stops (the first zero block) plus Go's two end blocks."""
    with tarfile.open(fileobj=io.BytesIO(tar), mode="r:") as tf:
        tf.getmembers()
        return tf.offset + 1024


def pax_sorted(entries: tuple[FileMetadata, ...]) -> tuple[FileMetadata, ...]:
    def key(record: tuple[str, str]) -> bytes:
        return record[0].encode("utf-8", "surrogateescape")

    return tuple(e._replace(pax_records=tuple(sorted(e.pax_records, key=key))) for e in entries)


def check_built(layer: Layer, tar: bytes, built: BuiltZtoc) -> Ztoc:
    """Encoding, layer facts, TOC against tarfile, span layout; returns the decoded zTOC."""
    blob = layer.blob
    assert detect_compression(blob[:4]) is layer.compression
    assert built.raw == encode_ztoc(built.ztoc)
    ztoc = decode_ztoc(built.raw)
    # The encoding keeps PAX records sorted by key (soci-format.md 2.3), the model in tar order.
    assert ztoc == replace(built.ztoc, entries=pax_sorted(built.ztoc.entries))
    assert encode_ztoc(ztoc) == built.raw
    assert (built.digest, built.size) == (sha256_digest(built.raw), len(built.raw))
    assert (built.layer_digest, built.compressed_size) == (sha256_digest(blob), len(blob))
    assert ztoc.compressed_archive_size == len(blob)
    assert ztoc.uncompressed_archive_size == tar_end(tar)
    assert ztoc.entries == pax_sorted(tuple(assert_matches_tarfile(tar)))
    info = ztoc.compression
    assert info.algorithm is layer.compression
    assert len(info.span_digests) == info.max_span_id + 1
    if layer.compression is GZIP:
        span_size, checkpoints = decode_zinfo_blob(info.checkpoints)
        assert (span_size, len(checkpoints)) == (layer.span_size, info.max_span_id + 1)
        assert checkpoints[0].uncompressed_offset == 0
    else:
        assert decode_tar_zinfo(info.checkpoints) == (layer.span_size, len(blob))
        assert info.max_span_id == uncompressed_max_span_id(layer.span_size, len(blob))
        step = layer.span_size
        assert list(info.span_digests) == [
            sha256_digest(blob[i : i + step]) for i in range(0, len(blob), step)
        ]
    return ztoc


def check_reads(
    ztoc: Ztoc, blob: bytes, tar: bytes, contents: dict[str, bytes], data: st.DataObject
) -> None:
    """Every regular file through the checkpoints, non-files refused, random ranges exact."""
    reader = ZtocReader(ztoc, BytesRangeReader(blob))
    readable = {clean_name(e.name) for e in ztoc.entries if e.type in ("reg", "hardlink")}
    assert readable == {clean_name(p) for p in contents}
    for path, content in contents.items():
        assert extract_file(ztoc, BytesRangeReader(blob), path) == content, path
        assert reader.read_file(reader.find("./" + path)) == content, path
    for entry in ztoc.entries:
        if entry.type not in ("reg", "hardlink"):
            with pytest.raises(EntryNotFoundError):
                reader.find(entry.name)
    size = ztoc.uncompressed_archive_size
    for _ in range(data.draw(st.integers(0, 4), label="ranges")):
        offset = data.draw(st.integers(0, size - 1), label="offset")
        length = data.draw(st.integers(0, min(size - offset, 150_000)), label="length")
        assert reader.read(offset, length) == tar[offset : offset + length]


def check_verify(ztoc: Ztoc, blob: bytes) -> None:
    report = verify_ztoc(ztoc, BytesRangeReader(blob), io.BytesIO(blob))
    assert report.ok, report.problems
    assert report.spans_checked == ztoc.compression.max_span_id + 1
    assert report.files_checked == sum(e.type == "reg" for e in ztoc.entries)


def check_layer(layer: Layer, tar: bytes, contents: dict[str, bytes], data: st.DataObject) -> None:
    built = build(layer)
    ztoc = check_built(layer, tar, built)
    check_reads(ztoc, layer.blob, tar, contents, data)
    check_verify(ztoc, layer.blob)


# -- properties ------------------------------------------------------------------------------


@given(st.data())
def test_tarfile_layers_end_to_end(data: st.DataObject) -> None:
    fmt = data.draw(st.sampled_from(sorted(FORMATS)), label="format")
    tree = data.draw(trees(fmt))
    tar = write_tarfile(tree, fmt)
    check_layer(data.draw(layers(tar)), tar, tree.contents, data)


@given(st.data())
def test_build_is_deterministic_whatever_the_read_sizes(data: st.DataObject) -> None:
    fmt = data.draw(st.sampled_from(sorted(FORMATS)), label="format")
    tar = write_tarfile(data.draw(trees(fmt, budget=96 << 10, max_items=6)), fmt)
    layer = data.draw(layers(tar))
    first = build(layer)
    assert build(layer) == first
    chunk = data.draw(st.sampled_from([1, 7, 4096]), label="chunk")
    assert build(layer, chunk) == first
    progress: list[int] = []
    again = build_ztoc(
        io.BytesIO(layer.blob),
        compression=layer.compression,
        span_size=layer.span_size,
        expected_digest=first.layer_digest,
        expected_size=len(layer.blob),
        on_progress=progress.append,
    )
    assert again == first
    assert progress[-1] == len(layer.blob)


@given(st.data())
def test_a_flipped_byte_in_a_span_is_caught(data: st.DataObject) -> None:
    fmt = data.draw(st.sampled_from(sorted(FORMATS)), label="format")
    tree = data.draw(trees(fmt, budget=256 << 10, max_items=8))
    tar = write_tarfile(tree, fmt)
    layer = data.draw(layers(tar))
    ztoc = decode_ztoc(build(layer).raw)
    reader = ZtocReader(ztoc, BytesRangeReader(layer.blob))
    spans = [reader.spans.span(i) for i in range(len(reader.spans))]
    span = data.draw(st.sampled_from([s for s in spans if s.compressed_end > s.compressed_start]))
    at = data.draw(st.integers(span.compressed_start, span.compressed_end - 1), label="at")
    bad = bytearray(layer.blob)
    bad[at] ^= 1 << data.draw(st.integers(0, 7), label="bit")
    tampered = bytes(bad)
    hit = {s.id for s in spans if s.compressed_start <= at < s.compressed_end}

    report = verify_ztoc(ztoc, BytesRangeReader(tampered), io.BytesIO(layer.blob))
    assert not report.ok
    assert any(f"span {i} " in p for p in report.problems for i in hit), report.problems
    # The CLI's case, the same corrupt file for both: reported too, never raised.
    assert not verify_ztoc(ztoc, BytesRangeReader(tampered), io.BytesIO(tampered)).ok

    bad_reader = ZtocReader(ztoc, BytesRangeReader(tampered))
    for path, content in tree.contents.items():
        entry = bad_reader.find(path)
        if not entry.uncompressed_size:
            assert bad_reader.read_file(entry) == b""
            continue
        first = bad_reader.spans.span_of(entry.uncompressed_offset)
        last = bad_reader.spans.span_of(entry.uncompressed_offset + entry.uncompressed_size - 1)
        if hit & set(range(first, last + 1)):
            with pytest.raises(DigestMismatchError):
                bad_reader.read_file(entry)
        else:
            assert bad_reader.read_file(entry) == content, path


# -- trees written by GNU tar ----------------------------------------------------------------

disk_leaf = st.one_of(
    name_part.filter(lambda s: len(s.encode()) <= 255 and s not in (".", "..")),
    st.builds(lambda c, n: c * n, st.sampled_from("bü"), st.integers(60, 120)),
)


@st.composite
def disk_trees(draw: st.DrawFn) -> list[tuple[str, str, bytes | str]]:
    """(kind, relative path, content or link target) in creation order."""
    dirs, files, used = [""], [], set()
    out: list[tuple[str, str, bytes | str]] = []
    budget = 256 << 10
    for _ in range(draw(st.integers(1, 10), label="items")):
        kind = draw(st.sampled_from(KINDS))
        parent = draw(st.sampled_from(dirs))
        leaf = draw(disk_leaf)
        name = f"{parent}/{leaf}" if parent else leaf
        if name in used:
            continue
        if kind == "file":
            size = min(draw(sizes), max(0, budget))
            budget -= size
            kind_, seed = draw(st.sampled_from(CONTENT_KINDS)), draw(st.integers(0, 2**32))
            out.append(("file", name, make_content(kind_, size, seed)))
            files.append(name)
        elif kind == "hardlink":
            if not files:
                continue
            out.append(("hardlink", name, draw(st.sampled_from(files))))
        elif kind == "symlink":
            out.append(("symlink", name, draw(st.sampled_from([*files, "../up", "dangling"]))))
        else:
            out.append(("dir", name, b""))
            if name.count("/") < MAX_DEPTH:
                dirs.append(name)
        used.add(name)
    return out


def materialize(root: Path, tree: list[tuple[str, str, bytes | str]]) -> dict[str, bytes]:
    contents: dict[str, bytes] = {}
    for kind, name, what in tree:
        path = root / name
        if kind == "file":
            assert isinstance(what, bytes)
            path.write_bytes(what)
            contents[name] = what
        elif kind == "hardlink":
            assert isinstance(what, str)
            os.link(root / what, path)
            contents[name] = contents[what]
        elif kind == "symlink":
            assert isinstance(what, str)
            os.symlink(what, path)
        else:
            path.mkdir()
    return contents


@pytest.mark.skipif(GNU_TAR is None, reason="GNU tar not installed")
@pytest.mark.parametrize("fmt", ["gnu", "posix"])
@settings(max_examples=8, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_gnu_tar_layers_end_to_end(fmt: str, data: st.DataObject) -> None:
    tree = data.draw(disk_trees())
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "tree"
        root.mkdir()
        contents = materialize(root, tree)
        command = [str(GNU_TAR), f"--format={fmt}", "--sort=name", "-cf", "-", "-C", str(root)]
        tar = subprocess.run([*command, "."], check=True, capture_output=True).stdout
    # GNU tar names entries "./path"; the zTOC keeps them verbatim and the reader cleans them.
    check_layer(data.draw(layers(tar)), tar, contents, data)


def test_one_layer_with_every_feature() -> None:
    """A fixed example of what the generators produce, readable when a property fails."""
    big = make_content("mixed", 150_000, 1)
    rand = make_content("random", 70_000, 2)
    long = "d/" + "é" * 120
    items = [
        Item("d", "dir", mode=0o755),
        Item(long, "file", data=big, pax={"comment": "c", "SCHILY.xattr.user.a": "1"}),
        Item("d/zero", "file"),
        Item("h", "hardlink", linkname=long),
        Item("h2", "hardlink", linkname="h"),
        Item("s", "symlink", linkname="d/zero"),
        Item("r", "file", data=rand),
    ]
    tree = Tree(items, {long: big, "d/zero": b"", "h": big, "h2": big, "r": rand})
    tar = write_tarfile(tree, "pax")
    first = Member([(tar[:40_000], zlib.Z_FULL_FLUSH), (tar[40_000:90_000], zlib.Z_BLOCK)])
    second = Member([(tar[90_000:], zlib.Z_SYNC_FLUSH)], level=1, fname=b"n", fhcrc=True)
    blob = gzip_member(first) + gzip_member(second)
    for layer in (Layer(blob, GZIP, 4096), Layer(tar, UNCOMPRESSED, 512)):
        built = build(layer)
        assert built.ztoc.compression.max_span_id >= 10
        ztoc = check_built(layer, tar, built)
        reader = ZtocReader(ztoc, BytesRangeReader(layer.blob))
        for path, content in tree.contents.items():
            assert reader.read_file(reader.find(path)) == content
        check_verify(ztoc, layer.blob)


@pytest.mark.parametrize("lead", [0, 30_000, 70_000])
def test_a_near_limit_pax_payload_across_the_scanner_buffer(lead: int) -> None:
    """A PAX payload of almost 1 MiB (Go's limit) that the scanner's 1 MiB buffer cannot hold
    with what precedes it is read in pieces, some smaller than the inflater's small-read
    size: the bytes left in its small-read buffer must come first on the next large read
    (they were once skipped, dropping up to 64 KiB of the layer)."""
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as tf:
        for name, size, pax in (
            ("a", lead, {}),
            ("big", 10, {"SCHILY.xattr.user.k": "v" * 1_040_000}),
            ("z", 300_000, {}),
        ):
            info = tarfile.TarInfo(name)
            info.size, info.pax_headers = size, pax
            tf.addfile(info, io.BytesIO(bytes(size)))
    tar = out.getvalue()
    layer = Layer(gzip_member(Member([(tar, 0)], level=1)), GZIP, 65536)
    check_built(layer, tar, build(layer))


def test_verify_reports_a_corrupt_layer_stream_instead_of_raising() -> None:
    """The CLI's case: ranges and stream are the same corrupt file. verify_ztoc promises to
    collect violations, and the CLI turns only SociError/OSError into messages, so a corrupt
    deflate stream must become a problem in the report, not a zlib.error traceback (it was one:
    "Error -3 while decompressing data: invalid distance too far back")."""
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.GNU_FORMAT) as tf:
        data = random.Random(0).randbytes(500) + b"hello world " * 41
        info = tarfile.TarInfo("f")
        info.size = len(data)
        tf.addfile(info, io.BytesIO(data))
    blob = gzip_member(Member([(out.getvalue(), zlib.Z_NO_FLUSH)]))
    ztoc = build_ztoc(io.BytesIO(blob), compression=GZIP, span_size=4096).ztoc
    bad = bytearray(blob)
    bad[13] ^= 1  # the first bytes of the deflate stream, inside span 0
    report = verify_ztoc(ztoc, BytesRangeReader(bytes(bad)), io.BytesIO(bytes(bad)))
    assert not report.ok
