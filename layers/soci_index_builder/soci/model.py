"""Settings and results of a whole-image SOCI index build: values the adapters render.

A skip is data (:class:`~soci_index_builder.errors.SkipReason`), never a print: the CLI's
``--json``, the Lambda's metrics and logs all render these records.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, Protocol

from ..errors import SkipReason
from ..ztoc.model import DEFAULT_BUILD_TOOL_IDENTIFIER, DEFAULT_SPAN_SIZE

#: Layers smaller than this (compressed) are not worth lazy loading; soci's default (section 7).
DEFAULT_MIN_LAYER_SIZE = 10 << 20
#: The v2 output tag is ``<source tag><suffix>``; CI pipelines deploy ``<tag>-soci``.
DEFAULT_TAG_SUFFIX = "-soci"

IndexVersion = Literal["v1", "v2"]
LayerStatus = Literal["indexed", "skipped", "reused"]
BuildStatus = Literal["built", "skipped", "up-to-date", "dry-run"]


@dataclass(frozen=True, kw_only=True)
class IndexSettings:
    """Everything that shapes a SOCI index; the same settings always give the same digests."""

    span_size: int = DEFAULT_SPAN_SIZE
    min_layer_size: int = DEFAULT_MIN_LAYER_SIZE
    index_version: IndexVersion = "v2"
    tag_suffix: str = DEFAULT_TAG_SUFFIX
    #: ``os/arch[/variant]`` allow-list; empty means every platform of the image.
    platforms: tuple[str, ...] = ()
    recompress_zstd: bool = False
    #: Move the source tag to the SOCI-enabled index (off: never touch the source tag).
    replace_tag: bool = False
    build_tool_identifier: str = DEFAULT_BUILD_TOOL_IDENTIFIER
    #: Layers built at once (the inflater releases the GIL; 2 suits a 2-vCPU Lambda).
    max_workers: int = 2
    dry_run: bool = False


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
