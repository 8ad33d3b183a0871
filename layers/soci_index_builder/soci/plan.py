"""Which layers get a zTOC (soci-format.md section 5.4), decided before any byte is read.

A plan is data: the CLI prints it for ``--dry-run``, the builder executes it. A layer shared by
several platforms is planned once (built once) and remembers every platform that uses it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Protocol

from ..errors import ManifestError, SkipReason
from ..oci import mediatypes
from ..ztoc.model import CompressionAlgorithm
from .model import IndexSettings


class LayerDescriptor(Protocol):
    """The three descriptor fields a decision needs (``oci.model.Descriptor`` has them)."""

    @property
    def media_type(self) -> str: ...
    @property
    def digest(self) -> str: ...
    @property
    def size(self) -> int: ...
    @property
    def urls(self) -> tuple[str, ...]: ...


class LayerAction(StrEnum):
    """What the builder does with a layer."""

    BUILD = "build"
    #: zstd layer, ``recompress_zstd`` on: re-encode to gzip, push it, index the gzip blob.
    RECOMPRESS = "recompress"
    SKIP = "skip"


@dataclass(frozen=True)
class LayerPlan:
    """The decision for one distinct layer blob."""

    digest: str
    media_type: str
    size: int
    action: LayerAction
    compression: CompressionAlgorithm | None = None
    reason: SkipReason | None = None
    platforms: tuple[str, ...] = ()


_COMPRESSION = {
    "gzip": CompressionAlgorithm.GZIP,
    "uncompressed": CompressionAlgorithm.UNCOMPRESSED,
}


def decide_layer(layer: LayerDescriptor, settings: IndexSettings) -> LayerPlan | None:
    """Section 5.4 steps 1-4 for one layer; None for prefetch artifacts (ignored)."""
    media_type = layer.media_type
    if media_type == mediatypes.SOCI_PREFETCH:
        return None
    if not mediatypes.is_layer(media_type):
        # soci fails the whole build here: a manifest listing non-layers is not an image.
        raise ManifestError(f"layer {layer.digest} has non-layer media type {media_type!r}")

    if layer.urls and mediatypes.is_non_distributable(media_type):
        # Its bytes live at ``urls``, not in the registry (which may refuse to serve them).
        return LayerPlan(
            layer.digest,
            media_type,
            layer.size,
            LayerAction.SKIP,
            None,
            SkipReason.NON_DISTRIBUTABLE,
        )
    action, compression, reason = _classify(layer.size, media_type, settings)
    return LayerPlan(layer.digest, media_type, layer.size, action, compression, reason)


def _classify(
    size: int, media_type: str, settings: IndexSettings
) -> tuple[LayerAction, CompressionAlgorithm | None, SkipReason | None]:
    if size < settings.min_layer_size:
        return LayerAction.SKIP, None, SkipReason.BELOW_MIN_SIZE
    compression = mediatypes.layer_compression(media_type)
    if compression == "zstd":
        if settings.recompress_zstd:
            return LayerAction.RECOMPRESS, CompressionAlgorithm.GZIP, None
        return LayerAction.SKIP, None, SkipReason.ZSTD
    if compression is None:
        return LayerAction.SKIP, None, SkipReason.UNSUPPORTED_MEDIA_TYPE
    return LayerAction.BUILD, _COMPRESSION[compression], None


def plan_layers(
    platform_layers: Iterable[tuple[str, Sequence[LayerDescriptor]]], settings: IndexSettings
) -> list[LayerPlan]:
    """One plan per distinct layer digest, in first-seen order, platforms merged."""
    plans: dict[str, LayerPlan] = {}
    for platform, layers in platform_layers:
        for layer in layers:
            seen = plans.get(layer.digest)
            if seen is not None:
                if platform not in seen.platforms:
                    plans[layer.digest] = replace(seen, platforms=(*seen.platforms, platform))
                continue
            decided = decide_layer(layer, settings)
            if decided is not None:
                plans[layer.digest] = replace(decided, platforms=(platform,))
    return list(plans.values())


def is_attestation_manifest(layers: Sequence[LayerDescriptor]) -> bool:
    """buildx attestation manifests carry in-toto statements, never indexable layers."""
    return bool(layers) and all(layer.media_type == mediatypes.IN_TOTO for layer in layers)
