"""A zTOC as JSON and text (``ztoc info``), and back (``ztoc encode``).

The JSON names follow soci's ztoc.fbs. With the raw checkpoints blob included (base64), the
JSON is a complete description: decode, edit, re-encode gives byte-exact zTOCs.
"""

from __future__ import annotations

import base64
from typing import Any, get_type_hints

from ..errors import ConfigError, SociError
from ..ztoc.model import CompressionAlgorithm, CompressionInfo, FileMetadata, Ztoc


def ztoc_to_dict(ztoc: Ztoc, raw_checkpoints: bool = False) -> dict[str, Any]:
    """Every field; checkpoints decoded where the format is known, raw blob on request."""
    info = ztoc.compression
    extra = {"checkpoints_base64": base64.b64encode(info.checkpoints).decode()}
    return {
        "version": ztoc.version,
        "build_tool_identifier": ztoc.build_tool_identifier,
        "compressed_archive_size": ztoc.compressed_archive_size,
        "uncompressed_archive_size": ztoc.uncompressed_archive_size,
        "compression_algorithm": info.algorithm.value if info.algorithm else None,
        "max_span_id": info.max_span_id,
        "span_digests": list(info.span_digests),
        "checkpoints": _checkpoints(ztoc),
        "entries": [_entry(e) for e in ztoc.entries],
    } | (extra if raw_checkpoints else {})


def ztoc_from_dict(obj: object) -> Ztoc:
    """The inverse of ``ztoc_to_dict(..., raw_checkpoints=True)``.

    Every field is checked for presence and JSON type; a ConfigError names the first bad one.
    (Ranges are the encoder's to check: it knows each field's FlatBuffers type.)
    """
    top = _object(obj, "the zTOC description")
    algorithm = _field(top, "compression_algorithm", (str, type(None)), "")
    digests = _field(top, "span_digests", list, "")
    entries = _field(top, "entries", list, "")
    try:
        checkpoints = base64.b64decode(_field(top, "checkpoints_base64", str, ""), validate=True)
        compression = CompressionAlgorithm(algorithm) if algorithm else None
    except ValueError as exc:
        raise ConfigError(f"zTOC description: {exc}") from None
    return Ztoc(
        version=_field(top, "version", str, ""),
        build_tool_identifier=_field(top, "build_tool_identifier", str, ""),
        compressed_archive_size=_field(top, "compressed_archive_size", int, ""),
        uncompressed_archive_size=_field(top, "uncompressed_archive_size", int, ""),
        entries=tuple(_entry_from_dict(e, f"entries[{i}].") for i, e in enumerate(entries)),
        compression=CompressionInfo(
            algorithm=compression,
            max_span_id=_field(top, "max_span_id", int, ""),
            span_digests=tuple(_text(d, f"span_digests[{i}]") for i, d in enumerate(digests)),
            checkpoints=checkpoints,
        ),
    )


#: FileMetadata field -> JSON type (pax_records is an object of strings, checked apart).
_ENTRY_TYPES: dict[str, type] = {
    name: kind for name, kind in get_type_hints(FileMetadata).items() if name != "pax_records"
}


def _entry_from_dict(obj: object, where: str) -> FileMetadata:
    entry = _object(obj, where.rstrip("."))
    unknown = sorted(set(entry) - set(_ENTRY_TYPES) - {"pax_records"})
    if unknown:
        raise ConfigError(f"zTOC description: {where}{unknown[0]} is not a zTOC entry field")
    records = _object(entry.get("pax_records", {}), f"{where}pax_records")
    values = {name: _field(entry, name, kind, where) for name, kind in _ENTRY_TYPES.items()}
    pax = tuple(
        (key, _text(value, f"{where}pax_records[{key!r}]")) for key, value in records.items()
    )
    return FileMetadata(**values, pax_records=pax)


def _object(value: object, what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ConfigError(f"zTOC description: {what} must be a JSON object")
    return value


def _field(obj: dict[str, Any], name: str, kind: type | tuple[type, ...], where: str) -> Any:
    if name not in obj:
        raise ConfigError(f"not a complete zTOC description: {where}{name} is missing")
    value = obj[name]
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise ConfigError(f"zTOC description: {where}{name} has the wrong type: {value!r:.60}")
    return value


def _text(value: object, what: str) -> str:
    if not isinstance(value, str):
        raise ConfigError(f"zTOC description: {what} must be a string")
    return value


def _checkpoints(ztoc: Ztoc) -> Any:
    try:
        return _decoded_checkpoints(ztoc)
    except SociError as exc:  # e.g. soci's TestWriteZtoc value: 64 KiB of zeros
        return {"format": "unknown", "error": str(exc)}


def _decoded_checkpoints(ztoc: Ztoc) -> Any:
    info = ztoc.compression
    if info.algorithm is CompressionAlgorithm.UNCOMPRESSED:
        from ..ztoc.tar_zinfo import decode_tar_zinfo

        span_size, size = decode_tar_zinfo(info.checkpoints)
        return {"format": "TarZinfo", "span_size": span_size, "size": size}
    from ..gzip.zinfo_blob import decode_zinfo_blob

    span_size, points = decode_zinfo_blob(info.checkpoints)
    return {
        "format": "gzip zinfo",
        "span_size": span_size,
        "points": [
            {"in": p.compressed_offset, "out": p.uncompressed_offset, "bits": p.bits}
            for p in points
        ],
    }


def _entry(entry: FileMetadata) -> dict[str, Any]:
    fields = entry._asdict()
    fields["pax_records"] = dict(entry.pax_records)
    return fields


def ztoc_summary(ztoc: Ztoc) -> str:
    """A human-readable listing, like ``tar tv`` with offsets."""
    info = ztoc.compression
    algorithm = info.algorithm.value if info.algorithm else "(unset)"
    lines = [
        f"version:                   {ztoc.version}",
        f"build tool identifier:     {ztoc.build_tool_identifier}",
        f"compression:               {algorithm}",
        f"compressed archive size:   {ztoc.compressed_archive_size}",
        f"uncompressed archive size: {ztoc.uncompressed_archive_size}",
        f"spans:                     {info.max_span_id + 1} (max span id {info.max_span_id})",
        f"checkpoints blob:          {len(info.checkpoints)} bytes",
        f"entries:                   {len(ztoc.entries)}",
    ]
    lines += [f"  span {i}: {d}" for i, d in enumerate(info.span_digests)]
    for e in ztoc.entries:
        target = f" -> {e.linkname}" if e.linkname else ""
        lines.append(
            f"{e.type:8} {e.mode:07o} {e.uid}/{e.gid} {e.uncompressed_size:>10} "
            f"@{e.uncompressed_offset:<10} {e.mod_time} {e.name}{target}"
        )
    return "\n".join(lines) + "\n"
