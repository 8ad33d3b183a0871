"""Results of a whole-image SOCI index build: values the adapters render.

The settings that shape a build live in :mod:`.settings` (re-exported here).

A skip is data (:class:`~soci_index_builder.errors.SkipReason`), never a print: the CLI's
``--json``, the Lambda's metrics and logs all render these records.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, Protocol

from ..errors import SkipReason
from .settings import DEFAULT_MIN_LAYER_SIZE, DEFAULT_TAG_SUFFIX, IndexSettings, IndexVersion

LayerStatus = Literal["indexed", "skipped", "reused"]
BuildStatus = Literal["built", "skipped", "up-to-date", "dry-run"]

__all__ = [
    "DEFAULT_MIN_LAYER_SIZE",
    "DEFAULT_TAG_SUFFIX",
    "BuildResult",
    "IndexSettings",
    "IndexVersion",
    "LayerResult",
    "ProgressListener",
]


@dataclass(frozen=True, kw_only=True)
class LayerResult:
    """What happened to one layer (a layer shared by platforms is reported once)."""

    digest: str
    media_type: str
    size: int
    status: LayerStatus
    reason: SkipReason | None = None
    ztoc_digest: str | None = None
    ztoc_size: int | None = None
    platforms: tuple[str, ...] = ()
    seconds: float = 0.0
    #: Set when a zstd layer was recompressed: the gzip blob that replaced it in the manifest.
    recompressed_digest: str | None = None
    #: ``reused`` only: the repository whose zTOC was referenced, mounted or copied.
    reused_from: str | None = None


@dataclass(frozen=True, kw_only=True)
class BuildResult:
    """The outcome of indexing one image reference."""

    source: str
    source_digest: str
    status: BuildStatus
    reason: SkipReason | None = None
    output_tag: str | None = None
    output_digest: str | None = None
    #: platform (``os/arch[/variant]``) -> SOCI index manifest digest
    index_digests: dict[str, str] = field(default_factory=dict)
    layers: tuple[LayerResult, ...] = ()
    bytes_processed: int = 0
    seconds: float = 0.0
    uploaded_blobs: int = 0


class ProgressListener(Protocol):
    """Observer of per-layer work (CLI progress bars, Lambda logs); called from worker threads."""

    def layer_started(self, digest: str, size: int) -> None:
        """A layer blob starts streaming; ``size`` is its compressed size."""

    def layer_progress(self, digest: str, done: int) -> None:
        """``done`` compressed bytes of the layer have been read so far."""

    def layer_finished(self, result: LayerResult) -> None:
        """The layer is indexed or skipped."""
