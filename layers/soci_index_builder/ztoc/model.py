"""The zTOC data model (soci-format.md section 2): plain values, no I/O, no encoding.

Strings are Python ``str``; bytes that are not UTF-8 (tar names are raw bytes in Go) are kept
losslessly as surrogate escapes and encoded back with ``utf-8``/``surrogateescape``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

# Defined by the layers the zTOC is built from; re-exported as part of the zTOC model.
from ..gzip.model import WINDOW_SIZE as WINDOW_SIZE
from ..gzip.model import Checkpoint as Checkpoint
from ..tar.model import FileMetadata as FileMetadata

#: The zTOC format version every soci release writes (section 2.1).
ZTOC_VERSION = "0.9"
#: soci v0.10.0+ writes this; the same string goes into the index annotation (section 5.1).
DEFAULT_BUILD_TOOL_IDENTIFIER = "AWS SOCI CLI v0.2"
#: soci's default span: the unit of lazy fetching (section 7).
DEFAULT_SPAN_SIZE = 4 << 20


class CompressionAlgorithm(StrEnum):
    """The zTOC ``CompressionAlgorithm`` enum, by soci's lower-cased names."""

    GZIP = "gzip"
    UNCOMPRESSED = "uncompressed"


@dataclass(frozen=True, slots=True)
class CompressionInfo:
    """The zTOC ``CompressionInfo`` table.

    ``algorithm`` None means the field is absent (only soci's TestWriteZtoc golden value);
    ``checkpoints`` is the raw zinfo: the gzip blob of section 4.1 or the TarZinfo of 4.5.
    """

    algorithm: CompressionAlgorithm | None
    max_span_id: int
    span_digests: tuple[str, ...]
    checkpoints: bytes


@dataclass(frozen=True, slots=True)
class Ztoc:
    """A whole zTOC: what ``ztoc.Marshal`` serializes (section 2.1)."""

    version: str
    build_tool_identifier: str
    compressed_archive_size: int
    uncompressed_archive_size: int
    #: In tar order: a tuple, or the builder's columnar ``EntryColumns`` (tar/columns.py).
    entries: Sequence[FileMetadata]
    compression: CompressionInfo
