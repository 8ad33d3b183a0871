"""Low-level FlatBuffers primitives shared by the zTOC and TarZinfo codecs (soci-format.md 2.3-2.4).

:class:`Writer` replays the generic builder's operations (``Prep``, ``CreateString``, vectors,
tables with vtable de-duplication, ``Finish``) on a chunk list: chunks are collected in write
order and joined reversed at the end; ``off`` is always the builder's ``Offset()`` (bytes
written). :class:`Reader` is bounds-checked table access for untrusted buffers.
"""

from __future__ import annotations

import io
import struct
from operator import sub
from typing import TYPE_CHECKING

from soci_index_builder.errors import SociError

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence

__all__ = ["SIZES", "U32", "Reader", "Table", "Writer", "ZtocFormatError"]

U32 = struct.Struct("<I").pack
_I32 = struct.Struct("<i").pack
#: Byte size per struct code ('U' = uoffset).
SIZES = {"U": 4, "I": 4, "i": 4, "q": 8, "b": 1}


class ZtocFormatError(SociError):
    """Bytes that are not a readable zTOC (or TarZinfo) FlatBuffer."""


class ZtocValueError(SociError, ValueError):
    """A value the zTOC format cannot hold (outside its FlatBuffers field type's range)."""


class Writer:
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
        self.chunks.append(U32(len(b)) + b + b"\0")
        self.off += len(b) + 5
        return self.off

    def byte_vector(self, b: bytes) -> int:
        self.prep(4, len(b))
        self.chunks += (b, U32(len(b)))
        self.off += len(b) + 4
        return self.off

    def offset_vector(self, targets: Sequence[int]) -> int:
        """A vector of uoffsets; ``targets`` in memory (index) order."""
        n = len(targets)
        self.prep(4, 4 * n)
        first = self.off + 4 * n  # Offset() of element 0 once placed
        # element k's Offset() minus its target's, computed in C (a zTOC has one per entry)
        rel = map(sub, range(first, first - 4 * n, -4), targets)
        self.chunks.append(struct.pack(f"<{n + 1}I", n, *rel))
        self.off += 4 * n + 4
        return self.off

    def table(self, numslots: int, fields: Iterable[tuple[int, str, int]]) -> int:
        """StartObject, add (slot, code, value) in call order ('U' = uoffset target), End."""
        start, pos = self.off, [0] * numslots
        for slot, code, value in fields:
            self.prep(SIZES[code])
            self.off += SIZES[code]
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
        self.chunks.append(U32(self.off - root))
        # Chunks are released as they are copied, and BytesIO.getvalue() hands over its own
        # buffer: peak memory is about one zTOC, not two (docs/performance.md).
        out, chunks = io.BytesIO(), self.chunks
        while chunks:
            out.write(chunks.pop())
        return out.getvalue()


_u32 = struct.Struct("<I").unpack_from
_i32 = struct.Struct("<i").unpack_from
_vt_head = struct.Struct("<HH").unpack_from
Table = tuple[int, tuple[int, ...]]  # (object position, field voffsets by slot)


class Reader:
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

    def root(self, what: str) -> Table:
        self.need(0, 4, "root offset")
        return self.table(_u32(self.buf, 0)[0], what)

    def table(self, pos: int, what: str) -> Table:
        self.need(pos, 4, what)
        vt = pos - _i32(self.buf, pos)[0]
        self.need(vt, 4, f"{what} vtable")
        vt_len = _vt_head(self.buf, vt)[0]
        if vt_len < 4 or vt_len & 1:
            raise ZtocFormatError(f"{what} vtable at byte {vt} has invalid length {vt_len}")
        self.need(vt, vt_len, f"{what} vtable")
        return pos, struct.unpack_from(f"<{(vt_len - 4) // 2}H", self.buf, vt + 4)

    def scalar(self, t: Table, slot: int, code: str) -> int:
        """A scalar field; 0 (every scalar default here except the algorithm) when absent."""
        pos, voffs = t
        if slot >= len(voffs) or not voffs[slot]:
            return 0
        self.need(pos + voffs[slot], SIZES[code], "scalar field")
        return int(struct.unpack_from("<" + code, self.buf, pos + voffs[slot])[0])

    def ref(self, t: Table, slot: int) -> int:
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

    def string(self, t: Table, slot: int) -> str:
        return self.text(self.ref(t, slot))

    def refs(self, t: Table, slot: int, what: str) -> list[int]:
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
