"""zTOC encoder (soci-format.md section 2.3), byte-identical to soci's Go ``ztoc.Marshal``.

The encoder is specialised to the schema: it replays the builder call sequence of section 2.3
(back-to-front writing, ``Prep`` alignment, default-skipping scalars, vtable de-duplication,
``Finish``) without the generic builder's per-scalar overhead. The generic operations are
:class:`~soci_index_builder.ztoc._flatbuffers.Writer`'s; FileMetadata tables are written by the
inlined loop :func:`_write_entries` from precomputed per-layout patterns.
"""

from __future__ import annotations

import functools
import struct
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


#: Entries of the per-encode memo tables before they are cleared: strings that never repeat
#: (sub-second mtimes, PAX values) must not cost memory per entry (docs/performance.md).
_MEMO_LIMIT = 4096
#: Entries whose chunks are joined into one bytes object at a time: a few hundred small
#: bytes objects per entry would cost more memory than the encoding itself.
_BATCH = 1024


class _StrChunks(dict[str, bytes]):
    """str -> the bytes ``CreateString`` writes for it, valid at a 4-aligned offset."""

    def __missing__(self, s: str) -> bytes:
        b = _enc(s)
        if len(self) >= _MEMO_LIMIT:
            self.clear()
        chunk = self[s] = U32(len(b)) + b + _TAIL[len(b) & 3]
        return chunk


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
_Group = tuple[bytes, int, int, int, int]
#: :func:`_kind_info`: the string group, its ends (k1, k4, k8, k9), the presence bits, mode,
#: uid, gid, devmajor, devminor.
_KindInfo = tuple[bytes, int, int, int, int, int, int, int, int, int, int]


def _single_piece(key_id: int, value: bytes, key_chunk: bytes) -> _Piece:
    """The position-free part of a one-record Xattr vector (see ``_SINGLE``): the value's bytes
    and padding, then the key string; with the last three fields of its ``_SINGLE`` pack."""
    lv = len(value)
    cv = lv + 8 - (lv & 3)  # the value string's size
    return key_id, value + _TAIL[lv & 3] + key_chunk, (8, cv + 4, lv)


#: A one-record Xattr vector once the Xattr vtable is written, as :func:`_write_xattrs` writes
#: it, in memory order: the vector (length 1, element 0 -> the table just after it), the table
#: (soffset to the vtable, uoffsets of value and key), the value string's length; then the
#: value's bytes and padding and the key string follow.
_SINGLE = struct.Struct("<IIiIII").pack
#: :func:`_single_piece`: (key id, the piece, the pack's last three fields).
_Piece = tuple[int, bytes, tuple[int, int, int]]


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


# Long on purpose (~60 lines): the inlined hot loop; per-entry helper calls measurably cost speed.
def _write_entries(w: Writer, toc: EntryColumns) -> list[int]:  # noqa: C901 (the hot loop)
    """Section 2.3 step 2 for entries N-1..0 (hot path); returns table offsets for 0..N-1.

    Reads the columns directly: names, mod_times and PAX values are already encoded. Offsets
    of the type..gname strings relative to the name string (``k*``) come from a per-encode
    cache by interned kind; mod_time follows them (``k10``). Chunks go to a batch joined into
    one of ``w``'s chunks every ``_BATCH`` entries.
    """
    strs, pats, vtables = _StrChunks(), _PATTERNS, w.vtables
    kinds: dict[int, _KindInfo] = {}
    batch: list[bytes | bytearray] = []
    append, off, align, objs, tail = batch.append, w.off, w.minalign, [], _TAIL
    xvt = vtables.get(_XATTR_VT, 0)  # Offset() of the Xattr vtable once written
    names, name_ends, time_ends = toc.names, toc.name_ends, toc.time_ends
    value_ends, first_value = toc.value_ends, toc.first_value
    kind_values, key_sets = toc.kind_values, toc.key_sets
    # bytes copies of the two columns whose slices are memo keys (repeating times and values)
    times, values = bytes(toc.times), bytes(toc.values)
    tchunks: dict[bytes, bytes] = {}
    xpieces: dict[bytes, _Piece] = {}
    assert off & 3 == 0, "entries must start 4-aligned"
    for i, uoff, usize, kind_id, key_id in zip(
        range(len(toc) - 1, -1, -1),
        reversed(toc.offsets),
        reversed(toc.sizes),
        reversed(toc.kinds),
        reversed(toc.pax_keys),
        strict=True,
    ):
        nb = names[name_ends[i] : name_ends[i + 1]]
        n = len(nb)
        s0 = off + n + 8 - (n & 3)
        info = kinds.get(kind_id)
        if info is None:
            if len(kinds) >= _MEMO_LIMIT:
                kinds.clear()
            info = kinds[kind_id] = _kind_info(strs, kind_values[kind_id])
        group, k1, k4, k8, k9, mask, mode, uid, gid, dmaj, dmin = info
        tb = times[time_ends[i] : time_ends[i + 1]]
        cm = tchunks.get(tb)
        if cm is None:
            if len(tchunks) >= _MEMO_LIMIT:
                tchunks.clear()
            cm = tchunks[tb] = U32(len(tb)) + tb + tail[len(tb) & 3]
        k10 = k9 + len(cm)
        append(tail[n & 3])
        append(nb)
        append(U32(n))
        append(group)
        append(cm)
        if key_id:
            keys = key_sets[key_id]
            if xvt and len(keys) == 1:  # Xattr vtable already written: one pack
                v = first_value[i]
                vb = values[value_ends[v] : value_ends[v + 1]]
                x = xpieces.get(vb)
                if x is None or x[0] != key_id:
                    if len(xpieces) >= _MEMO_LIMIT:
                        xpieces.clear()
                    x = xpieces[vb] = _single_piece(key_id, vb, strs[keys[0]])
                _, piece, head = x
                strings = s0 + k10 + len(piece) + 4  # Offset() past the two strings
                append(piece)
                append(_SINGLE(1, 4, xvt - strings - 12, *head))
                start = strings + 20
            else:
                w.off = s0 + k10
                start = _write_xattrs(w, batch, toc.records(i), strs)
                xvt = vtables.get(_XATTR_VT, 0)
        else:
            append(_ZERO4)
            start = s0 + k10 + 4
        mask += (uoff != 0) + 2 * (usize != 0)
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
        if len(objs) % _BATCH == 0:
            w.chunks.append(b"".join(reversed(batch)))
            batch.clear()
    w.chunks.append(b"".join(reversed(batch)))
    w.off, w.minalign = off, align
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
