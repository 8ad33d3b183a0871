"""The TOC as columns: about 150 bytes per entry and no Python object per entry.

A layer of a million files would hold over 500 MB as ``FileMetadata`` tuples with their
strings (docs/performance.md). Here names, ``mod_time`` texts and PAX values are bytes in one
buffer each (UTF-8 with surrogate escapes, exactly the bytes the encoder writes, section 2.3),
offsets and sizes are integer arrays, and what repeats across entries (type, linkname, mode,
owner, device numbers; the keys of the PAX records) is interned once and referenced by index.
The zTOC encoder (``ztoc/encode.py``) reads the columns directly; every other reader sees a
read-only sequence of :class:`~.model.FileMetadata`, each built on access.
"""

from __future__ import annotations

from array import array
from collections.abc import Callable, Iterable, Iterator, Sequence
from operator import index as as_index
from typing import overload

from .model import FileMetadata

#: The fields of an entry that repeat across a layer, interned together: type, linkname,
#: mode, uid, gid, uname, gname, devmajor, devminor.
Kind = tuple[str, str, int, int, int, str, str, int, int]
Pairs = tuple[tuple[str, str], ...]
#: :attr:`EntryColumns.add`: (name, kind id, offset, size, mod_time, PAX record keys, PAX
#: record values), strings as their bytes (UTF-8 with surrogate escapes).
Adder = Callable[[bytes, int, int, int, bytes, tuple[str, ...], tuple[bytes, ...]], None]


def _enc(s: str) -> bytes:
    return s.encode("utf-8", "surrogateescape")


def _dec(b: bytes | bytearray) -> str:
    return b.decode("utf-8", "surrogateescape")


class EntryColumns(Sequence[FileMetadata]):
    """The entries of a TOC in tar order, stored column by column (see the module docstring).

    Strings round-trip exactly for entries the tar scanner makes (it decodes names and values
    with surrogate escapes); for any entry, the encoded zTOC is the same as from the tuple.
    """

    __slots__ = (
        "_key_ids",
        "_kind_ids",
        "add",
        "first_value",
        "key_sets",
        "kind_values",
        "kinds",
        "name_ends",
        "names",
        "offsets",
        "pax_keys",
        "sizes",
        "time_ends",
        "times",
        "value_ends",
        "values",
    )

    def __init__(self) -> None:
        #: Entry i's name is ``names[name_ends[i]:name_ends[i + 1]]``; likewise its mod_time.
        self.names = bytearray()
        self.name_ends = array("Q", [0])
        self.times = bytearray()
        self.time_ends = array("Q", [0])
        self.offsets = array("q")
        self.sizes = array("q")
        #: Entry i's :data:`Kind` is ``kind_values[kinds[i]]``.
        self.kinds = array("I")
        self.kind_values: list[Kind] = []
        self._kind_ids: dict[Kind, int] = {}
        #: Entry i's PAX record keys are ``key_sets[pax_keys[i]]`` (0: no records); value j
        #: is ``values[value_ends[v]:value_ends[v + 1]]`` with ``v = first_value[i] + j``.
        self.pax_keys = array("I")
        self.key_sets: list[tuple[str, ...]] = [()]
        self._key_ids: dict[tuple[str, ...], int] = {(): 0}
        self.values = bytearray()
        self.value_ends = array("Q", [0])
        self.first_value = array("Q")
        #: Add one entry from its raw name bytes and the values the scanner has at hand.
        self.add = self._adder()

    @classmethod
    def of(cls, entries: Iterable[FileMetadata]) -> EntryColumns:
        """Columns holding ``entries`` (a decoded or hand-made TOC, for the encoder)."""
        columns = cls()
        for entry in entries:
            columns.append(entry)
        return columns

    def append(self, entry: FileMetadata) -> None:
        """Add one entry (the scanner's slow path; its fast path calls :meth:`add`)."""
        name, typ, offset, size, link, mode, uid, gid, uname, gname, mtime, dmaj, dmin, pax = entry
        kind = (typ, link, mode, uid, gid, uname, gname, dmaj, dmin)
        keys = tuple([key for key, _ in pax])
        values = tuple([_enc(value) for _, value in pax])
        self.add(_enc(name), self.kind_id(kind), offset, size, _enc(mtime), keys, values)

    def kind_id(self, kind: Kind) -> int:
        """The index of ``kind`` in :attr:`kind_values`, interned on first use."""
        kind_id = self._kind_ids.get(kind)
        if kind_id is None:
            kind_id = self._kind_ids[kind] = len(self.kind_values)
            self.kind_values.append(kind)
        return kind_id

    def _adder(self) -> Adder:
        """:attr:`add`, with every column bound in its closure (the scanner calls it per entry)."""
        names, name_ends, times, time_ends = self.names, self.name_ends, self.times, self.time_ends
        add_offset, add_size, add_kind = self.offsets.append, self.sizes.append, self.kinds.append
        add_keys, add_first = self.pax_keys.append, self.first_value.append
        key_ids, key_sets = self._key_ids, self.key_sets
        values, value_ends = self.values, self.value_ends

        def add(
            name: bytes,
            kind_id: int,
            offset: int,
            size: int,
            mod_time: bytes,
            keys: tuple[str, ...],
            pax_values: tuple[bytes, ...],
        ) -> None:
            names.extend(name)
            name_ends.append(len(names))
            times.extend(mod_time)
            time_ends.append(len(times))
            add_offset(offset)
            add_size(size)
            add_kind(kind_id)
            add_first(len(value_ends) - 1)
            if not keys:
                add_keys(0)
                return
            key_id = key_ids.get(keys)
            if key_id is None:
                key_id = key_ids[keys] = len(key_sets)
                key_sets.append(keys)
            add_keys(key_id)
            for value in pax_values:
                values.extend(value)
                value_ends.append(len(values))

        return add

    def name(self, i: int) -> str:
        """Entry ``i``'s name (error messages need it without building the entry)."""
        return _dec(self.names[self.name_ends[i] : self.name_ends[i + 1]])

    def records(self, i: int) -> Pairs:
        """Entry ``i``'s PAX records, in tar order."""
        keys = self.key_sets[self.pax_keys[i]]
        if not keys:
            return ()
        v, ends, values = self.first_value[i], self.value_ends, self.values
        return tuple(
            (key, _dec(values[ends[v + j] : ends[v + j + 1]])) for j, key in enumerate(keys)
        )

    def __len__(self) -> int:
        return len(self.offsets)

    @overload
    def __getitem__(self, i: int) -> FileMetadata: ...
    @overload
    def __getitem__(self, i: slice) -> tuple[FileMetadata, ...]: ...
    def __getitem__(self, i: int | slice) -> FileMetadata | tuple[FileMetadata, ...]:
        if isinstance(i, slice):
            return tuple(self[k] for k in range(*i.indices(len(self))))
        i = as_index(i)
        if i < 0:
            i += len(self)
        if not 0 <= i < len(self):
            raise IndexError("entry index out of range")
        typ, link, mode, uid, gid, uname, gname, dmaj, dmin = self.kind_values[self.kinds[i]]
        mtime = _dec(self.times[self.time_ends[i] : self.time_ends[i + 1]])
        return FileMetadata(
            self.name(i), typ, self.offsets[i], self.sizes[i], link, mode, uid, gid,
            uname, gname, mtime, dmaj, dmin, self.records(i),
        )  # fmt: skip

    def __iter__(self) -> Iterator[FileMetadata]:
        return map(self.__getitem__, range(len(self)))

    def __eq__(self, other: object) -> bool:
        """Equal to any sequence of the same entries (a tuple from the decoder, too)."""
        if not isinstance(other, Sequence) or isinstance(other, str | bytes):
            return NotImplemented
        return len(self) == len(other) and all(a == b for a, b in zip(self, other, strict=True))

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"EntryColumns(<{len(self)} entries>)"
