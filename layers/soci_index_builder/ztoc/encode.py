"""zTOC encoder (soci-format.md section 2.3), byte-identical to soci's Go ``ztoc.Marshal``.

The encoder is specialised to the schema: it replays the builder call sequence of section 2.3
(back-to-front writing, ``Prep`` alignment, default-skipping scalars, vtable de-duplication,
``Finish``) without the generic builder's per-scalar overhead. The generic operations are
:class:`~soci_index_builder.ztoc._flatbuffers.Writer`'s; FileMetadata tables are written by the
inlined loop :func:`_write_entries` (docs/performance.md, "The encoder").

Most entries of a layer share a *shape* with others: the same kind (type, linkname, mode,
owner, device numbers), the same PAX keys (none, or one record), and mod_time and value texts
of the same lengths. Between the name, mod_time and value bytes, such entries' bytes differ
only by the name's length prefix and padding and by two soffsets that depend on the position
(the object's to its vtable, the Xattr table's to its vtable). So an entry of a shape met
before costs one ``struct`` pack of its :func:`_head` (of the constant bytes of its
:class:`_Layout`, its mod_time and value bytes, two soffsets and its offset and size) and its
name's bytes and padding: three pieces for the final join. Nothing is memoized by
value, so distinct sub-second mtimes and PAX values cost no lookups that miss. The first
entry of a shape, of a kind or of a vtable, and entries with several PAX records, are written
field by field from precomputed patterns (:class:`_Pattern`, one per presence mask and
alignment)."""

from __future__ import annotations

import functools
import struct
from itertools import islice
from operator import itemgetter
from typing import TYPE_CHECKING, Any, NamedTuple

from soci_index_builder.tar.columns import EntryColumns, Kind
from soci_index_builder.ztoc._flatbuffers import SIZES, U32, Writer, ZtocValueError
from soci_index_builder.ztoc.model import CompressionAlgorithm, CompressionInfo, Ztoc

if TYPE_CHECKING:
    from collections.abc import Sequence

__all__ = ["encode_ztoc"]

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


def _enc(s: str) -> bytes:
    return s.encode("utf-8", "surrogateescape")


#: Entries of a per-encode memo table before it is cleared: what never repeats (long names,
#: distinct kinds, odd value lengths) must not cost memory per entry (docs/performance.md).
_MEMO_LIMIT = 4096
#: Entries whose pieces are joined into one bytes object at a time: eight small objects per
#: entry would cost more memory than the encoding itself.
_BATCH = 1024


class _StrChunks(dict[str, bytes]):
    """str -> the bytes ``CreateString`` writes for it, valid at a 4-aligned offset."""

    def __missing__(self, s: str) -> bytes:
        b = _enc(s)
        if len(self) >= _MEMO_LIMIT:
            self.clear()
        chunk = self[s] = U32(len(b)) + b + _TAIL[len(b) & 3]
        return chunk


class _Frames(dict[int, tuple[bytes, bytes, int]]):
    """n -> what frames an n-byte string at a 4-aligned offset: its NUL and padding, its
    length prefix (memory order: prefix, bytes, padding) and its size."""

    def __missing__(self, n: int) -> tuple[bytes, bytes, int]:
        if len(self) >= _MEMO_LIMIT:
            self.clear()
        frame = self[n] = _TAIL[n & 3], U32(n), n + 8 - (n & 3)
        return frame


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
    # Byte positions in the object (soffset at 0) of the size and offset fields (0: absent).
    at_size: int
    at_offset: int


def _compile_pattern(mask: int, e8: int) -> _Pattern:
    """Simulate StartObject(14)...EndObject at an offset = ``e8`` (mod 8) for mask's scalars."""
    absent = {s for bit, s in enumerate(_FM_OPTIONAL) if not mask >> bit & 1}
    rel, pos, items = 0, [0] * 14, []
    for slot, code in _FM_FIELDS:
        if slot in absent:
            continue
        size = SIZES[code]
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
    u1, u4, u8, u9, u10, u13 = (pos[s] for s in (1, 4, 8, 9, 10, 13))
    at_size, at_offset = (size - pos[s] if pos[s] else 0 for s in (3, 2))
    pack = struct.Struct(fmt).pack
    return _Pattern(pack, select, size, vt, align, u1, u4, u8, u9, u10, u13, at_size, at_offset)


class _PatternCache(dict[int, _Pattern]):
    """Key ``mask << 1 | (start >> 2 & 1)`` -> pattern, compiled on first use."""

    def __missing__(self, key: int) -> _Pattern:
        pattern = self[key] = _compile_pattern(key >> 1, 4 * (key & 1))
        return pattern


_PATTERNS = _PatternCache()
_XATTR_VT = struct.pack("<4H", 8, 12, 8, 4)  # Xattr's only possible vtable: key @8, value @4
_XATTR_OBJ = struct.Struct("<iII").pack
_ZERO4 = bytes(4)
_Group = tuple[bytes, int, int, int, int]
#: :func:`_kind_info`: the string group, its ends (k1, k4, k8, k9), the presence bits, mode,
#: uid, gid, devmajor, devminor.
_KindInfo = tuple[bytes, int, int, int, int, int, int, int, int, int, int]


#: The head of a one-record Xattr vector and of its table, in memory order: the vector
#: (length 1, element 0 -> the table just after it), then the table's soffset to the vtable
#: follows, then (:attr:`_Layout.single`) its uoffsets of value and key and the value's length.
_SINGLE_HEAD = struct.pack("<II", 1, 4)
_SINGLE_TAIL = struct.Struct("<III").pack


def _write_xattrs(
    w: Writer, chunks: list[bytes | bytearray], pax: Sequence[tuple[str, str]], strs: _StrChunks
) -> int:
    """Section 2.3 step 2.2: key-sorted Xattr tables, then their vector (w.off 4-aligned),
    appended to ``chunks`` (the entry loop's current batch of ``w``'s chunks)."""
    vtables, objs, off = w.vtables, [], w.off
    for key, value in pax if len(pax) == 1 else sorted(pax, key=_key_bytes):
        ck, cv = strs[key], strs[value]
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
    # The offset vector, as Writer.offset_vector: ``off`` is 4-aligned here, so no padding.
    n = len(objs)
    first = off + 4 * n
    chunks.append(_vector_struct(n)(n, *[first - 4 * k - t for k, t in enumerate(objs)]))
    w.off = off + 4 * n + 4
    return w.off


def _key_bytes(record: tuple[str, str]) -> bytes:
    return _enc(record[0])


@functools.cache
def _vector_struct(n: int) -> Any:
    return struct.Struct(f"<{n + 1}I").pack


def _string_group(strs: _StrChunks, key: tuple[str, str, str, str]) -> _Group:
    """The contiguous strings type, linkname, uname, gname of one entry (memory order is
    gname first), with their ends relative to the type string's start."""
    c1, c4, c8, c9 = (strs[s] for s in key)
    k1 = len(c1)
    k4 = k1 + len(c4)
    k8 = k4 + len(c8)
    return b"".join((c9, c8, c4, c1)), k1, k4, k8, k8 + len(c9)


def _kind_info(strs: _StrChunks, kind: Kind) -> _KindInfo:
    """The string group of a :data:`~.columns.Kind` and its scalars, with the presence bits
    of mode, uid, gid, devmajor and devminor (section 2.3 step 2.3)."""
    typ, link, mode, uid, gid, uname, gname, dmaj, dmin = kind
    mask = 4 * (mode != 0) + 8 * (uid != 0) + 16 * (gid != 0) + 32 * (dmaj != 0) + 64 * (dmin != 0)
    return (*_string_group(strs, (typ, link, uname, gname)), mask, mode, uid, gid, dmaj, dmin)


#: (kind id, PAX key set id, mod_time length, value length): see :class:`_Layout`.
_Shape = tuple[int, int, int, int]


class _Layout(NamedTuple):
    """What the entries of one *shape* have in common: the same kind, PAX key set, mod_time
    length and (one PAX record) value length. Their bytes differ only in the name, mod_time
    and value bytes, the name's length, the two position-dependent soffsets, and the offset
    and size."""

    d: int  # the Xattr vector's Offset() minus the name string's
    strings: bytes  # memory order, after the mod_time's bytes: padding, gname..type strings
    glue: bytes  # memory order, up to the mod_time's bytes: the value's padding, key, length
    single: bytes  # the last 12 bytes of a one-record Xattr head (value/key uoffsets, length)
    heads: list[list[Any] | None]  # :func:`_head` by variant (see :func:`_write_entries`)
    kind: _KindInfo
    k10: int  # the mod_time string's Offset() minus the type string's
    lt: int  # the mod_time's length
    lv: int  # the value's length (0 without a PAX record)


def _layout(strs: _StrChunks, kind: _KindInfo, key: str | None, lt: int, lv: int) -> _Layout:
    """The :class:`_Layout` of entries of ``kind`` with an ``lt``-byte mod_time and no PAX
    record (``key`` None) or one record, of key ``key`` and an ``lv``-byte value."""
    group, k9 = kind[0], kind[4]
    k10 = k9 + lt + 8 - (lt & 3)
    strings = _TAIL[lt & 3] + group
    if key is None:
        return _Layout(k10 + 4, strings, U32(lt), b"", [None] * 8, kind, k10, lt, 0)
    glue = _TAIL[lv & 3] + strs[key] + U32(lt)
    cv = lv + 8 - (lv & 3)  # the value string's size
    # Vector (8), table (12), value length (4), value bytes, the glue without U32(lt).
    return _Layout(k10 + 20 + lv + len(glue), strings, glue, _SINGLE_TAIL(8, cv + 4, lv),
                   [None] * 8, kind, k10, lt, lv)  # fmt: skip


def _dropping(pack: Any, *, size: bool, offset: bool) -> Any:
    """``pack`` called with a head's full arguments, of which it takes the present fields."""
    if size:
        return lambda s, a, z, o, *rest: pack(s, a, z, *rest)
    if offset:
        return lambda s, a, z, o, *rest: pack(s, a, o, *rest)
    return lambda s, a, z, o, *rest: pack(s, a, *rest)


def _head(layout: _Layout, variant: int, pax: bool) -> list[Any]:
    """``[pack, a, b, size, vtable, known]`` for the entries of ``layout`` in ``variant``:
    ``pack`` writes an entry from its table up to its name's length prefix, in memory order
    (the table, the Xattr vector, with ``pax`` its one Xattr table and the value, then the
    mod_time, type..gname strings and the name's length), taking
    ``(soffset, a, size, offset, b, [xattr table soffset, single, value, glue,] mod_time,
    strings, name length)`` where ``a`` and ``b`` are the constant bytes around the size and
    offset fields and ``single``, ``glue``, ``strings`` the layout's; ``known``, None until
    looked up, is the vtable's Offset() once written."""
    _, k1, k4, k8, k9, mask, mode, uid, gid, dmaj, dmin = layout.kind
    mask |= (not variant & 1) | 2 * (not variant & 2)
    p = _PATTERNS[mask << 1 | variant >> 2]
    d, k10 = layout.d, layout.k10
    obj = p.pack(*p.select((
        0, p.u13, dmin, dmaj, d + p.u10 - k10, d + p.u9 - k9, d + p.u8 - k8, gid, uid, mode,
        d + p.u4 - k4, 0, 0, d + p.u1 - k1, d + 4,
    )))  # fmt: skip
    present = [at for at in (p.at_size, p.at_offset) if at]  # adjacent, size first
    lo, hi = (present[0], present[-1] + 8) if present else (p.size, p.size)
    lt, glue, strings = layout.lt, layout.glue, layout.strings
    a, fmt = obj[4:lo], f"<i{lo - 4}s{'q' * len(present)}"
    if pax:
        b = obj[hi:] + _SINGLE_HEAD
        fmt += f"{len(b)}si12s{layout.lv}s{len(glue)}s{lt}s{len(strings)}sI"
    else:  # the empty vector, then the mod_time's length (the glue) are constant too
        b = obj[hi:] + _ZERO4 + glue
        fmt += f"{len(b)}s{lt}s{len(strings)}sI"
    pack = struct.Struct(fmt).pack
    if variant & 3:  # offset and/or size absent
        pack = _dropping(pack, size=not variant & 2, offset=not variant & 1)
    return [pack, a, b, p.size, p.vtable, None]


# Long on purpose: the inlined hot loop; per-entry helper calls measurably cost speed.
def _write_entries(w: Writer, toc: EntryColumns) -> list[int]:  # noqa: C901 (the hot loop)
    """Section 2.3 step 2 for entries N-1..0 (hot path); returns table offsets for 0..N-1.

    Reads the columns directly: names, mod_times and PAX values are already encoded. The
    fast path takes an entry with no PAX record, or one once the Xattr vtable exists, whose
    shape (and kind) has been met before and whose object's vtable is written: its name's
    padding and bytes, and one pack of its :func:`_head`, chosen by *variant*: the Xattr
    vector's start mod 8 (bit 2) and whether offset (bit 0) and size (bit 1) are absent.
    Other entries are written field by field. Pieces go to a batch joined into one of ``w``'s
    chunks every ``_BATCH`` entries.
    """
    vtables, key_sets, kind_values = w.vtables, toc.key_sets, toc.kind_values
    strs, frames = _StrChunks(), _Frames()
    kinds: dict[int, _KindInfo] = {}
    layouts: dict[_Shape, _Layout] = {}
    batch: list[bytes | bytearray] = []
    objs: list[int] = []
    one_key = [len(keys) == 1 for keys in key_sets]
    values, value_ends, first_value = toc.values, toc.value_ends, toc.first_value
    xvt = vtables.get(_XATTR_VT, 0)  # Offset() of the Xattr vtable once written

    def kind_info(kind_id: int) -> _KindInfo:
        if len(kinds) >= _MEMO_LIMIT:
            kinds.clear()
        info = kinds[kind_id] = _kind_info(strs, kind_values[kind_id])
        return info

    def shape_layout(shape: _Shape) -> _Layout | None:
        """The layout of a new shape, None if its kind is new too (a kind met once might
        never repeat: not worth a layout)."""
        kind_id, key_id, lt, lv = shape
        kind = kinds.get(kind_id)
        if kind is None:
            return None
        if len(layouts) >= _MEMO_LIMIT:
            layouts.clear()
        key = key_sets[key_id][0] if key_id else None
        layout = layouts[shape] = _layout(strs, kind, key, lt, lv)
        return layout

    off = w.off
    assert off & 3 == 0, "entries must start 4-aligned"
    names, name_ends, times, time_ends = toc.names, toc.name_ends, toc.times, toc.time_ends
    entries = zip(
        range(len(toc) - 1, -1, -1),
        reversed(toc.offsets),
        reversed(toc.sizes),
        reversed(toc.kinds),
        reversed(toc.pax_keys),
        strict=True,
    )
    while True:
        for i, uoff, usize, kind_id, key_id in islice(entries, _BATCH):
            nb = names[name_ends[i] : name_ends[i + 1]]
            tb = times[time_ends[i] : time_ends[i + 1]]
            n = len(nb)
            ntail, nlen, nsize = frames[n]
            vb: bytes | bytearray = b""
            layout = None
            # else several PAX records, or the first Xattr table: field by field
            if not key_id or (xvt and one_key[key_id]):
                if key_id:
                    v = first_value[i]
                    vb = values[value_ends[v] : value_ends[v + 1]]
                shape = (kind_id, key_id, len(tb), len(vb))
                layout = layouts.get(shape) or shape_layout(shape)
            if layout is not None:
                d, strings, glue, single, heads, _, _, _, _ = layout
                start = off + nsize + d
                variant = start & 4 | (not uoff) | 2 * (not usize)
                head = heads[variant]
                if head is None:
                    head = heads[variant] = _head(layout, variant, key_id != 0)
                pack, a, b, size, vt, known = head
                if known is None:
                    known = head[5] = vtables.get(vt)
                # Until its vtable is written (field by field below, which also counts its
                # pattern's minalign: the same for every object of that vtable).
                if known is not None:
                    off = obj = start + size
                    if key_id:
                        xsoff = xvt - start + 8
                        packed = pack(
                            known - obj, a, usize, uoff, b, xsoff, single, vb, glue, tb, strings, n
                        )
                    else:
                        packed = pack(known - obj, a, usize, uoff, b, tb, strings, n)
                    batch += (ntail, nb, packed)
                    objs.append(obj)
                    continue
            # Field by field (any PAX records; writes the object's vtable if new).
            ttail, tlen, tsize = frames[len(tb)]
            s0 = off + nsize
            info = kinds.get(kind_id) or kind_info(kind_id)
            group, k1, k4, k8, k9, mask, mode, uid, gid, dmaj, dmin = info
            k10 = k9 + tsize
            batch += (ntail, nb, nlen, group, ttail, tb, tlen)
            if key_id:
                w.off = s0 + k10
                start = _write_xattrs(w, batch, toc.records(i), strs)
                xvt = vtables.get(_XATTR_VT, 0)
            else:
                batch.append(_ZERO4)
                start = s0 + k10 + 4
            mask |= (uoff != 0) | 2 * (usize != 0)
            pack, select, size, vt, palign, u1, u4, u8, u9, u10, u13, _, _ = _PATTERNS[
                mask << 1 | (start >> 2 & 1)
            ]
            d = start - s0
            off = obj = start + size
            known = vtables.get(vt)
            batch.append(pack(*select((
                32 if known is None else known - obj, u13, dmin, dmaj, d + u10 - k10,
                d + u9 - k9, d + u8 - k8, gid, uid, mode, d + u4 - k4, usize, uoff,
                d + u1 - k1, d + 4,
            ))))  # fmt: skip
            if known is None:
                batch.append(vt)
                vtables[vt] = off = obj + 32
            if palign > w.minalign:
                w.minalign = palign
            objs.append(obj)
        if not batch:
            break
        batch.reverse()  # into memory order, in place (cheaper than join(reversed(...)))
        w.chunks.append(b"".join(batch))
        batch.clear()
    w.off = off
    objs.reverse()
    return objs


def _write_compression_info(w: Writer, info: CompressionInfo) -> int:
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
    w = Writer()
    try:
        version = w.string(_enc(ztoc.version))
        tool = w.string(_enc(ztoc.build_tool_identifier))
        entries = ztoc.entries
        columns = entries if isinstance(entries, EntryColumns) else EntryColumns.of(entries)
        metadata = w.offset_vector(_write_entries(w, columns))
        toc = w.table(1, [(0, "U", metadata)])
        info = _write_compression_info(w, ztoc.compression)
        fields = [(0, "U", version), (1, "U", tool), (4, "U", toc)]
        if ztoc.compressed_archive_size:
            fields.append((2, "q", ztoc.compressed_archive_size))
        if ztoc.uncompressed_archive_size:
            fields.append((3, "q", ztoc.uncompressed_archive_size))
        fields.append((5, "U", info))
        return w.finish(w.table(6, fields))
    except (struct.error, OverflowError) as exc:  # OverflowError: an offset/size column
        raise ZtocValueError(f"zTOC field out of range: {exc}") from None
