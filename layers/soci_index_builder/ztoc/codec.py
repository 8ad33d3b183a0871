"""zTOC FlatBuffers codec (soci-format.md sections 2.1-2.4), byte-identical to soci's Go builder.

The encoder is specialised to the schema: it replays the builder call sequence of section 2.3
(back-to-front writing, ``Prep`` alignment, default-skipping scalars, vtable de-duplication,
``Finish``) without the generic builder's per-scalar overhead. Chunks are collected in write order
and joined reversed at the end; ``off`` is always the builder's ``Offset()`` (bytes written).
"""

from __future__ import annotations

import struct
from operator import itemgetter
from typing import TYPE_CHECKING, Any, NamedTuple

from soci_index_builder.errors import SociError
from soci_index_builder.ztoc.model import CompressionAlgorithm, CompressionInfo, FileMetadata, Ztoc

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence

__all__ = ["ZtocFormatError", "decode_ztoc", "encode_ztoc"]

_U32 = struct.Struct("<I").pack
_I32 = struct.Struct("<i").pack
_SIZES = {"U": 4, "I": 4, "i": 4, "q": 8, "b": 1}
#: Zero bytes after a string of length L (NUL + Prep padding) when it starts 4-aligned.
_TAIL = tuple(bytes(4 - r) for r in range(4))
#: FileMetadata fields in builder add order (section 2.3 step 2.3): (slot, struct code).
_FM_FIELDS = (
    (0, "U"), (1, "U"), (2, "q"), (3, "q"), (4, "U"), (5, "q"), (6, "I"),
    (7, "I"), (8, "U"), (9, "U"), (10, "U"), (11, "q"), (12, "q"), (13, "U"),
)  # fmt: skip
#: Optional (default-0) FileMetadata slots, by bit of the presence mask.
_FM_OPTIONAL = (2, 3, 5, 6, 7, 11, 12)
_ALGORITHM_VALUES = {CompressionAlgorithm.GZIP: 1, CompressionAlgorithm.UNCOMPRESSED: 2}


class ZtocFormatError(SociError):
    """Bytes that are not a readable zTOC (or TarZinfo) FlatBuffer."""


def _enc(s: str) -> bytes:
    return s.encode("utf-8", "surrogateescape")


class _StrChunks(dict[str, bytes]):
    """str -> the bytes ``CreateString`` writes for it, valid at a 4-aligned offset."""

    def __missing__(self, s: str) -> bytes:
        b = _enc(s)
        chunk = self[s] = _U32(len(b)) + b + _TAIL[len(b) & 3]
        return chunk


class _Writer:
    """The generic FlatBuffers builder operations soci uses, on a chunk list (section 2.3)."""

    __slots__ = ("chunks", "minalign", "off", "vtables")

    def __init__(self) -> None:
        self.chunks: list[bytes] = []
        self.off = 0
        self.minalign = 1
        self.vtables: dict[bytes, int] = {}

    def prep(self, size: int, additional: int = 0) -> None:
        """``Builder.Prep``: pad so ``size`` is aligned after ``additional`` more bytes."""
        self.minalign = max(self.minalign, size)
        pad = -(self.off + additional) & (size - 1)
        if pad:
            self.chunks.append(bytes(pad))
            self.off += pad

    def string(self, b: bytes) -> int:
        self.prep(4, len(b) + 1)
        self.chunks.append(_U32(len(b)) + b + b"\0")
        self.off += len(b) + 5
        return self.off

    def byte_vector(self, b: bytes) -> int:
        self.prep(4, len(b))
        self.chunks += (b, _U32(len(b)))
        self.off += len(b) + 4
        return self.off

    def offset_vector(self, targets: Sequence[int]) -> int:
        """A vector of uoffsets; ``targets`` in memory (index) order."""
        n = len(targets)
        self.prep(4, 4 * n)
        first = self.off + 4 * n  # Offset() of element 0 once placed
        rel = [first - 4 * k - t for k, t in enumerate(targets)]
        self.chunks.append(struct.pack(f"<{n + 1}I", n, *rel))
        self.off += 4 * n + 4
        return self.off

    def table(self, numslots: int, fields: Iterable[tuple[int, str, int]]) -> int:
        """StartObject, add (slot, code, value) in call order ('U' = uoffset target), End."""
        start, pos = self.off, [0] * numslots
        for slot, code, value in fields:
            self.prep(_SIZES[code])
            self.off += _SIZES[code]
            v = self.off - value if code == "U" else value
            self.chunks.append(struct.pack("<I" if code == "U" else "<" + code, v))
            pos[slot] = self.off
        self.prep(4)
        obj = self.off + 4
        offs = [obj - p if p else 0 for p in pos]
        while offs and not offs[-1]:
            offs.pop()
        vt = struct.pack(f"<{len(offs) + 2}H", 4 + 2 * len(offs), obj - start, *offs)
        self.off = obj
        self._place_vtable(vt, obj)
        return obj

    def _place_vtable(self, vt: bytes, obj: int) -> None:
        """Write the soffset at ``obj`` and the vtable, or point at an equal earlier vtable."""
        known = self.vtables.get(vt)
        if known is None:
            self.minalign = max(self.minalign, 2)
            self.chunks += (_I32(len(vt)), vt)
            self.off += len(vt)
            self.vtables[vt] = self.off
        else:
            self.chunks.append(_I32(known - obj))

    def finish(self, root: int) -> bytes:
        self.prep(self.minalign, 4)
        self.prep(4)
        self.off += 4
        self.chunks.append(_U32(self.off - root))
        return b"".join(reversed(self.chunks))


class _Pattern(NamedTuple):
    """Precomputed FileMetadata layout for one presence mask and start alignment."""

    pack: Any  # struct.Struct.pack of the object in memory order (soffset first)
    select: Any  # itemgetter picking the present values from the full 15-tuple
    size: int  # object size incl. soffset
    vtable: bytes
    align: int  # largest scalar: the builder's minalign contribution
    # Offset() minus the object's start, once placed, of slots type, link, uname, gname,
    # mod_time and xattrs (name's is always 4).
    u1: int
    u4: int
    u8: int
    u9: int
    u10: int
    u13: int


def _compile_pattern(mask: int, e8: int) -> _Pattern:
    """Simulate StartObject(14)...EndObject at an offset = ``e8`` (mod 8) for mask's scalars."""
    absent = {s for bit, s in enumerate(_FM_OPTIONAL) if not mask >> bit & 1}
    rel, pos, items = 0, [0] * 14, []
    for slot, code in _FM_FIELDS:
        if slot in absent:
            continue
        size = _SIZES[code]
        pad = -(e8 + rel) & (size - 1)
        if pad:
            items.append(f"{pad}x")
        rel += pad + size
        pos[slot] = rel
        items.append(f"{14 - slot}:{code}")
    size = rel + 4
    vt = struct.pack("<16H", 32, size, *[size - p if p else 0 for p in pos])
    fmt = "<i" + "".join(i.split(":")[-1].replace("U", "I") for i in reversed(items))
    select = itemgetter(0, *[int(i.split(":")[0]) for i in reversed(items) if ":" in i])
    align = 8 if mask & 0b1100111 else 4
    uoffs = (pos[s] for s in (1, 4, 8, 9, 10, 13))
    return _Pattern(struct.Struct(fmt).pack, select, size, vt, align, *uoffs)


class _PatternCache(dict[int, _Pattern]):
    """Key ``mask << 1 | (start >> 2 & 1)`` -> pattern, compiled on first use."""

    def __missing__(self, key: int) -> _Pattern:
        pattern = self[key] = _compile_pattern(key >> 1, 4 * (key & 1))
        return pattern


_PATTERNS = _PatternCache()
_XATTR_VT = struct.pack("<4H", 8, 12, 8, 4)  # Xattr's only possible vtable: key @8, value @4
_XATTR_OBJ = struct.Struct("<iII").pack
_ZERO4 = bytes(4)
_Group = tuple[bytes, int, int, int, int, int]


class _Groups(dict[tuple[str, str, str, str, str], _Group | None]):
    """(type, linkname, uname, gname, mod_time) -> :func:`_string_group`; None when new."""

    def __missing__(self, key: tuple[str, str, str, str, str]) -> None:
        return None

    def fill(self, strs: _StrChunks, key: tuple[str, str, str, str, str]) -> _Group:
        group = self[key] = _string_group(strs, key)
        return group


def _write_xattrs(w: _Writer, pax: Iterable[tuple[str, str]]) -> int:
    """Section 2.3 step 2.2: key-sorted Xattr tables, then their vector (w.off 4-aligned)."""
    chunks, vtables, objs, off = w.chunks, w.vtables, [], w.off
    for key, value in sorted(((_enc(k), _enc(v)) for k, v in pax), key=itemgetter(0)):
        ck = _U32(len(key)) + key + _TAIL[len(key) & 3]
        cv = _U32(len(value)) + value + _TAIL[len(value) & 3]
        sk = off + len(ck)
        start = sk + len(cv)
        obj = start + 12
        known = vtables.get(_XATTR_VT)
        chunks += (ck, cv, _XATTR_OBJ(8 if known is None else known - obj, 8, start + 4 - sk))
        if known is None:
            chunks.append(_XATTR_VT)
            vtables[_XATTR_VT] = off = obj + 8
        else:
            off = obj
        objs.append(obj)
    w.off = off
    return w.offset_vector(objs)


def _string_group(strs: _StrChunks, key: tuple[str, str, str, str, str]) -> _Group:
    """The contiguous strings type, linkname, uname, gname, mod_time of one entry."""
    c1, c4, c8, c9, c10 = (strs[s] for s in key)
    k1 = len(c1)
    k4 = k1 + len(c4)
    k8 = k4 + len(c8)
    k9 = k8 + len(c9)
    return b"".join((c10, c9, c8, c4, c1)), k1, k4, k8, k9, k9 + len(c10)


def _write_entries(w: _Writer, entries: Sequence[FileMetadata]) -> list[int]:
    """Section 2.3 step 2 for entries N-1..0 (hot path); returns table offsets for 0..N-1.

    Offsets of the type..mod_time strings relative to the name string (``k*``) come from a
    per-encode cache of those five values, which repeat across entries.
    """
    strs, pats, vtables, groups = _StrChunks(), _PATTERNS, w.vtables, _Groups()
    append, off, align, objs, tail = w.chunks.append, w.off, w.minalign, [], _TAIL
    assert off & 3 == 0, "entries must start 4-aligned"
    for name, typ, uoff, usize, link, mode, uid, gid, uname, gname, mt, dmaj, dmin, pax in reversed(
        entries
    ):
        nb = name.encode("utf-8", "surrogateescape")
        n = len(nb)
        s0 = off + n + 8 - (n & 3)
        group, k1, k4, k8, k9, k10 = groups[typ, link, uname, gname, mt] or groups.fill(
            strs, (typ, link, uname, gname, mt)
        )
        append(tail[n & 3])
        append(nb)
        append(_U32(n))
        append(group)
        if pax:
            w.off = s0 + k10
            start = _write_xattrs(w, pax)
        else:
            append(_ZERO4)
            start = s0 + k10 + 4
        mask = (uoff != 0) + 2 * (usize != 0) + 4 * (mode != 0)
        if uid or gid or dmaj or dmin:
            mask += 8 * (uid != 0) + 16 * (gid != 0) + 32 * (dmaj != 0) + 64 * (dmin != 0)
        pack, select, size, vt, palign, u1, u4, u8, u9, u10, u13 = pats[
            mask << 1 | (start >> 2 & 1)
        ]
        d = start - s0
        off = obj = start + size
        known = vtables.get(vt)
        append(pack(*select((
            32 if known is None else known - obj, u13, dmin, dmaj, d + u10 - k10, d + u9 - k9,
            d + u8 - k8, gid, uid, mode, d + u4 - k4, usize, uoff, d + u1 - k1, d + 4,
        ))))  # fmt: skip
        if known is None:
            append(vt)
            vtables[vt] = off = obj + 32
        if palign > align:
            align = palign
        objs.append(obj)
    w.off, w.minalign = off, align
    objs.reverse()
    return objs


def _write_compression_info(w: _Writer, info: CompressionInfo) -> int:
    """Section 2.3 steps 3-5."""
    checkpoints = w.byte_vector(info.checkpoints)
    digests = w.offset_vector([w.string(_enc(d)) for d in info.span_digests])
    fields = [(1, "i", info.max_span_id)] if info.max_span_id else []
    fields += [(2, "U", digests), (3, "U", checkpoints)]
    if info.algorithm is not None and info.algorithm is not CompressionAlgorithm.GZIP:
        fields.append((0, "b", _ALGORITHM_VALUES[info.algorithm]))
    return w.table(4, fields)


def encode_ztoc(ztoc: Ztoc) -> bytes:
    """Serialize ``ztoc`` exactly as soci's ``ztoc.Marshal`` does (section 2.3)."""
    w = _Writer()
    try:
        version = w.string(_enc(ztoc.version))
        tool = w.string(_enc(ztoc.build_tool_identifier))
        metadata = w.offset_vector(_write_entries(w, ztoc.entries))
        toc = w.table(1, [(0, "U", metadata)])
        info = _write_compression_info(w, ztoc.compression)
        fields = [(0, "U", version), (1, "U", tool), (4, "U", toc)]
        if ztoc.compressed_archive_size:
            fields.append((2, "q", ztoc.compressed_archive_size))
        if ztoc.uncompressed_archive_size:
            fields.append((3, "q", ztoc.uncompressed_archive_size))
        fields.append((5, "U", info))
        return w.finish(w.table(6, fields))
    except struct.error as exc:
        raise ValueError(f"zTOC field out of range: {exc}") from None


_u32 = struct.Struct("<I").unpack_from
_i32 = struct.Struct("<i").unpack_from
_vt_head = struct.Struct("<HH").unpack_from
_Table = tuple[int, tuple[int, ...]]  # (object position, field voffsets by slot)


class _Reader:
    """Bounds-checked FlatBuffers table access (no recursion, every loop bounded by len).

    ``budget`` caps the bytes and vector elements read in total, so a buffer whose offsets
    alias the same large string or vector many times cannot blow up time or memory.
    """

    __slots__ = ("budget", "buf", "size")

    def __init__(self, raw: bytes | bytearray | memoryview) -> None:
        self.buf = bytes(raw)
        self.size = len(self.buf)
        self.budget = 8 * self.size + 65536

    def spend(self, units: int) -> None:
        self.budget -= units
        if self.budget < 0:
            raise ZtocFormatError("buffer references the same data too many times")

    def need(self, pos: int, n: int, what: str) -> None:
        if pos < 0 or pos + n > self.size:
            raise ZtocFormatError(
                f"{what} at byte {pos} (+{n}) is outside the {self.size}-byte buffer"
            )

    def root(self, what: str) -> _Table:
        self.need(0, 4, "root offset")
        return self.table(_u32(self.buf, 0)[0], what)

    def table(self, pos: int, what: str) -> _Table:
        self.need(pos, 4, what)
        vt = pos - _i32(self.buf, pos)[0]
        self.need(vt, 4, f"{what} vtable")
        vt_len = _vt_head(self.buf, vt)[0]
        if vt_len < 4 or vt_len & 1:
            raise ZtocFormatError(f"{what} vtable at byte {vt} has invalid length {vt_len}")
        self.need(vt, vt_len, f"{what} vtable")
        return pos, struct.unpack_from(f"<{(vt_len - 4) // 2}H", self.buf, vt + 4)

    def scalar(self, t: _Table, slot: int, code: str) -> int:
        """A scalar field; 0 (every scalar default here except the algorithm) when absent."""
        pos, voffs = t
        if slot >= len(voffs) or not voffs[slot]:
            return 0
        self.need(pos + voffs[slot], _SIZES[code], "scalar field")
        return int(struct.unpack_from("<" + code, self.buf, pos + voffs[slot])[0])

    def ref(self, t: _Table, slot: int) -> int:
        """Target position of a uoffset field, or 0 when absent."""
        pos, voffs = t
        if slot >= len(voffs) or not voffs[slot]:
            return 0
        self.need(pos + voffs[slot], 4, "offset field")
        return pos + voffs[slot] + int(_u32(self.buf, pos + voffs[slot])[0])

    def blob(self, pos: int, what: str, nul: int = 0) -> bytes:
        """A [ubyte]'s (``nul`` 0) or NUL-terminated string's (``nul`` 1) bytes; b"" if absent."""
        if not pos:
            return b""
        self.need(pos, 4, what)
        n = _u32(self.buf, pos)[0]
        self.need(pos + 4, n + nul, what)
        self.spend(n)
        if nul and self.buf[pos + 4 + n]:
            raise ZtocFormatError(f"{what} at byte {pos} is not NUL-terminated")
        return self.buf[pos + 4 : pos + 4 + n]

    def text(self, pos: int, what: str = "string") -> str:
        return self.blob(pos, what, 1).decode("utf-8", "surrogateescape")

    def string(self, t: _Table, slot: int) -> str:
        return self.text(self.ref(t, slot))

    def refs(self, t: _Table, slot: int, what: str) -> list[int]:
        """Target positions of a vector of uoffsets (empty when absent)."""
        pos = self.ref(t, slot)
        if not pos:
            return []
        self.need(pos, 4, what)
        n = _u32(self.buf, pos)[0]
        self.need(pos + 4, 4 * n, what)
        self.spend(16 * n)
        rel = struct.unpack_from(f"<{n}I", self.buf, pos + 4)
        return [pos + 4 + 4 * k + r for k, r in enumerate(rel)]


def _read_entry(r: _Reader, pos: int) -> FileMetadata:
    t = r.table(pos, "FileMetadata")
    pax = []
    for x in r.refs(t, 13, "xattrs vector"):
        xt = r.table(x, "Xattr")
        pax.append((r.string(xt, 0), r.string(xt, 1)))
    s, q = r.string, r.scalar
    return FileMetadata(
        s(t, 0), s(t, 1), q(t, 2, "q"), q(t, 3, "q"), s(t, 4), q(t, 5, "q"), q(t, 6, "I"),
        q(t, 7, "I"), s(t, 8), s(t, 9), s(t, 10), q(t, 11, "q"), q(t, 12, "q"), tuple(pax),
    )  # fmt: skip


def _read_compression_info(r: _Reader, pos: int) -> CompressionInfo:
    t = r.table(pos, "CompressionInfo")
    code = r.scalar(t, 0, "b") if len(t[1]) and t[1][0] else 1  # schema default Gzip
    algorithm = {1: CompressionAlgorithm.GZIP, 2: CompressionAlgorithm.UNCOMPRESSED}.get(code)
    if algorithm is None:
        raise ZtocFormatError(f"unknown compression algorithm {code}")
    digests = tuple(r.text(p, "span digest") for p in r.refs(t, 2, "span_digests vector"))
    checkpoints = r.blob(r.ref(t, 3), "checkpoints")
    return CompressionInfo(algorithm, r.scalar(t, 1, "i"), digests, checkpoints)


def decode_ztoc(raw: bytes | bytearray | memoryview) -> Ztoc:
    """Parse a zTOC (section 2.4). Absent ``compression_algorithm`` reads as GZIP, as in soci.

    Raises :class:`ZtocFormatError` for anything that is not a well-formed zTOC buffer.
    """
    r = _Reader(raw)
    try:
        t = r.root("Ztoc")
        toc, info = r.ref(t, 4), r.ref(t, 5)
        if not toc or not info:
            raise ZtocFormatError("zTOC has no toc or no compression_info")
        entries = tuple(_read_entry(r, p) for p in r.refs(r.table(toc, "TOC"), 0, "metadata"))
        return Ztoc(
            r.string(t, 0), r.string(t, 1), r.scalar(t, 2, "q"), r.scalar(t, 3, "q"),
            entries, _read_compression_info(r, info),
        )  # fmt: skip
    except (struct.error, IndexError, ValueError, OverflowError) as exc:
        raise ZtocFormatError(f"not a zTOC: {exc}") from None
