"""A zTOC as JSON and text (``ztoc info``), and back (``ztoc encode``).

The JSON names follow soci's ztoc.fbs. With the raw checkpoints blob included (base64), the
JSON is a complete description: decode, edit, re-encode gives byte-exact zTOCs.
"""

from __future__ import annotations

import base64
from typing import Any

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


def ztoc_from_dict(obj: dict[str, Any]) -> Ztoc:
    """The inverse of ``ztoc_to_dict(..., raw_checkpoints=True)``; ConfigError if incomplete."""
    try:
        algorithm = obj.get("compression_algorithm")
        return Ztoc(
            version=obj["version"],
            build_tool_identifier=obj["build_tool_identifier"],
            compressed_archive_size=int(obj["compressed_archive_size"]),
            uncompressed_archive_size=int(obj["uncompressed_archive_size"]),
            entries=tuple(_entry_from_dict(e) for e in obj["entries"]),
            compression=CompressionInfo(
                algorithm=CompressionAlgorithm(algorithm) if algorithm else None,
                max_span_id=int(obj["max_span_id"]),
                span_digests=tuple(obj["span_digests"]),
                checkpoints=base64.b64decode(obj["checkpoints_base64"], validate=True),
            ),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise ConfigError(f"not a complete zTOC description: {exc!r}") from exc


def _entry_from_dict(obj: dict[str, Any]) -> FileMetadata:
    fields = dict(obj)
    fields["pax_records"] = tuple(fields.get("pax_records", {}).items())
    return FileMetadata(**fields)


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
